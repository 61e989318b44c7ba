"""The notifications use cases: telling a case's chain, firing deadlines, acknowledging,
recording external deliveries. Each takes the kit's unit of work ``uow`` (``shared.db``)
and the time ``now``, asks ``domain`` what the rules say, and writes it.

Deadlines are rows. ``fire_due_deadlines`` claims due rows with a conditional update (and
``FOR UPDATE SKIP LOCKED`` on PostgreSQL) in the same transaction as their effects, so
with several replicas each deadline fires once, and a crash mid-way fires it again later
rather than half-way.
"""

from datetime import datetime, timedelta
from types import SimpleNamespace

from sqlalchemy import func, insert, or_, select, update

from services.notifications import domain, readmodel, views
from services.notifications.domain import TERMINAL_STATUSES, Recipient
from services.notifications.models import (
    audit_entries,
    cases,
    deadlines,
    deliveries,
    inbox_messages,
    notifications,
)
from shared.caller import WRITE, Caller, require_permission
from shared.errors import Forbidden, NotFound
from shared.timeutil import as_utc


class Batch:
    """The rows and events one use case writes, held back and written together by
    ``write(uow)``: one executemany per table, one outbox INSERT for the events. A deadline
    firing touches half a dozen tables; writing them per batch rather than per row is what
    keeps 100,000 open deadlines on time.

    It is no transaction (the unit of work is): it writes into one. It also keeps what
    the use case has read for these rows, so that each case is locked and each chain
    worked out once per batch.
    """

    TABLES = (cases, notifications, inbox_messages, deliveries, deadlines, audit_entries)

    def __init__(self):
        self.rows = {table.name: [] for table in self.TABLES}
        self.top_tiers = {}  # case id -> tier it escalated to, written per tier
        self.events = []  # (type, data, subject), published in order
        self.cases = {}  # case id -> its locked row; None where there is no row yet
        self.chains = {}  # (path, community) -> the chain's links

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

    def event(self, event_type, data, subject=None):
        self.events.append((event_type, data, subject))

    def escalated(self, case, tier):
        case.top_tier = tier
        self.top_tiers[case.case_id] = tier

    def pending_recipients(self, case_id) -> set:
        """(organization, kind) pairs of the notifications of ``case_id`` not written yet."""
        return {(n["organization_code"], n["recipient_kind"])
                for n in self.rows[notifications.name] if n["case_id"] == case_id}

    def write(self, uow):
        session = uow.session
        for table in self.TABLES:
            rows = self.rows[table.name]
            if rows:
                session.execute(insert(table), rows)
                rows.clear()
        for tier in set(self.top_tiers.values()):
            ids = sorted(case_id for case_id, to in self.top_tiers.items() if to == tier)
            session.execute(update(cases).where(cases.c.case_id.in_(ids))
                            .values(top_tier=tier))
        self.top_tiers.clear()
        if self.events:
            uow.publish_many(self.events)
            self.events.clear()


class Notifier:
    """The use cases, given the policy and the channels the service has (built once per
    container by ``dependencies.NotifierProvider``).

    Every public method takes the unit of work to act in and the time ``now``.
    """

    def __init__(self, policy, channels: dict, holder: str | None = None):
        self.policy = policy
        self.channels = channels
        self.holder = holder or domain.new_id()  # names this process in the rows it claims

    # --- case events ---------------------------------------------------------------------

    def open_case(self, uow, data: dict, now: datetime):
        self.open_cases(uow, [data], now)

    def open_cases(self, uow, cases_data: list[dict], now: datetime):
        """Tell each new case's chain: many cases in one unit of work (a batch of events)."""
        batch = Batch()
        self._lock_cases(uow, batch, [data["case_id"] for data in cases_data])
        for data in cases_data:
            self._open(uow, batch, data, now, "opened")
        batch.write(uow)

    def regrade_case(self, uow, data: dict, now: datetime):
        batch = Batch()
        case = self._case(uow, batch, data["case_id"])
        if case is None or case.notified_at is None:
            # The opening event has not arrived (its own queue): open at the new grade.
            self._open(uow, batch, data, now, "regraded")
        else:
            batch.audit(case.case_id, now, "regraded", previous_grade=case.grade,
                        grade=data["grade"], grade_rule=data.get("grade_rule"))
            values = domain.case_values(data)
            vars(case).update(values)
            if case.status not in TERMINAL_STATUSES:
                values.update(self._notify_grade(uow, batch, case, "regraded", now))
            _set_case(uow.session, case, **values)
            if case.status not in TERMINAL_STATUSES and case.acknowledged_at is None:
                self._restart_clock(uow, batch, case, now)
        batch.write(uow)

    def change_status(self, uow, data: dict, now: datetime):
        batch = Batch()
        session = uow.session
        case_id, status = data["case_id"], data["status"]
        case = load_case(session, case_id, lock=True)
        if case is None:
            # Kept so that a late case_opened for a rejected case notifies nobody.
            session.execute(insert(cases).values(
                case_id=case_id, status=status, received_at=now,
                **domain.case_values(dict(data, grade_rule=None))))
        else:
            _set_case(session, case, status=status, grade=data["grade"])
        batch.audit(case_id, now, "status_changed", status=status,
                    previous_status=data.get("previous_status"))
        if status in TERMINAL_STATUSES:
            stopped = cancel_open_deadlines(session, case_id, now)
            if stopped:
                batch.audit(case_id, now, "escalation_stopped", why=f"case {status}",
                            deadlines_cancelled=stopped)
        batch.write(uow)

    def acknowledge(self, uow, case_id, organization_code, recipient_kind, caller: Caller,
                    now: datetime) -> dict:
        """``organization_code`` (a notified recipient of ``recipient_kind``) acknowledges
        (签收) the case, signed by the caller's name; the first acknowledgement stops the
        escalation. The caller must be able to write within the recipient's subtree."""
        require_permission(caller, WRITE)
        batch = Batch()
        session = uow.session
        case = load_case(session, case_id, lock=True)
        if case is None:
            raise NotFound(f"no case {case_id} has been notified here", {"case_id": case_id})
        views.require_recipient_in_scope(session, caller, organization_code, recipient_kind,
                                         fallback=(case.enterprise or {}).get("path"))
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
            return domain.acknowledgement(case, notification, already=True)
        by = caller.name
        session.execute(update(notifications).where(notifications.c.id == notification.id)
                        .values(acknowledged_at=now, acknowledged_by=by))
        notification.acknowledged_at, notification.acknowledged_by = now, by
        batch.audit(case_id, now, "acknowledged", organization_code=organization_code,
                    recipient_kind=recipient_kind, tier=notification.tier, by=by)
        if case.acknowledged_at is None:
            _set_case(session, case, acknowledged_at=now, acknowledged_by=organization_code)
            stopped = cancel_open_deadlines(session, case_id, now)
            batch.audit(case_id, now, "escalation_stopped",
                        why=f"acknowledged by {organization_code} ({recipient_kind})",
                        deadlines_cancelled=stopped)
        batch.event("case_acknowledged", {
            "case_id": case_id, "organization_code": organization_code, "by": by, "at": now,
            "recipient_kind": recipient_kind, "tier": notification.tier}, subject=case_id)
        batch.write(uow)
        return domain.acknowledgement(case, notification)

    def _open(self, uow, batch, data, now, reason):
        case_id = data["case_id"]
        case = self._case(uow, batch, case_id)
        if case is not None and case.notified_at is not None:
            return  # told already (a regrade got here first, or a replayed event)
        values = domain.case_values(data)
        batch.audit(case_id, now, "case_received", grade=data["grade"],
                    grade_rule=data.get("grade_rule"), via=reason)
        if case is not None and case.status in TERMINAL_STATUSES:
            _set_case(uow.session, case, **values)
            batch.audit(case_id, now, "not_notified", why=f"case already {case.status}")
            return
        new = case is None
        if new:
            case = SimpleNamespace(**domain.new_case(case_id, data, now))
        else:
            vars(case).update(values)
        values.update(self._notify_grade(uow, batch, case, reason, now, nobody_told=new))
        if new:
            batch.add(cases, dict(vars(case)))
            batch.cases[case_id] = case
        else:
            _set_case(uow.session, case, **values)
        self._restart_clock(uow, batch, case, now, cancel=not new)

    # --- what a batch reads --------------------------------------------------------------

    def _lock_cases(self, uow, batch, case_ids):
        """Load and lock the rows of many cases in one query (in id order, so that two
        batches cannot deadlock); ``_case`` then answers from them."""
        wanted = sorted(set(case_ids) - set(batch.cases))
        if not wanted:
            return
        query = select(cases).where(cases.c.case_id.in_(wanted)).order_by(cases.c.case_id)
        found = {row.case_id: SimpleNamespace(**row._mapping)
                 for row in uow.session.execute(query.with_for_update())}
        batch.cases.update({case_id: found.get(case_id) for case_id in wanted})

    def _case(self, uow, batch, case_id):
        """The case's row, locked (None if the case has no row yet)."""
        if case_id not in batch.cases:
            batch.cases[case_id] = load_case(uow.session, case_id, lock=True)
        return batch.cases[case_id]

    def _chain(self, uow, batch, enterprise) -> list:
        key = (tuple(enterprise.get("path") or ()), enterprise["community_code"])
        if key not in batch.chains:
            batch.chains[key] = readmodel.chain(uow.session, enterprise)
        return batch.chains[key]

    def _told(self, uow, batch, case_id) -> set:
        """(organization, kind) pairs already notified of the case, pending rows included."""
        rows = uow.session.execute(select(
            notifications.c.organization_code, notifications.c.recipient_kind)
            .where(notifications.c.case_id == case_id)).all()
        return {tuple(row) for row in rows} | batch.pending_recipients(case_id)

    # --- deadlines -----------------------------------------------------------------------

    def fire_due_deadlines(self, uow, now: datetime, holder: str, limit=100,
                           only_id=None) -> list[dict]:
        """Fire up to ``limit`` due deadlines (or just ``only_id``) in this unit of work."""
        batch = Batch()
        session = uow.session
        postgres = session.bind.dialect.name == "postgresql"
        query = select(deadlines.c.id, deadlines.c.case_id).where(
            deadlines.c.state == "open", deadlines.c.due_at <= now)
        if only_id is not None:
            query = query.where(deadlines.c.id == only_id)
        due = session.execute(query.order_by(deadlines.c.due_at).limit(limit)
                              .with_for_update(skip_locked=True)).all()
        if not due:
            return []
        case_ids = {case_id for _, case_id in due}
        if postgres:
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
        if not postgres:
            known = _load_cases(session, case_ids)  # read after the claim took the write lock
        fired = []
        for deadline in sorted(claimed, key=lambda row: (as_utc(row.due_at), row.id)):
            outcome = self._fire(uow, batch, deadline, known.get(deadline.case_id), now)
            fired.append({"id": deadline.id, "case_id": deadline.case_id,
                          "kind": deadline.kind, "outcome": outcome,
                          "lateness": (now - as_utc(deadline.due_at)).total_seconds()})
        batch.write(uow)
        return fired

    def postpone_deadline(self, uow, deadline_id, error: str, now):
        """A deadline whose firing raised: try again shortly, give up after a few times."""
        batch = Batch()
        session = uow.session
        row = session.execute(select(deadlines).where(deadlines.c.id == deadline_id)).first()
        if row is None or row.state != "open":
            return
        attempts = row.attempts + 1
        values = {"attempts": attempts, "note": error[:300],
                  **domain.postponement(attempts, now)}
        session.execute(update(deadlines).where(deadlines.c.id == deadline_id)
                        .values(**values))
        batch.audit(row.case_id, now, "deadline_failed" if values.get("state") == "failed"
                    else "deadline_postponed", kind=row.kind, error=error[:300],
                    attempts=attempts)
        batch.write(uow)

    def _fire(self, uow, batch, deadline, case, now) -> str:
        if domain.is_moot(case):
            return "moot"
        if deadline.kind == "remind":
            self._remind(uow, batch, case, deadline, now)
            return "reminded"
        return self._escalate(uow, batch, case, now)

    def _escalate(self, uow, batch, case, now) -> str:
        policy = self.policy
        current = case.top_tier
        target = domain.next_link_up(policy, self._chain(uow, batch, case.enterprise), current)
        why = domain.escalation_reason(policy, case.grade, current)
        if target is None:
            batch.audit(case.case_id, now, "escalation_exhausted", tier=current, why=why,
                        reminders=policy.top_reminders)
            for deadline in domain.top_of_chain_reminders(policy, current, now):
                batch.schedule(case.case_id, **deadline)
            return "exhausted"
        # Nobody above top_tier has been told (it is the highest tier told), so no check;
        # the unique constraint on notifications would refuse a second notice anyway.
        for kind, rule in policy.on_escalation(case.grade, target.tier):
            self._notify(batch, case, domain.chain_recipient(target, kind, rule), "escalated",
                         now)
        batch.escalated(case, target.tier)
        batch.audit(case.case_id, now, "escalated", tier=target.tier, from_tier=current,
                    to_tier=target.tier, why=why)
        batch.event("case_escalated", {
            "case_id": case.case_id, "from_tier": current, "to_tier": target.tier,
            "reason": why, "grade": case.grade, "at": now}, subject=case.case_id)
        self._schedule_tier(batch, case.case_id, case.grade, target.tier, now)
        return "escalated"

    def _remind(self, uow, batch, case, deadline, now):
        batch.write(uow)  # whoever was told earlier in this batch is reminded too
        session = uow.session
        links = {link.code: link for link in self._chain(uow, batch, case.enterprise)}
        waiting = session.execute(select(notifications).where(
            notifications.c.case_id == case.case_id,
            notifications.c.acknowledged_at.is_(None)).order_by(notifications.c.notified_at)
        ).all()
        due_at = as_utc(session.execute(select(func.min(deadlines.c.due_at)).where(
            deadlines.c.case_id == case.case_id, deadlines.c.kind == "escalate",
            deadlines.c.state == "open")).scalar())
        for row in waiting:
            link = links.get(row.organization_code) if row.tier else None
            recipient = Recipient(row.organization_code, row.recipient_kind, row.tier,
                                  row.name, row.rule, link.webhooks if link else ())
            batch.audit(case.case_id, now, "reminded", organization_code=row.organization_code,
                        recipient_kind=row.recipient_kind, tier=row.tier, note=deadline.note)
            self._deliver(batch, case, row.id, recipient, "reminder", now, due_at)

    def _restart_clock(self, uow, batch, case, now, cancel=True):
        if cancel:
            cancel_open_deadlines(uow.session, case.case_id, now)
        if case.top_tier is not None:
            self._schedule_tier(batch, case.case_id, case.grade, case.top_tier, now)

    def _schedule_tier(self, batch, case_id, grade, tier, start):
        for deadline in domain.tier_deadlines(self.policy, grade, tier, start):
            batch.schedule(case_id, **deadline)

    # --- notifying -----------------------------------------------------------------------

    def _notify_grade(self, uow, batch, case, reason, now, nobody_told=False) -> dict:
        """Tell everyone the case's grade names at once who has not been told yet; returns
        the case columns that changed (also set on ``case``)."""
        policy = self.policy
        leader = None
        if domain.wants_leader(policy, case):
            leader = readmodel.leader(uow.session, case.enterprise)
            if leader is None and case.enterprise.get("key_enterprise"):
                batch.audit(case.case_id, now, "leader_unknown",
                            why="key enterprise without an assigned leader in the registry")
        recipients = domain.recipients_at_once(
            policy, case.grade, self._chain(uow, batch, case.enterprise), leader)
        if not recipients:
            batch.audit(case.case_id, now, "no_recipients",
                        why=f"no organization of the chain is named by grade {case.grade}")
        told = set() if nobody_told else self._told(uow, batch, case.case_id)
        for recipient in recipients:
            if (recipient.organization_code, recipient.kind) not in told:
                self._notify(batch, case, recipient, reason, now)
        values = domain.told_values(policy, case, recipients, now)
        vars(case).update(values)
        return values

    def _notify(self, batch, case, recipient: Recipient, reason, now):
        notification_id = domain.new_id()
        batch.add(notifications, {
            "id": notification_id, "case_id": case.case_id,
            "organization_code": recipient.organization_code,
            "recipient_kind": recipient.kind, "tier": recipient.tier, "name": recipient.name,
            "reason": reason, "rule": recipient.rule, "notified_at": now,
            "acknowledged_at": None, "acknowledged_by": None})
        batch.audit(case.case_id, now, "notified",
                    organization_code=recipient.organization_code,
                    recipient_kind=recipient.kind, tier=recipient.tier, reason=reason,
                    rule=recipient.rule)
        due_at = domain.acknowledge_by(self.policy, case.grade, now)
        self._deliver(batch, case, notification_id, recipient, "notice", now, due_at)

    def _deliver(self, batch, case, notification_id, recipient, message_kind, now, due_at):
        message = domain.message(self.policy, case, recipient, message_kind, due_at)
        for name in self.policy.channels[recipient.kind]:
            channel = self.channels[name]
            addresses = channel.addresses(recipient)
            if not addresses:
                continue
            if channel.transactional:
                channel.deliver_in(batch, recipient, message, notification_id, now)
                batch.audit(case.case_id, now, "delivered",
                            organization_code=recipient.organization_code,
                            recipient_kind=recipient.kind, channel=name, tier=recipient.tier,
                            message=message_kind)
                batch.event("notification_sent", domain.sent_event(
                    case, notification_id, recipient.organization_code, recipient.kind,
                    recipient.tier, name, True, message_kind, now), subject=case.case_id)
                continue
            for address in addresses:
                delivery_id = domain.new_id()
                batch.add(deliveries, {
                    "id": delivery_id, "notification_id": notification_id,
                    "case_id": case.case_id, "channel": name, "address": address,
                    "message_kind": message_kind,
                    "body": dict(message, delivery_id=delivery_id), "status": "pending",
                    "attempts": 0, "last_error": None, "created_at": now,
                    "next_attempt_at": now, "claimed_until": None, "claimed_by": None,
                    "finished_at": None})

    # --- the incubation hub ----------------------------------------------------------------

    def remind_incubation_deadline(self, uow, data: dict, now: datetime):
        """An incubation period nears its end: a reminder in the hub's inbox (the district
        federation's), once per period however often the event comes."""
        subject, title, message = domain.incubation_reminder(data)
        organization_code = data["home_path"][0]
        if uow.session.execute(select(notifications.c.id).where(
                notifications.c.case_id == subject,
                notifications.c.organization_code == organization_code)).first():
            return
        batch = Batch()
        notification_id = domain.new_id()
        batch.add(notifications, {
            "id": notification_id, "case_id": subject, "organization_code": organization_code,
            "recipient_kind": "union", "tier": "district", "name": None,
            "reason": "incubation", "rule": "incubation.deadline_approaching",
            "notified_at": now, "acknowledged_at": None, "acknowledged_by": None})
        batch.add(inbox_messages, {
            "organization_code": organization_code, "recipient_kind": "union",
            "case_id": subject, "subject_kind": "incubation",
            "notification_id": notification_id, "message_kind": "reminder", "title": title,
            "body": message, "created_at": now})
        batch.audit(subject, now, "notified", organization_code=organization_code,
                    recipient_kind="union", channel="inbox", reason="incubation")
        batch.write(uow)

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
        batch = Batch()
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
        action, values = domain.delivery_outcome(self.policy, attempts, error, now)
        detail = {"message": row.message_kind, "address": row.address, "attempts": attempts}
        if error is not None:
            detail["error"] = error
        if action == "delivery_retry":
            detail["retry_in"] = self.policy.webhook_retry_delays[attempts - 1]
        batch.audit(row.case_id, now, action, **detail, **where)
        session.execute(update(deliveries).where(deliveries.c.id == delivery_id)
                        .values(attempts=attempts, last_error=error, **values))
        if values.get("status"):
            case = load_case(session, row.case_id)
            batch.event("notification_sent", domain.sent_event(
                case, row.notification_id, row.organization_code, row.recipient_kind,
                row.tier, row.channel, error is None, row.message_kind, now),
                subject=row.case_id)
        batch.write(uow)


def load_case(session, case_id, lock=False):
    query = select(cases).where(cases.c.case_id == case_id)
    if lock:
        query = query.with_for_update()
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


def due_deadline_ids(session, now, limit) -> list[int]:
    """The ids of up to ``limit`` due deadlines, to fire one by one when a batch failed."""
    return session.execute(
        select(deadlines.c.id).where(deadlines.c.state == "open", deadlines.c.due_at <= now)
        .order_by(deadlines.c.due_at).limit(limit)).scalars().all()


def cancel_open_deadlines(session, case_id, now) -> int:
    return session.execute(
        update(deadlines).where(deadlines.c.case_id == case_id, deadlines.c.state == "open")
        .values(state="cancelled", fired_at=now)).rowcount
