"""What the notifications API reads: a case's notifications, its audit trail, inboxes.

A case's views take an optional ``scope`` (the caller's organization code) and answer only
callers allowed to see the case, under the gateway's rule (``services/gateway/routes/
notifications.py``): anyone in whose subtree at least one notified recipient lies, and
users at the root of the tree. The read model decides it, so the gateway asks the
registry nothing per recipient.
"""

from sqlalchemy import select

from services.notifications import readmodel
from services.notifications.domain import aware, iso, load_case
from services.notifications.models import audit_entries, deadlines, inbox_messages, notifications
from shared.errors import Forbidden, InvalidInput, NotFound


def _known(session, case_id):
    case = load_case(session, case_id)
    if case is None:
        raise NotFound(f"no case {case_id} has been notified here", {"case_id": case_id})
    return case


def require_in_scope(session, case, recipients, scope: str) -> None:
    """403 unless a recipient ``(code, recipient_kind)`` lies in ``scope``'s subtree or
    ``scope`` is the root. A leader's code is a key enterprise's: its path is the
    enterprise's. A recipient nobody knows cannot put the case in scope."""
    if not isinstance(scope, str) or not scope:
        raise InvalidInput("scope rejected", {"scope": ["an organization code"]})
    if any(code == scope for code, _ in recipients):
        return  # the caller's own organization was told: nothing to look up
    organization_paths, enterprise_paths = readmodel.current_paths(
        session, {code for code, kind in recipients if kind != "leader"} | {scope},
        {code for code, kind in recipients if kind == "leader"},
        fallback=(case.enterprise or {}).get("path"))
    for code, kind in recipients:
        path = (enterprise_paths if kind == "leader" else organization_paths).get(code)
        if scope in (path or ()):
            return
    if organization_paths.get(scope) == [scope]:
        return  # the district sees every case, even one that told nobody
    raise Forbidden(f"case {case.case_id} notified nobody within the subtree of "
                    f"organization {scope}", {"org_code": scope})


def case_audit(session, case_id, scope=None) -> list[dict]:
    """Every step for one case, in order: who was told, when, how, what escalated, why."""
    case = _known(session, case_id)
    if scope is not None:
        recipients = session.execute(
            select(notifications.c.organization_code, notifications.c.recipient_kind)
            .where(notifications.c.case_id == case_id)).all()
        require_in_scope(session, case, {tuple(row) for row in recipients}, scope)
    rows = session.execute(select(audit_entries).where(audit_entries.c.case_id == case_id)
                           .order_by(audit_entries.c.id)).all()
    return [{"at": iso(aware(row.at)), "action": row.action,
             "organization_code": row.organization_code,
             "recipient_kind": row.recipient_kind, "channel": row.channel, "tier": row.tier,
             "detail": row.detail or {}} for row in rows]


def case_view(session, case_id, scope=None) -> dict:
    case = _known(session, case_id)
    told = session.execute(select(notifications).where(notifications.c.case_id == case_id)
                           .order_by(notifications.c.notified_at, notifications.c.id)).all()
    if scope is not None:
        require_in_scope(session, case,
                         {(n.organization_code, n.recipient_kind) for n in told}, scope)
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
