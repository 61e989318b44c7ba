"""What the notifications API reads: a case's escalation, its notifications, its audit
trail, an organization's inbox. Lists are cursor pages (``shared.paging``).

Every view takes the caller (``shared.caller.Caller``; None only for the service's own
command line) and answers only what the caller may read:

- a case, its notifications and its audit: anyone in whose subtree at least one notified
  recipient lies, and users at the root of the tree;
- an inbox: users in whose subtree the organization lies (for a key enterprise's leader,
  the enterprise).

The read model of the registry decides it (``readmodel.current_paths``), so nobody asks
the registry anything per recipient.
"""

from sqlalchemy import func, select

from services.notifications import domain, readmodel
from services.notifications.models import (
    audit_entries,
    cases,
    deadlines,
    inbox_messages,
    notifications,
)
from shared.caller import READ, Caller, require_permission
from shared.errors import Forbidden, NotFound
from shared.events.disputes import GRADES
from shared.metrics import CASES_UNACKNOWLEDGED, DEADLINES_OVERDUE, set_by_label
from shared.paging import DEFAULT_LIMIT, keyset_page
from shared.timeutil import now_utc


def _known(session, case_id):
    row = session.execute(select(cases).where(cases.c.case_id == case_id)).first()
    if row is None:
        raise NotFound(f"no case {case_id} has been notified here", {"case_id": case_id})
    return row


# --- who may read ------------------------------------------------------------------------

def in_scope(session, scope: str, recipients, fallback=()) -> bool:
    """Does a recipient ``(code, recipient_kind)`` lie in ``scope``'s subtree, or is
    ``scope`` the root? A leader's code is a key enterprise's: its path is the
    enterprise's. ``fallback`` (a case's enterprise path) places codes the registry's
    events have not brought yet; a recipient nobody can place is in nobody's subtree."""
    if any(code == scope for code, _ in recipients):
        return True  # the caller's own organization: nothing to look up
    organization_paths, enterprise_paths = readmodel.current_paths(
        session, {code for code, kind in recipients if kind != "leader"} | {scope},
        {code for code, kind in recipients if kind == "leader"}, fallback=fallback)
    for code, kind in recipients:
        path = (enterprise_paths if kind == "leader" else organization_paths).get(code)
        if scope in (path or ()):
            return True
    return organization_paths.get(scope) == [scope]  # the root sees everything


def require_case_in_scope(session, case, caller: Caller | None) -> None:
    """404 unless the caller may read the case (see the module's docstring): to a caller
    in whose subtree nobody was told, the case is one that does not exist, as in
    disputes."""
    if caller is None:
        return
    require_permission(caller, READ)
    recipients = session.execute(
        select(notifications.c.organization_code, notifications.c.recipient_kind)
        .where(notifications.c.case_id == case.case_id)).all()
    scope = caller.organization_code
    if not in_scope(session, scope, {tuple(row) for row in recipients},
                    fallback=(case.enterprise or {}).get("path")):
        raise NotFound(f"no case {case.case_id}")


def require_recipient_in_scope(session, caller: Caller, code: str, recipient_kind: str,
                               fallback=()) -> None:
    """403 unless recipient ``code`` (an organization, or a leader's key enterprise) lies
    within the caller's subtree."""
    scope = caller.organization_code
    if not in_scope(session, scope, {(code, recipient_kind)}, fallback=fallback):
        what = "enterprise" if recipient_kind == "leader" else "organization"
        raise Forbidden(f"{what} {code} is outside the subtree of organization {scope}",
                        {"organization_code": scope})


# --- a case ------------------------------------------------------------------------------

def case_escalation(session, case_id, caller: Caller | None = None) -> dict:
    """Where the case's escalation stands: its grade and status, the highest tier told,
    who stopped it by acknowledging, and the deadlines still open."""
    case = _known(session, case_id)
    require_case_in_scope(session, case, caller)
    pending = session.execute(select(deadlines).where(
        deadlines.c.case_id == case_id, deadlines.c.state == "open")
        .order_by(deadlines.c.due_at, deadlines.c.id)).all()
    return {
        "case_id": case.case_id, "grade": case.grade, "status": case.status,
        "top_tier": case.top_tier, "policy_version": case.policy_version,
        "notified_at": case.notified_at, "acknowledged_at": case.acknowledged_at,
        "acknowledged_by": case.acknowledged_by,
        "open_deadlines": [{"kind": d.kind, "tier": d.tier, "due_at": d.due_at}
                           for d in pending],
    }


def _notification(row) -> dict:
    return {"organization_code": row["organization_code"],
            "recipient_kind": row["recipient_kind"], "tier": row["tier"],
            "name": row["name"], "reason": row["reason"], "rule": row["rule"],
            "notified_at": row["notified_at"], "acknowledged_at": row["acknowledged_at"],
            "acknowledged_by": row["acknowledged_by"]}


def case_notifications(session, case_id, caller: Caller | None = None, cursor=None,
                       limit=DEFAULT_LIMIT) -> dict:
    """Who was told of the case, in the order they were told, and who acknowledged."""
    case = _known(session, case_id)
    require_case_in_scope(session, case, caller)
    query = select(notifications).where(notifications.c.case_id == case_id)
    return keyset_page(session, query, (notifications.c.notified_at, notifications.c.id),
                       cursor, limit, view=_notification)


def _audit_entry(row) -> dict:
    return {"at": row["at"], "action": row["action"],
            "organization_code": row["organization_code"],
            "recipient_kind": row["recipient_kind"], "channel": row["channel"],
            "tier": row["tier"], "detail": row["detail"] or {}}


def case_audit(session, case_id, caller: Caller | None = None, cursor=None,
               limit=DEFAULT_LIMIT) -> dict:
    """Every step for one case, in order: who was told, when, how, what escalated, why."""
    case = _known(session, case_id)
    require_case_in_scope(session, case, caller)
    query = select(audit_entries).where(audit_entries.c.case_id == case_id)
    return keyset_page(session, query, (audit_entries.c.id,), cursor, limit,
                       view=_audit_entry)


# --- inboxes -----------------------------------------------------------------------------

def _message(row) -> dict:
    return {"id": row["id"], "case_id": row["case_id"], "kind": row["message_kind"],
            "subject_kind": row["subject_kind"],
            "title": row["title"], "message": row["body"], "received_at": row["created_at"],
            "acknowledged_at": row["acknowledged_at"],
            "acknowledged_by": row["acknowledged_by"]}


def inbox(session, organization_code, caller: Caller | None = None, recipient_kind="union",
          unacknowledged=False, subject_kind=None, newest_first=False, cursor=None,
          limit=DEFAULT_LIMIT) -> dict:
    """An organization's messages (notices and reminders), oldest first; ``subject_kind``:
    only those about cases, or about incubation periods. ``unacknowledged``: what still
    waits, so neither what someone here acknowledged nor a case that is over (closing a
    case acknowledges nothing, yet nothing waits for it)."""
    if caller is not None:
        require_permission(caller, READ)
        require_recipient_in_scope(session, caller, organization_code, recipient_kind)
    query = (
        select(inbox_messages, notifications.c.acknowledged_at, notifications.c.acknowledged_by)
        .join(notifications, notifications.c.id == inbox_messages.c.notification_id)
        .where(inbox_messages.c.organization_code == organization_code,
               inbox_messages.c.recipient_kind == recipient_kind)
    )
    if subject_kind is not None:
        query = query.where(inbox_messages.c.subject_kind == subject_kind)
    if unacknowledged:
        over = select(cases.c.case_id).where(cases.c.case_id == inbox_messages.c.case_id,
                                             cases.c.status.in_(domain.TERMINAL_STATUSES))
        query = query.where(notifications.c.acknowledged_at.is_(None), ~over.exists())
    return keyset_page(session, query, (inbox_messages.c.id,), cursor, limit, view=_message,
                       descending=newest_first)


# --- gauges, read when /metrics is scraped (shared.dependencies.Database's ``gauges``) --


def unacknowledged_and_overdue(session, now) -> tuple[dict, dict]:
    """(grade -> open cases someone was told of and nobody acknowledged, deadline kind ->
    open deadlines past due at ``now``)."""
    unacknowledged = dict(session.execute(
        select(cases.c.grade, func.count())
        .where(cases.c.notified_at.is_not(None), cases.c.acknowledged_at.is_(None),
               cases.c.status.not_in(domain.TERMINAL_STATUSES))
        .group_by(cases.c.grade)).all())
    overdue = dict(session.execute(
        select(deadlines.c.kind, func.count())
        .where(deadlines.c.state == "open", deadlines.c.due_at < now)
        .group_by(deadlines.c.kind)).all())
    return unacknowledged, overdue


def measure_cases_and_deadlines(session, service: str) -> None:
    unacknowledged, overdue = unacknowledged_and_overdue(session, now_utc())
    set_by_label(CASES_UNACKNOWLEDGED, service, "grade", unacknowledged, known=GRADES)
    set_by_label(DEADLINES_OVERDUE, service, "kind", overdue, known=("escalate", "remind"))
