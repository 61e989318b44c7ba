"""Who must hear of a dispute case, telling them, escalating, and the audit of it all.

Plain Python over a unit of work (``shared.db.UnitOfWork``): no nameko here. Time is
always passed in (``now``), so the rules are tested without waiting.

The rules (numbers and tiers come from the policy, ``policy.py``):

- A new case notifies, at once, the recipients its grade names along the chain of the
  enterprise's place (community/park union, street, district, each with its party
  organization), and a key enterprise's assigned leader.
- The case must be acknowledged within its grade's deadline, counted from the last time
  it went up the chain. Reminders go out at the policy's fractions of the deadline. At the
  deadline it escalates to the next tier above the highest one told; at the top of the
  chain it keeps reminding a set number of times.
- The first acknowledgement (by any notified recipient) stops escalation and reminders;
  so does the case being rejected, resolved or closed.
- A regrade notifies whoever the new grade adds and restarts the clock with the new
  grade's deadline. Nobody is ever notified of the same case twice.

Deadlines are rows. ``fire_due_deadlines`` claims due rows with a conditional update (and
``FOR UPDATE SKIP LOCKED`` on PostgreSQL) in the same transaction as their effects, so
with several replicas each deadline fires once, and a crash mid-way fires it again later
rather than half-way.
"""

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

from sqlalchemy import func, insert, or_, select, update

from services.notifications import readmodel
from services.notifications.models import (
    audit_entries,
    cases,
    deadlines,
    deliveries,
    inbox_messages,
    notifications,
)
from shared.errors import Forbidden, NotFound

TERMINAL_STATUSES = ("rejected", "resolved", "closed")

CATEGORY_LABELS = {
    "unpaid_wages": "欠薪", "unpaid_social_insurance": "欠缴社保", "relocation": "搬迁",
    "closure": "关停", "supplier_blockade": "供应商围堵", "boss_absconded": "老板走逃",
    "collective_petition": "集体上访", "other": "其他",
}
KIND_LABELS = {"union": "工会", "party": "党组织", "leader": "挂点领导"}


def aware(value: datetime | None) -> datetime | None:
    """SQLite hands datetimes back naive; everything here is UTC."""
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value


def iso(value):
    return value.isoformat() if value is not None else None


def new_id() -> str:
    return uuid.uuid4().hex


@dataclass(frozen=True)
class Recipient:
    organization_code: str
    kind: str  # union, party, leader
    tier: str | None
    name: str | None
    rule: str  # the policy rule that made them hear
    webhooks: tuple = ()


class Work:
    """One operation: its session and events, and the rows it adds, inserted together
    (one executemany per table) by ``flush``. A deadline firing touches half a dozen
    tables; writing them per batch rather than per row is what keeps 100,000 open
    deadlines on time."""

    TABLES = (cases, notifications, inbox_messages, deliveries, deadlines, audit_entries)

    def __init__(self, uow):
        self.uow = uow
        self.session = uow.session
        self.postgres = uow.session.bind.dialect.name == "postgresql"
        self.rows = {table.name: [] for table in self.TABLES}
        self.top_tiers = {}  # case id -> tier it escalated to, written per tier on flush
        self.events = []  # published in one outbox INSERT on flush, in order
        self._chains = {}
        self._cases = {}  # preloaded (locked) case rows; None where there is no row yet

    def add(self, table, values: dict):
        self.rows[table.name].append(values)

    def audit(self, case_id, at, action, *, organization_code=None, recipient_kind=None,
              channel=None, tier=None, **detail):
        self.add(audit_entries, {
            "case_id": case_id, "at": at, "action": action,
            "organization_code": organization_code, "recipient_kind": recipient_kind,
            "channel": channel, "tier": tier, "detail": detail or None})

    def schedule(self, case_id, kind, tier, due_at, note=None):
        self.add(deadlines, {"case_id": case_id, "kind": kind, "tier": tier, "due_at": due_at,
                             "state": "open", "attempts": 0, "note": note})

    def publish(self, event_type, data, subject=None):
        self.events.append((event_type, data, subject))

    def lock_cases(self, case_ids):
        """Load and lock the rows of many cases in one query (in id order, so that two
        batches cannot deadlock); ``case`` then answers from them."""
        wanted = sorted(set(case_ids) - set(self._cases))
        if not wanted:
            return
        query = select(cases).where(cases.c.case_id.in_(wanted)).order_by(cases.c.case_id)
        found = {row.case_id: SimpleNamespace(**row._mapping)
                 for row in self.session.execute(query.with_for_update())}
        self._cases.update({case_id: found.get(case_id) for case_id in wanted})

    def case(self, case_id):
        """The case's row, locked (None if the case has no row yet)."""
        if case_id not in self._cases:
            self._cases[case_id] = load_case(self.session, case_id, lock=True)
        return self._cases[case_id]

    def add_case(self, case):
        self.add(cases, dict(vars(case)))
        self._cases[case.case_id] = case

    def chain(self, enterprise) -> list:
        key = (tuple(enterprise.get("path") or ()), enterprise["community_code"])
        if key not in self._chains:
            self._chains[key] = readmodel.chain(self.session, enterprise)
        return self._chains[key]

    def told(self, case_id) -> set:
        """(organization, kind) pairs already notified of the case, pending rows included."""
        rows = self.session.execute(select(
            notifications.c.organization_code, notifications.c.recipient_kind)
            .where(notifications.c.case_id == case_id)).all()
        pending = {(n["organization_code"], n["recipient_kind"])
                   for n in self.rows["notifications"] if n["case_id"] == case_id}
        return {tuple(row) for row in rows} | pending

    def escalated(self, case, tier):
        case.top_tier = tier
        self.top_tiers[case.case_id] = tier

    def flush(self):
        for table in self.TABLES:
            rows = self.rows[table.name]
            if rows:
                self.session.execute(insert(table), rows)
                rows.clear()
        for tier in set(self.top_tiers.values()):
            ids = sorted(case_id for case_id, to in self.top_tiers.items() if to == tier)
            self.session.execute(update(cases).where(cases.c.case_id.in_(ids))
                                 .values(top_tier=tier))
        self.top_tiers.clear()
        if self.events:
            self.uow.publish_many(self.events)
            self.events.clear()


def load_case(session, case_id, lock=False, skip_locked=False):
    query = select(cases).where(cases.c.case_id == case_id)
    if lock:
        query = query.with_for_update(skip_locked=skip_locked)
    row = session.execute(query).first()
    return None if row is None else SimpleNamespace(**row._mapping)


def _load_cases(session, case_ids, lock=False) -> dict:
    query = select(cases).where(cases.c.case_id.in_(sorted(case_ids)))
    if lock:
        query = query.with_for_update(skip_locked=True)
    return {row.case_id: SimpleNamespace(**row._mapping) for row in session.execute(query)}


def _set_case(session, case, **values):
    session.execute(update(cases).where(cases.c.case_id == case.case_id).values(**values))
    vars(case).update(values)


def _case_values(data: dict) -> dict:
    enterprise = {key: (list(value) if isinstance(value, tuple) else value)
                  for key, value in dict(data["enterprise"]).items()}
    return {
        "grade": data["grade"], "grade_rule": data.get("grade_rule"),
        "category": data.get("category"), "workers_affected": data.get("workers_affected"),
        "amount_owed": data.get("amount_owed"), "expected_at": data.get("expected_at"),
        "enterprise": enterprise,
    }


class Notifier:
    """The notification rules, given the policy and the channels the service has.

    Every public method takes the unit of work to act in and the time ``now``.
    """

    def __init__(self, policy, channels: dict, holder: str | None = None):
        self.policy = policy
        self.channels = channels
        self.holder = holder or new_id()  # names this process in the rows it claims

    # --- case events ---------------------------------------------------------------------

    def open_case(self, uow, data: dict, now: datetime):
        self.open_cases(uow, [data], now)

    def open_cases(self, uow, cases_data: list[dict], now: datetime):
        """Tell each new case's chain: many cases in one unit of work (a batch of events)."""
        work = Work(uow)
        work.lock_cases([data["case_id"] for data in cases_data])
        for data in cases_data:
            self._open(work, data, now, "opened")
        work.flush()

    def regrade_case(self, uow, data: dict, now: datetime):
        work = Work(uow)
        case = work.case(data["case_id"])
        if case is None or case.notified_at is None:
            # The opening event has not arrived (its own queue): open at the new grade.
            self._open(work, data, now, "regraded")
        else:
            work.audit(case.case_id, now, "regraded", previous_grade=case.grade,
                       grade=data["grade"], grade_rule=data.get("grade_rule"))
            values = _case_values(data)
            vars(case).update(values)
            if case.status not in TERMINAL_STATUSES:
                values.update(self._notify_grade(work, case, "regraded", now))
            _set_case(work.session, case, **values)
            if case.status not in TERMINAL_STATUSES and case.acknowledged_at is None:
                self._restart_clock(work, case, now)
        work.flush()

    def change_status(self, uow, data: dict, now: datetime):
        work = Work(uow)
        case_id, status = data["case_id"], data["status"]
        case = load_case(work.session, case_id, lock=True)
        if case is None:
            # Kept so that a late case_opened for a rejected case notifies nobody.
            work.session.execute(insert(cases).values(
                case_id=case_id, status=status, received_at=now,
                **_case_values(dict(data, grade_rule=None))))
        else:
            _set_case(work.session, case, status=status, grade=data["grade"])
        work.audit(case_id, now, "status_changed", status=status,
                   previous_status=data.get("previous_status"))
        if status in TERMINAL_STATUSES:
            stopped = cancel_open_deadlines(work.session, case_id, now)
            if stopped:
                work.audit(case_id, now, "escalation_stopped", why=f"case {status}",
                           deadlines_cancelled=stopped)
        work.flush()

    def acknowledge(self, uow, case_id, organization_code, by, now, recipient_kind="union"):
        work = Work(uow)
        session = work.session
        case = load_case(session, case_id, lock=True)
        if case is None:
            raise NotFound(f"no case {case_id} has been notified here", {"case_id": case_id})
        row = session.execute(select(notifications).where(
            notifications.c.case_id == case_id,
            notifications.c.organization_code == organization_code,
            notifications.c.recipient_kind == recipient_kind,
        )).first()
        if row is None:
            raise Forbidden(
                f"{organization_code} ({recipient_kind}) was not notified of case {case_id}; "
                "only a notified recipient can acknowledge it",
                {"case_id": case_id, "organization_code": organization_code,
                 "recipient_kind": recipient_kind})
        notification = SimpleNamespace(**row._mapping)
        if notification.acknowledged_at is not None:
            return _acknowledgement(case, notification, already=True)
        session.execute(update(notifications).where(notifications.c.id == notification.id)
                        .values(acknowledged_at=now, acknowledged_by=by))
        notification.acknowledged_at, notification.acknowledged_by = now, by
        work.audit(case_id, now, "acknowledged", organization_code=organization_code,
                   recipient_kind=recipient_kind, tier=notification.tier, by=by)
        if case.acknowledged_at is None:
            _set_case(session, case, acknowledged_at=now, acknowledged_by=organization_code)
            stopped = cancel_open_deadlines(session, case_id, now)
            work.audit(case_id, now, "escalation_stopped",
                       why=f"acknowledged by {organization_code} ({recipient_kind})",
                       deadlines_cancelled=stopped)
        work.publish("case_acknowledged", {
            "case_id": case_id, "organization_code": organization_code, "by": by, "at": now,
            "recipient_kind": recipient_kind, "tier": notification.tier}, subject=case_id)
        work.flush()
        return _acknowledgement(case, notification)

    def _open(self, work, data, now, reason):
        case_id = data["case_id"]
        case = work.case(case_id)
        if case is not None and case.notified_at is not None:
            return  # told already (a regrade got here first, or a replayed event)
        values = _case_values(data)
        work.audit(case_id, now, "case_received", grade=data["grade"],
                   grade_rule=data.get("grade_rule"), via=reason)
        if case is not None and case.status in TERMINAL_STATUSES:
            _set_case(work.session, case, **values)
            work.audit(case_id, now, "not_notified", why=f"case already {case.status}")
            return
        new = case is None
        if new:
            case = SimpleNamespace(
                case_id=case_id, status="reported", received_at=now, policy_version=None,
                top_tier=None, notified_at=None, acknowledged_at=None, acknowledged_by=None,
                **values)
        else:
            vars(case).update(values)
        values.update(self._notify_grade(work, case, reason, now, nobody_told=new))
        if new:
            work.add_case(case)
        else:
            _set_case(work.session, case, **values)
        self._restart_clock(work, case, now, cancel=not new)

    # --- deadlines -----------------------------------------------------------------------

    def fire_due_deadlines(self, uow, now: datetime, holder: str, limit=100,
                           only_id=None) -> list[dict]:
        """Fire up to ``limit`` due deadlines (or just ``only_id``) in this unit of work."""
        work = Work(uow)
        session = work.session
        query = select(deadlines.c.id, deadlines.c.case_id).where(
            deadlines.c.state == "open", deadlines.c.due_at <= now)
        if only_id is not None:
            query = query.where(deadlines.c.id == only_id)
        due = session.execute(query.order_by(deadlines.c.due_at).limit(limit)
                              .with_for_update(skip_locked=True)).all()
        if not due:
            return []
        case_ids = {case_id for _, case_id in due}
        if work.postgres:
            # Cases another replica is busy with are skipped, left for the next pass.
            known = _load_cases(session, case_ids, lock=True)
            due = [(deadline_id, case_id) for deadline_id, case_id in due if case_id in known]
        # The claim: whoever turns a row from open to fired is the one who fires it.
        claimed = session.execute(
            update(deadlines)
            .where(deadlines.c.id.in_([deadline_id for deadline_id, _ in due]),
                   deadlines.c.state == "open")
            .values(state="fired", fired_at=now, fired_by=holder)
            .returning(*deadlines.c)).all() if due else []
        if not work.postgres:
            known = _load_cases(session, case_ids)  # read after the claim took the write lock
        fired = []
        for deadline in sorted(claimed, key=lambda row: (aware(row.due_at), row.id)):
            outcome = self._fire(work, deadline, known.get(deadline.case_id), now)
            fired.append({"id": deadline.id, "case_id": deadline.case_id,
                          "kind": deadline.kind, "outcome": outcome,
                          "lateness": (now - aware(deadline.due_at)).total_seconds()})
        work.flush()
        return fired

    def postpone_deadline(self, uow, deadline_id, error: str, now, max_attempts=5):
        """A deadline whose firing raised: try again shortly, give up after a few times."""
        work = Work(uow)
        row = work.session.execute(select(deadlines).where(deadlines.c.id == deadline_id)
                                   ).first()
        if row is None or row.state != "open":
            return
        attempts = row.attempts + 1
        values = {"attempts": attempts, "note": error[:300]}
        if attempts >= max_attempts:
            values.update(state="failed", fired_at=now)
        else:
            values["due_at"] = now + timedelta(seconds=2 ** attempts)
        work.session.execute(update(deadlines).where(deadlines.c.id == deadline_id)
                             .values(**values))
        work.audit(row.case_id, now, "deadline_failed" if attempts >= max_attempts
                   else "deadline_postponed", kind=row.kind, error=error[:300],
                   attempts=attempts)
        work.flush()

    def _fire(self, work, deadline, case, now) -> str:
        if case is None or case.acknowledged_at is not None or \
                case.status in TERMINAL_STATUSES:
            return "moot"
        if deadline.kind == "remind":
            self._remind(work, case, deadline, now)
            return "reminded"
        return self._escalate(work, case, now)

    def _escalate(self, work, case, now) -> str:
        policy = self.policy
        rules = policy.rules(case.grade)
        current = case.top_tier
        above = [link for link in work.chain(case.enterprise)
                 if link.tier in policy.ladder and policy.rank(link.tier) > policy.rank(current)]
        why = (f"no acknowledgement within {rules.acknowledge_within:g}s "
               f"({rules.label}) at {current}")
        if not above:
            work.audit(case.case_id, now, "escalation_exhausted", tier=current, why=why,
                       reminders=policy.top_reminders)
            for n in range(1, policy.top_reminders + 1):
                work.schedule(case.case_id, "remind", current,
                              now + timedelta(seconds=n * policy.top_remind_every),
                              "top of chain")
            return "exhausted"
        target = above[0]
        # Nobody above top_tier has been told (it is the highest tier told), so no check;
        # the unique constraint on notifications would refuse a second notice anyway.
        for kind, rule in policy.on_escalation(case.grade, target.tier):
            self._notify(work, case, _recipient(target, kind, rule), "escalated", now)
        work.escalated(case, target.tier)
        work.audit(case.case_id, now, "escalated", tier=target.tier, from_tier=current,
                   to_tier=target.tier, why=why)
        work.publish("case_escalated", {
            "case_id": case.case_id, "from_tier": current, "to_tier": target.tier,
            "reason": why, "grade": case.grade, "at": now}, subject=case.case_id)
        self._schedule_tier(work, case.case_id, case.grade, target.tier, now)
        return "escalated"

    def _remind(self, work, case, deadline, now):
        work.flush()  # whoever was told earlier in this batch is reminded too
        session = work.session
        links = {link.code: link for link in work.chain(case.enterprise)}
        waiting = session.execute(select(notifications).where(
            notifications.c.case_id == case.case_id,
            notifications.c.acknowledged_at.is_(None)).order_by(notifications.c.notified_at)
        ).all()
        due_at = aware(session.execute(select(func.min(deadlines.c.due_at)).where(
            deadlines.c.case_id == case.case_id, deadlines.c.kind == "escalate",
            deadlines.c.state == "open")).scalar())
        for row in waiting:
            link = links.get(row.organization_code) if row.tier else None
            recipient = Recipient(row.organization_code, row.recipient_kind, row.tier,
                                  row.name, row.rule, link.webhooks if link else ())
            work.audit(case.case_id, now, "reminded", organization_code=row.organization_code,
                       recipient_kind=row.recipient_kind, tier=row.tier, note=deadline.note)
            self._deliver(work, case, row.id, recipient, "reminder", now, due_at)

    def _restart_clock(self, work, case, now, cancel=True):
        if cancel:
            cancel_open_deadlines(work.session, case.case_id, now)
        if case.top_tier is not None:
            self._schedule_tier(work, case.case_id, case.grade, case.top_tier, now)

    def _schedule_tier(self, work, case_id, grade, tier, start):
        rules = self.policy.rules(grade)
        for fraction in rules.remind_at:
            work.schedule(case_id, "remind", tier,
                          start + timedelta(seconds=fraction * rules.acknowledge_within),
                          f"{fraction:.0%} of the deadline")
        work.schedule(case_id, "escalate", tier,
                      start + timedelta(seconds=rules.acknowledge_within))

    # --- notifying -----------------------------------------------------------------------

    def _notify_grade(self, work, case, reason, now, nobody_told=False) -> dict:
        """Tell everyone the case's grade names at once who has not been told yet; returns
        the case columns that changed (also set on ``case``)."""
        policy = self.policy
        recipients = [_recipient(link, kind, rule)
                      for link in work.chain(case.enterprise) if link.tier in policy.ladder
                      for kind, rule in policy.at_once(case.grade, link.tier)]
        if policy.leader_hears(case.grade) and case.enterprise.get("credit_code"):
            leader = readmodel.leader(work.session, case.enterprise)
            if leader is not None:
                recipients.append(Recipient(
                    leader.enterprise_code, "leader", None, leader.name,
                    f"policy {policy.version}: {case.grade} notifies a key enterprise's "
                    "assigned leader"))
            elif case.enterprise.get("key_enterprise"):
                work.audit(case.case_id, now, "leader_unknown",
                           why="key enterprise without an assigned leader in the registry")
        if not recipients:
            work.audit(case.case_id, now, "no_recipients",
                       why=f"no organization of the chain is named by grade {case.grade}")
        told = set() if nobody_told else work.told(case.case_id)
        for recipient in recipients:
            if (recipient.organization_code, recipient.kind) not in told:
                self._notify(work, case, recipient, reason, now)
        tiers = [r.tier for r in recipients if r.tier] + [case.top_tier] * bool(case.top_tier)
        values = {"policy_version": policy.version}
        if tiers:
            values["top_tier"] = max(tiers, key=policy.rank)
        if case.notified_at is None:
            values["notified_at"] = now
        vars(case).update(values)
        return values

    def _notify(self, work, case, recipient: Recipient, reason, now):
        notification_id = new_id()
        work.add(notifications, {
            "id": notification_id, "case_id": case.case_id,
            "organization_code": recipient.organization_code,
            "recipient_kind": recipient.kind, "tier": recipient.tier, "name": recipient.name,
            "reason": reason, "rule": recipient.rule, "notified_at": now,
            "acknowledged_at": None, "acknowledged_by": None})
        work.audit(case.case_id, now, "notified", organization_code=recipient.organization_code,
                   recipient_kind=recipient.kind, tier=recipient.tier, reason=reason,
                   rule=recipient.rule)
        due_at = now + timedelta(seconds=self.policy.rules(case.grade).acknowledge_within)
        self._deliver(work, case, notification_id, recipient, "notice", now, due_at)

    def _deliver(self, work, case, notification_id, recipient, message_kind, now, due_at):
        message = self.message(case, recipient, message_kind, due_at)
        for name in self.policy.channels[recipient.kind]:
            channel = self.channels[name]
            addresses = channel.addresses(recipient)
            if not addresses:
                continue
            if channel.transactional:
                channel.deliver_in(work, recipient, message, notification_id, now)
                work.audit(case.case_id, now, "delivered",
                           organization_code=recipient.organization_code,
                           recipient_kind=recipient.kind, channel=name, tier=recipient.tier,
                           message=message_kind)
                work.publish("notification_sent", _sent(
                    case, notification_id, recipient.organization_code, recipient.kind,
                    recipient.tier, name, True, message_kind, now), subject=case.case_id)
                continue
            for address in addresses:
                delivery_id = new_id()
                work.add(deliveries, {
                    "id": delivery_id, "notification_id": notification_id,
                    "case_id": case.case_id, "channel": name, "address": address,
                    "message_kind": message_kind,
                    "body": dict(message, delivery_id=delivery_id), "status": "pending",
                    "attempts": 0, "last_error": None, "created_at": now,
                    "next_attempt_at": now, "claimed_until": None, "claimed_by": None,
                    "finished_at": None})

    def message(self, case, recipient, message_kind, due_at) -> dict:
        label = self.policy.rules(case.grade).label
        enterprise = case.enterprise
        category = CATEGORY_LABELS.get(case.category, case.category or "")
        prefix = "【催办】" if message_kind == "reminder" else ""
        title = (f"{prefix}【{label}】{enterprise.get('name')}：{category}，"
                 f"涉及职工{case.workers_affected or 0}人，请于{_local(due_at)}前签收")
        return {
            "kind": message_kind,
            "title": title,
            "case": {
                "case_id": case.case_id, "grade": case.grade, "grade_label": label,
                "category": case.category, "category_label": category,
                "workers_affected": case.workers_affected, "amount_owed": case.amount_owed,
                "expected_at": iso(aware(case.expected_at)),
                "enterprise": {key: enterprise.get(key)
                               for key in ("credit_code", "name", "address", "community_code")},
            },
            "recipient": {"organization_code": recipient.organization_code,
                          "kind": recipient.kind, "kind_label": KIND_LABELS[recipient.kind],
                          "tier": recipient.tier, "name": recipient.name},
            "rule": recipient.rule,
            "acknowledge_by": iso(due_at),
        }

    # --- external deliveries -------------------------------------------------------------

    def claim_deliveries(self, uow, now, holder, limit=50, lease_seconds=60) -> list[dict]:
        """Lease pending deliveries that are due to this holder, to send after commit."""
        session = uow.session
        free = or_(deliveries.c.claimed_until.is_(None), deliveries.c.claimed_until < now)
        ids = session.execute(
            select(deliveries.c.id)
            .where(deliveries.c.status == "pending", deliveries.c.next_attempt_at <= now, free)
            .order_by(deliveries.c.next_attempt_at).limit(limit)
            .with_for_update(skip_locked=True)
        ).scalars().all()
        claimed = []
        for delivery_id in ids:
            row = session.execute(
                update(deliveries)
                .where(deliveries.c.id == delivery_id, deliveries.c.status == "pending", free)
                .values(claimed_until=now + timedelta(seconds=lease_seconds),
                        claimed_by=holder)
                .returning(deliveries.c.id, deliveries.c.channel, deliveries.c.address,
                           deliveries.c.body, deliveries.c.attempts)).first()
            if row is not None:
                claimed.append(dict(row._mapping))
        return claimed

    def record_delivery(self, uow, delivery_id, now, error: str | None = None):
        """The outcome of one send: delivered, retry later, or failed for good."""
        work = Work(uow)
        row = work.session.execute(
            select(deliveries, notifications.c.organization_code,
                   notifications.c.recipient_kind, notifications.c.tier)
            .join(notifications, notifications.c.id == deliveries.c.notification_id)
            .where(deliveries.c.id == delivery_id).with_for_update(of=deliveries)
        ).first()
        if row is None or row.status != "pending":
            return  # another replica recorded it (its lease ran out while we sent)
        attempts = row.attempts + 1
        where = dict(organization_code=row.organization_code, recipient_kind=row.recipient_kind,
                     channel=row.channel, tier=row.tier)
        delays = self.policy.webhook_retry_delays
        if error is None:
            values = {"status": "delivered", "finished_at": now}
            work.audit(row.case_id, now, "delivered", message=row.message_kind,
                       address=row.address, attempts=attempts, **where)
        elif attempts <= len(delays):
            values = {"next_attempt_at": now + timedelta(seconds=delays[attempts - 1]),
                      "claimed_until": None, "claimed_by": None}
            work.audit(row.case_id, now, "delivery_retry", message=row.message_kind,
                       address=row.address, attempts=attempts, error=error,
                       retry_in=delays[attempts - 1], **where)
        else:
            values = {"status": "failed", "finished_at": now}
            work.audit(row.case_id, now, "delivery_failed", message=row.message_kind,
                       address=row.address, attempts=attempts, error=error, **where)
        work.session.execute(update(deliveries).where(deliveries.c.id == delivery_id)
                             .values(attempts=attempts, last_error=error, **values))
        if values.get("status"):
            case = load_case(work.session, row.case_id)
            work.publish("notification_sent", _sent(
                case, row.notification_id, row.organization_code, row.recipient_kind,
                row.tier, row.channel, error is None, row.message_kind, now),
                subject=row.case_id)
        work.flush()


def _recipient(link, kind, rule) -> Recipient:
    return Recipient(link.code, kind, link.tier, link.label(kind), rule, link.webhooks)


def due_deadline_ids(session, now, limit) -> list[int]:
    return session.execute(
        select(deadlines.c.id).where(deadlines.c.state == "open", deadlines.c.due_at <= now)
        .order_by(deadlines.c.due_at).limit(limit)).scalars().all()


def cancel_open_deadlines(session, case_id, now) -> int:
    return session.execute(
        update(deadlines).where(deadlines.c.case_id == case_id, deadlines.c.state == "open")
        .values(state="cancelled", fired_at=now)).rowcount


def _sent(case, notification_id, organization_code, kind, tier, channel, delivered,
          message_kind, now):
    return {"case_id": case.case_id, "organization_code": organization_code,
            "recipient_kind": kind, "channel": channel, "tier": tier, "delivered": delivered,
            "notification_id": notification_id, "kind": message_kind, "grade": case.grade,
            "at": now}


def _local(value):
    # Shenzhen is UTC+8 all year; labels for people read local time.
    return (value + timedelta(hours=8)).strftime("%Y-%m-%d %H:%M") if value else "尽快"


def _acknowledgement(case, notification, already=False):
    return {
        "case_id": case.case_id, "organization_code": notification.organization_code,
        "recipient_kind": notification.recipient_kind, "tier": notification.tier,
        "acknowledged_at": iso(aware(notification.acknowledged_at)),
        "acknowledged_by": notification.acknowledged_by,
        "case_acknowledged_by": case.acknowledged_by, "already_acknowledged": already,
    }
