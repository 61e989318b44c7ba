"""What the notifications API reads: a case's notifications, its audit trail, inboxes."""

from sqlalchemy import select

from services.notifications.domain import aware, iso, load_case
from services.notifications.models import audit_entries, deadlines, inbox_messages, notifications
from shared.errors import NotFound


def _known(session, case_id):
    case = load_case(session, case_id)
    if case is None:
        raise NotFound(f"no case {case_id} has been notified here", {"case_id": case_id})
    return case


def case_audit(session, case_id) -> list[dict]:
    """Every step for one case, in order: who was told, when, how, what escalated, why."""
    _known(session, case_id)
    rows = session.execute(select(audit_entries).where(audit_entries.c.case_id == case_id)
                           .order_by(audit_entries.c.id)).all()
    return [{"at": iso(aware(row.at)), "action": row.action,
             "organization_code": row.organization_code,
             "recipient_kind": row.recipient_kind, "channel": row.channel, "tier": row.tier,
             "detail": row.detail or {}} for row in rows]


def case_view(session, case_id) -> dict:
    case = _known(session, case_id)
    told = session.execute(select(notifications).where(notifications.c.case_id == case_id)
                           .order_by(notifications.c.notified_at, notifications.c.id)).all()
    pending = session.execute(select(deadlines).where(
        deadlines.c.case_id == case_id, deadlines.c.state == "open")
        .order_by(deadlines.c.due_at)).all()
    return {
        "case_id": case.case_id, "grade": case.grade, "status": case.status,
        "top_tier": case.top_tier, "policy_version": case.policy_version,
        "notified_at": iso(aware(case.notified_at)),
        "acknowledged_at": iso(aware(case.acknowledged_at)),
        "acknowledged_by": case.acknowledged_by,
        "notifications": [{
            "organization_code": n.organization_code, "recipient_kind": n.recipient_kind,
            "tier": n.tier, "name": n.name, "reason": n.reason, "rule": n.rule,
            "notified_at": iso(aware(n.notified_at)),
            "acknowledged_at": iso(aware(n.acknowledged_at)),
            "acknowledged_by": n.acknowledged_by} for n in told],
        "open_deadlines": [{"kind": d.kind, "tier": d.tier, "due_at": iso(aware(d.due_at))}
                           for d in pending],
    }


def inbox(session, organization_code, recipient_kind="union", unacknowledged=False,
          after_id=0, limit=50) -> list[dict]:
    """An organization's messages (notices and reminders), oldest first, pageable by id."""
    query = (
        select(inbox_messages, notifications.c.acknowledged_at, notifications.c.acknowledged_by)
        .join(notifications, notifications.c.id == inbox_messages.c.notification_id)
        .where(inbox_messages.c.organization_code == organization_code,
               inbox_messages.c.recipient_kind == recipient_kind,
               inbox_messages.c.id > after_id)
        .order_by(inbox_messages.c.id).limit(limit)
    )
    if unacknowledged:
        query = query.where(notifications.c.acknowledged_at.is_(None))
    return [{"id": row.id, "case_id": row.case_id, "kind": row.message_kind,
             "title": row.title, "message": row.body,
             "received_at": iso(aware(row.created_at)),
             "acknowledged_at": iso(aware(row.acknowledged_at)),
             "acknowledged_by": row.acknowledged_by}
            for row in session.execute(query)]
