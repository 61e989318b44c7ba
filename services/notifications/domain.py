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

from sqlalchemy import and_, func, insert, or_, select, update

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


def audit(session, case_id, at, action, *, organization_code=None, recipient_kind=None,
          channel=None, tier=None, **detail):
    session.execute(insert(audit_entries).values(
        case_id=case_id, at=at, action=action, organization_code=organization_code,
        recipient_kind=recipient_kind, channel=channel, tier=tier, detail=detail or None,
    ))


def _case(session, case_id, lock=False, skip_locked=False):
    query = select(cases).where(cases.c.case_id == case_id)
    if lock:
        query = query.with_for_update(skip_locked=skip_locked)
    return session.execute(query).first()


def _case_values(data: dict) -> dict:
    return {
        "grade": data["grade"], "grade_rule": data.get("grade_rule"),
        "category": data.get("category"), "workers_affected": data.get("workers_affected"),
        "amount_owed": data.get("amount_owed"), "expected_at": data.get("expected_at"),
        "enterprise": _jsonable(data["enterprise"]),
    }


def _jsonable(enterprise: dict) -> dict:
    return {key: (list(value) if isinstance(value, tuple) else value)
            for key, value in dict(enterprise).items()}


class Notifier:
    """The notification rules, given the policy and the channels the service has."""

    def __init__(self, policy, channels: dict):
        self.policy = policy
        self.channels = channels

    # --- case events ---------------------------------------------------------------------

    def open_case(self, uow, data: dict, now: datetime, reason="opened"):
        session = uow.session
        case_id = data["case_id"]
        case = _case(session, case_id, lock=True)
        if case is not None and case.notified_at is not None:
            return  # told already (a regrade got here first, or a replayed event)
        if case is None:
            session.execute(insert(cases).values(
                case_id=case_id, status="reported", received_at=now, **_case_values(data)))
        else:
            session.execute(update(cases).where(cases.c.case_id == case_id)
                            .values(**_case_values(data)))
        audit(session, case_id, now, "case_received", grade=data["grade"],
              grade_rule=data.get("grade_rule"), via=reason)
        case = _case(session, case_id)
        if case.status in TERMINAL_STATUSES:
            audit(session, case_id, now, "not_notified", why=f"case already {case.status}")
            return
        self._notify_grade(uow, case, reason, now)
        self._restart_clock(session, case_id, now)

    def regrade_case(self, uow, data: dict, now: datetime):
        session = uow.session
        case = _case(session, data["case_id"], lock=True)
        if case is None or case.notified_at is None:
            # The opening event has not arrived (its own queue): open at the new grade.
            return self.open_case(uow, data, now, reason="regraded")
        audit(session, case.case_id, now, "regraded", previous_grade=case.grade,
              grade=data["grade"], grade_rule=data.get("grade_rule"))
        session.execute(update(cases).where(cases.c.case_id == case.case_id)
                        .values(**_case_values(data)))
        case = _case(session, case.case_id)
        if case.status in TERMINAL_STATUSES:
            return
        self._notify_grade(uow, case, "regraded", now)
        if case.acknowledged_at is None:
            self._restart_clock(session, case.case_id, now)

    def change_status(self, uow, data: dict, now: datetime):
        session = uow.session
        case_id, status = data["case_id"], data["status"]
        case = _case(session, case_id, lock=True)
        if case is None:
            # Kept so that a late case_opened for a rejected case notifies nobody.
            session.execute(insert(cases).values(
                case_id=case_id, grade=data["grade"], enterprise=_jsonable(data["enterprise"]),
                status=status, received_at=now))
        else:
            session.execute(update(cases).where(cases.c.case_id == case_id)
                            .values(status=status, grade=data["grade"]))
        audit(session, case_id, now, "status_changed", status=status,
              previous_status=data.get("previous_status"))
        if status in TERMINAL_STATUSES:
            stopped = cancel_open_deadlines(session, case_id, now)
            if stopped:
                audit(session, case_id, now, "escalation_stopped", why=f"case {status}",
                      deadlines_cancelled=stopped)

    def acknowledge(self, uow, case_id, organization_code, by, now, recipient_kind="union"):
        session = uow.session
        case = _case(session, case_id, lock=True)
        if case is None:
            raise NotFound(f"no case {case_id} has been notified here",
                           {"case_id": case_id})
        notification = session.execute(select(notifications).where(
            notifications.c.case_id == case_id,
            notifications.c.organization_code == organization_code,
            notifications.c.recipient_kind == recipient_kind,
        )).first()
        if notification is None:
            raise Forbidden(
                f"{organization_code} ({recipient_kind}) was not notified of case {case_id}; "
                "only a notified recipient can acknowledge it",
                {"case_id": case_id, "organization_code": organization_code,
                 "recipient_kind": recipient_kind})
        if notification.acknowledged_at is not None:
            return _acknowledgement(case, notification, already=True)
        session.execute(update(notifications).where(notifications.c.id == notification.id)
                        .values(acknowledged_at=now, acknowledged_by=by))
        audit(session, case_id, now, "acknowledged", organization_code=organization_code,
              recipient_kind=recipient_kind, tier=notification.tier, by=by)
        if case.acknowledged_at is None:
            session.execute(update(cases).where(cases.c.case_id == case_id)
                            .values(acknowledged_at=now, acknowledged_by=organization_code))
            stopped = cancel_open_deadlines(session, case_id, now)
            audit(session, case_id, now, "escalation_stopped",
                  why=f"acknowledged by {organization_code} ({recipient_kind})",
                  deadlines_cancelled=stopped)
        uow.publish("case_acknowledged", {
            "case_id": case_id, "organization_code": organization_code, "by": by, "at": now,
            "recipient_kind": recipient_kind, "tier": notification.tier,
        }, subject=case_id)
        return _acknowledgement(_case(session, case_id),
                                session.execute(select(notifications).where(
                                    notifications.c.id == notification.id)).first())

    # --- deadlines -----------------------------------------------------------------------

    def fire_due_deadlines(self, uow, now: datetime, holder: str, limit=200,
                           only_id=None) -> list[dict]:
        """Fire up to ``limit`` due deadlines (or just ``only_id``) in this unit of work."""
        session = uow.session
        postgres = session.bind.dialect.name == "postgresql"
        query = select(deadlines.c.id, deadlines.c.case_id).where(
            deadlines.c.state == "open", deadlines.c.due_at <= now)
        if only_id is not None:
            query = query.where(deadlines.c.id == only_id)
        due = session.execute(query.order_by(deadlines.c.due_at).limit(limit)
                              .with_for_update(skip_locked=True)).all()
        fired = []
        for deadline_id, case_id in due:
            # Another replica busy with this case (PostgreSQL): leave it for the next pass.
            if postgres and _case(session, case_id, lock=True, skip_locked=True) is None:
                continue
            # The claim: whoever turns the row from open to fired is the one who fires it.
            claimed = session.execute(
                update(deadlines).where(deadlines.c.id == deadline_id,
                                        deadlines.c.state == "open")
                .values(state="fired", fired_at=now, fired_by=holder)
            ).rowcount
            if not claimed:
                continue
            deadline = session.execute(select(deadlines).where(deadlines.c.id == deadline_id)
                                       ).first()
            outcome = self._fire(uow, deadline, _case(session, case_id), now)
            fired.append({"id": deadline_id, "case_id": case_id, "kind": deadline.kind,
                          "outcome": outcome,
                          "lateness": (now - aware(deadline.due_at)).total_seconds()})
        return fired

    def postpone_deadline(self, uow, deadline_id, error: str, now, max_attempts=5):
        """A deadline whose firing raised: try again shortly, give up after a few times."""
        session = uow.session
        row = session.execute(select(deadlines).where(deadlines.c.id == deadline_id)).first()
        if row is None or row.state != "open":
            return
        attempts = row.attempts + 1
        values = {"attempts": attempts, "note": error[:300]}
        if attempts >= max_attempts:
            values.update(state="failed", fired_at=now)
        else:
            values["due_at"] = now + timedelta(seconds=2 ** attempts)
        session.execute(update(deadlines).where(deadlines.c.id == deadline_id).values(**values))
        audit(session, row.case_id, now, "deadline_failed" if attempts >= max_attempts
              else "deadline_postponed", kind=row.kind, error=error[:300], attempts=attempts)

    def _fire(self, uow, deadline, case, now) -> str:
        if case is None or case.acknowledged_at is not None or \
                case.status in TERMINAL_STATUSES:
            return "moot"
        if deadline.kind == "remind":
            self._remind(uow, case, deadline, now)
            return "reminded"
        return self._escalate(uow, case, deadline, now)

    def _escalate(self, uow, case, deadline, now) -> str:
        session, policy = uow.session, self.policy
        rules = policy.rules(case.grade)
        current = case.top_tier
        links = [link for link in readmodel.chain(session, case.enterprise)
                 if link.tier in policy.ladder]
        above = [link for link in links if policy.rank(link.tier) > policy.rank(current)]
        why = (f"no acknowledgement within {rules.acknowledge_within:g}s "
               f"({rules.label}) at {current}")
        if not above:
            audit(session, case.case_id, now, "escalation_exhausted", tier=current, why=why,
                  reminders=policy.top_reminders)
            for n in range(1, policy.top_reminders + 1):
                _schedule(session, case.case_id, "remind", current,
                          now + timedelta(seconds=n * policy.top_remind_every), "top of chain")
            return "exhausted"
        target = above[0]
        for kind, rule in policy.on_escalation(case.grade, target.tier):
            self._notify(uow, case, _recipient(target, kind, rule), "escalated", now)
        session.execute(update(cases).where(cases.c.case_id == case.case_id)
                        .values(top_tier=target.tier))
        audit(session, case.case_id, now, "escalated", tier=target.tier, from_tier=current,
              to_tier=target.tier, why=why)
        uow.publish("case_escalated", {
            "case_id": case.case_id, "from_tier": current, "to_tier": target.tier,
            "reason": why, "grade": case.grade, "at": now}, subject=case.case_id)
        self._schedule_tier(session, case.case_id, case.grade, target.tier, now)
        return "escalated"

    def _remind(self, uow, case, deadline, now):
        session = uow.session
        links = {link.code: link for link in readmodel.chain(session, case.enterprise)}
        waiting = session.execute(select(notifications).where(
            notifications.c.case_id == case.case_id,
            notifications.c.acknowledged_at.is_(None)).order_by(notifications.c.notified_at)
        ).all()
        due_at = _escalation_due(session, case.case_id)
        for row in waiting:
            link = links.get(row.organization_code)
            recipient = Recipient(row.organization_code, row.recipient_kind, row.tier, row.name,
                                  row.rule, link.webhooks if link and row.tier else ())
            audit(session, case.case_id, now, "reminded",
                  organization_code=row.organization_code, recipient_kind=row.recipient_kind,
                  tier=row.tier, note=deadline.note)
            self._deliver(uow, case, row.id, recipient, "reminder", now, due_at)

    def _restart_clock(self, session, case_id, now):
        case = _case(session, case_id)
        cancel_open_deadlines(session, case_id, now)
        if case.top_tier is not None:
            self._schedule_tier(session, case_id, case.grade, case.top_tier, now)

    def _schedule_tier(self, session, case_id, grade, tier, start):
        rules = self.policy.rules(grade)
        for fraction in rules.remind_at:
            _schedule(session, case_id, "remind", tier,
                      start + timedelta(seconds=fraction * rules.acknowledge_within),
                      f"{fraction:.0%} of the deadline")
        _schedule(session, case_id, "escalate", tier,
                  start + timedelta(seconds=rules.acknowledge_within), None)

    # --- notifying -----------------------------------------------------------------------

    def _notify_grade(self, uow, case, reason, now):
        """Tell everyone the case's grade names at once who has not been told yet."""
        session, policy = uow.session, self.policy
        links = [link for link in readmodel.chain(session, case.enterprise)
                 if link.tier in policy.ladder]
        recipients = [_recipient(link, kind, rule)
                      for link in links for kind, rule in policy.at_once(case.grade, link.tier)]
        if policy.leader_hears(case.grade):
            leader = readmodel.leader(session, case.enterprise)
            if leader is not None:
                recipients.append(Recipient(
                    leader.enterprise_code, "leader", None, leader.name,
                    f"policy {policy.version}: {case.grade} notifies a key enterprise's "
                    "assigned leader"))
            elif case.enterprise.get("key_enterprise"):
                audit(session, case.case_id, now, "leader_unknown",
                      why="key enterprise without an assigned leader in the registry")
        if not recipients:
            audit(session, case.case_id, now, "no_recipients",
                  why=f"no organization of the chain is named by grade {case.grade}")
        for recipient in recipients:
            self._notify(uow, case, recipient, reason, now)
        tiers = [r.tier for r in recipients if r.tier] + ([case.top_tier] if case.top_tier
                                                           else [])
        values = {"policy_version": policy.version}
        if tiers:
            values["top_tier"] = max(tiers, key=policy.rank)
        if case.notified_at is None:
            values["notified_at"] = now
        session.execute(update(cases).where(cases.c.case_id == case.case_id).values(**values))

    def _notify(self, uow, case, recipient: Recipient, reason, now) -> str | None:
        session = uow.session
        exists = session.execute(select(notifications.c.id).where(
            notifications.c.case_id == case.case_id,
            notifications.c.organization_code == recipient.organization_code,
            notifications.c.recipient_kind == recipient.kind)).first()
        if exists:
            return None
        notification_id = new_id()
        session.execute(insert(notifications).values(
            id=notification_id, case_id=case.case_id,
            organization_code=recipient.organization_code, recipient_kind=recipient.kind,
            tier=recipient.tier, name=recipient.name, reason=reason, rule=recipient.rule,
            notified_at=now))
        audit(session, case.case_id, now, "notified",
              organization_code=recipient.organization_code, recipient_kind=recipient.kind,
              tier=recipient.tier, reason=reason, rule=recipient.rule)
        due_at = now + timedelta(seconds=self.policy.rules(case.grade).acknowledge_within)
        self._deliver(uow, case, notification_id, recipient, "notice", now, due_at)
        return notification_id

    def _deliver(self, uow, case, notification_id, recipient, message_kind, now, due_at):
        session = uow.session
        message = self.message(case, recipient, message_kind, due_at)
        for name in self.policy.channels[recipient.kind]:
            channel = self.channels[name]
            addresses = channel.addresses(recipient)
            if channel.transactional:
                if not addresses:
                    continue
                channel.deliver_in(session, recipient, message, notification_id, now)
                audit(session, case.case_id, now, "delivered",
                      organization_code=recipient.organization_code,
                      recipient_kind=recipient.kind, channel=name, tier=recipient.tier,
                      message=message_kind)
                uow.publish("notification_sent", _sent(
                    case, notification_id, recipient.organization_code, recipient.kind,
                    recipient.tier, name, True, message_kind, now), subject=case.case_id)
                continue
            for address in addresses:
                delivery_id = new_id()
                session.execute(insert(deliveries).values(
                    id=delivery_id, notification_id=notification_id, case_id=case.case_id,
                    channel=name, address=address, message_kind=message_kind,
                    body=dict(message, delivery_id=delivery_id), status="pending",
                    attempts=0, created_at=now, next_attempt_at=now))

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
                "expected_at": _iso(aware(case.expected_at)),
                "enterprise": {key: enterprise.get(key)
                               for key in ("credit_code", "name", "address", "community_code")},
            },
            "recipient": {"organization_code": recipient.organization_code,
                          "kind": recipient.kind, "kind_label": KIND_LABELS[recipient.kind],
                          "tier": recipient.tier, "name": recipient.name},
            "rule": recipient.rule,
            "acknowledge_by": _iso(due_at),
        }

    # --- external deliveries -------------------------------------------------------------

    def claim_deliveries(self, uow, now, holder, limit=50, lease_seconds=60) -> list[dict]:
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
            won = session.execute(
                update(deliveries)
                .where(deliveries.c.id == delivery_id, deliveries.c.status == "pending", free)
                .values(claimed_until=now + timedelta(seconds=lease_seconds),
                        claimed_by=holder)).rowcount
            if won:
                row = session.execute(select(deliveries).where(deliveries.c.id == delivery_id)
                                      ).first()
                claimed.append({"id": row.id, "channel": row.channel, "address": row.address,
                                "body": row.body, "attempts": row.attempts})
        return claimed

    def record_delivery(self, uow, delivery_id, now, error: str | None = None):
        session = uow.session
        row = session.execute(
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
            audit(session, row.case_id, now, "delivered", message=row.message_kind,
                  address=row.address, attempts=attempts, **where)
        elif attempts <= len(delays):
            values = {"next_attempt_at": now + timedelta(seconds=delays[attempts - 1]),
                      "claimed_until": None, "claimed_by": None}
            audit(session, row.case_id, now, "delivery_retry", message=row.message_kind,
                  address=row.address, attempts=attempts, error=error,
                  retry_in=delays[attempts - 1], **where)
        else:
            values = {"status": "failed", "finished_at": now}
            audit(session, row.case_id, now, "delivery_failed", message=row.message_kind,
                  address=row.address, attempts=attempts, error=error, **where)
        session.execute(update(deliveries).where(deliveries.c.id == delivery_id)
                        .values(attempts=attempts, last_error=error, **values))
        if values.get("status"):
            case = _case(session, row.case_id)
            uow.publish("notification_sent", _sent(
                case, row.notification_id, row.organization_code, row.recipient_kind,
                row.tier, row.channel, error is None, row.message_kind, now),
                subject=row.case_id)


# --- helpers and queries -----------------------------------------------------------------

def _recipient(link, kind, rule) -> Recipient:
    return Recipient(link.code, kind, link.tier, link.label(kind), rule, link.webhooks)


def _schedule(session, case_id, kind, tier, due_at, note):
    session.execute(insert(deadlines).values(
        case_id=case_id, kind=kind, tier=tier, due_at=due_at, state="open", attempts=0,
        note=note))


def _escalation_due(session, case_id):
    due = session.execute(select(func.min(deadlines.c.due_at)).where(
        deadlines.c.case_id == case_id, deadlines.c.kind == "escalate",
        deadlines.c.state == "open")).scalar()
    return aware(due)


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


def _iso(value):
    return value.isoformat() if value is not None else None


def _local(value):
    # Shenzhen is UTC+8 all year; labels for people read local time.
    return (value + timedelta(hours=8)).strftime("%Y-%m-%d %H:%M") if value else "尽快"


def _acknowledgement(case, notification, already=False):
    return {
        "case_id": case.case_id, "organization_code": notification.organization_code,
        "recipient_kind": notification.recipient_kind, "tier": notification.tier,
        "acknowledged_at": _iso(aware(notification.acknowledged_at)),
        "acknowledged_by": notification.acknowledged_by,
        "case_acknowledged_by": case.acknowledged_by, "already_acknowledged": already,
    }


def case_audit(session, case_id) -> list[dict]:
    if _case(session, case_id) is None:
        raise NotFound(f"no case {case_id} has been notified here", {"case_id": case_id})
    rows = session.execute(select(audit_entries).where(audit_entries.c.case_id == case_id)
                           .order_by(audit_entries.c.id)).all()
    return [{"at": _iso(aware(row.at)), "action": row.action,
             "organization_code": row.organization_code,
             "recipient_kind": row.recipient_kind, "channel": row.channel, "tier": row.tier,
             "detail": row.detail or {}} for row in rows]


def case_view(session, case_id) -> dict:
    case = _case(session, case_id)
    if case is None:
        raise NotFound(f"no case {case_id} has been notified here", {"case_id": case_id})
    told = session.execute(select(notifications).where(notifications.c.case_id == case_id)
                           .order_by(notifications.c.notified_at, notifications.c.id)).all()
    pending = session.execute(select(deadlines).where(
        deadlines.c.case_id == case_id, deadlines.c.state == "open")
        .order_by(deadlines.c.due_at)).all()
    return {
        "case_id": case.case_id, "grade": case.grade, "status": case.status,
        "top_tier": case.top_tier, "policy_version": case.policy_version,
        "notified_at": _iso(aware(case.notified_at)),
        "acknowledged_at": _iso(aware(case.acknowledged_at)),
        "acknowledged_by": case.acknowledged_by,
        "notifications": [{
            "organization_code": n.organization_code, "recipient_kind": n.recipient_kind,
            "tier": n.tier, "name": n.name, "reason": n.reason, "rule": n.rule,
            "notified_at": _iso(aware(n.notified_at)),
            "acknowledged_at": _iso(aware(n.acknowledged_at)),
            "acknowledged_by": n.acknowledged_by} for n in told],
        "open_deadlines": [{"kind": d.kind, "tier": d.tier, "due_at": _iso(aware(d.due_at))}
                           for d in pending],
    }


def inbox(session, organization_code, recipient_kind="union", unacknowledged=False,
          after_id=0, limit=50) -> list[dict]:
    query = (
        select(inbox_messages, notifications.c.acknowledged_at, notifications.c.acknowledged_by)
        .join(notifications, notifications.c.id == inbox_messages.c.notification_id)
        .where(inbox_messages.c.organization_code == organization_code,
               inbox_messages.c.recipient_kind == recipient_kind,
               inbox_messages.c.id > after_id)
        .order_by(inbox_messages.c.id).limit(limit)
    )
    if unacknowledged:
        query = query.where(and_(notifications.c.acknowledged_at.is_(None)))
    return [{"id": row.id, "case_id": row.case_id, "kind": row.message_kind,
             "title": row.title, "message": row.body,
             "received_at": _iso(aware(row.created_at)),
             "acknowledged_at": _iso(aware(row.acknowledged_at)),
             "acknowledged_by": row.acknowledged_by}
            for row in session.execute(query)]
