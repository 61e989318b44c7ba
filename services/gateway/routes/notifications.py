"""Routes backed by the notifications service: an organization's inbox, acknowledging a
case (签收) on behalf of a notified organization, a case's escalation, its notifications
and its audit.

Needs ``self.notifications_rpc`` (a ``BackendRpc("notifications")``), ``self.registry_rpc``
and ``self.auth``; uses ``RegistryRoutes``' lookups for the scope of an inbox or an
acknowledgement (one registry call: the organization named). Request and answer schemas
are the notifications service's RPC contract (``shared/api/notifications.py``); the
service's answers arrive dumped by it and are sent on as they are.

Scope follows the registry's ``path``, as everywhere in the gateway:

- an inbox, or an acknowledgement, names an organization (for a key enterprise's
  assigned leader, ``recipient_kind=leader``, the enterprise's credit code): it must lie
  within the caller's subtree;
- a case's escalation, notifications and audit may be read by anyone in whose subtree at
  least one notified recipient lies (the notifications service knows whom it told, not
  the case's enterprise path), and by users at the root of the tree; to anyone else
  the case is one that does not exist (404), as in disputes. The notifications service
  decides it, given the caller, from its read model of the registry
  (``services/notifications/views.py``): the gateway makes no registry call per
  recipient.

Acknowledging is a write (staff, admin); the caller's user name is recorded as who signed.
"""

from services.gateway.api import route
from services.gateway.auth import READ, WRITE
from services.gateway.routes.disputes import case_id_of
from services.gateway.routes.registry import V1, known_code
from shared.api.notifications import (
    AcknowledgementInSchema,
    AcknowledgementSchema,
    AuditEntryPageSchema,
    CaseEscalationSchema,
    CaseNotificationPageSchema,
    InboxMessagePageSchema,
    InboxQuerySchema,
)
from shared.paging import CursorQuery
from shared.web import json_response, read_json, read_query

NOTIFICATIONS = "notifications"
CASES = f"{V1}/cases/<case_id>"


class NotificationsRoutes:
    api_tags = [
        {"name": NOTIFICATIONS, "description": "Early-warning notices up the party-union "
                                               "chain: inboxes, acknowledgement (签收), "
                                               "each case's escalation, notifications and "
                                               "audit."},
    ]

    # --- helpers ----------------------------------------------------------------------

    def _recipient_for(self, user, code, recipient_kind):
        """Scope check of a recipient: an organization, or a leader's key enterprise."""
        if recipient_kind == "leader":
            return self._enterprise_for(user, code)
        return self._organization_for(user, code)

    # --- routes -----------------------------------------------------------------------

    @route("GET", f"{V1}/organizations/<code>/inbox", tag=NOTIFICATIONS, access=READ,
           summary="An organization's inbox: notices and reminders, oldest first",
           description="With recipient_kind=party, the messages to the organization's party "
                       "organization; with leader, code is a key enterprise's credit code.",
           query=InboxQuerySchema, response=InboxMessagePageSchema)
    def notification_inbox(self, request, code):
        user = self.auth.user(request, READ)
        query = read_query(request, InboxQuerySchema())
        self._recipient_for(user, known_code(code, "organization"), query["recipient_kind"])
        return json_response(self.notifications_rpc.inbox(code, user.caller(), query))

    @route("POST", f"{CASES}/acknowledgements", tag=NOTIFICATIONS, access=WRITE, status=201,
           summary="Acknowledge (签收) a case for a notified organization; stops escalation",
           description="201 for the first acknowledgement by this organization, 200 (with "
                       "already_acknowledged) for a repeat. 403 also when the organization "
                       "was not notified of the case.",
           body=AcknowledgementInSchema, response=AcknowledgementSchema,
           extra={"responses": {"200": {
               "description": "a repeat: the first acknowledgement, already_acknowledged",
               "content": {"application/json": {"schema": AcknowledgementSchema}}}}})
    def acknowledge_case(self, request, case_id):
        user = self.auth.user(request, WRITE)
        data = read_json(request, AcknowledgementInSchema())
        result = self._acknowledge(user, case_id_of(case_id), data)  # ConsoleRoutes
        return json_response(result, status=200 if result["already_acknowledged"] else 201)

    @route("GET", f"{CASES}/escalation", tag=NOTIFICATIONS, access=READ,
           summary="Where a case's escalation stands: highest tier told, who acknowledged, "
                   "the deadlines still open",
           response=CaseEscalationSchema)
    def case_escalation(self, request, case_id):
        user = self.auth.user(request, READ)
        return json_response(self.notifications_rpc.case_escalation(
            case_id_of(case_id), user.caller()))

    @route("GET", f"{CASES}/notifications", tag=NOTIFICATIONS, access=READ,
           summary="Who was told of a case, in the order they were told, and who "
                   "acknowledged",
           query=CursorQuery, response=CaseNotificationPageSchema)
    def case_notifications(self, request, case_id):
        user = self.auth.user(request, READ)
        query = read_query(request, CursorQuery())
        return json_response(self.notifications_rpc.case_notifications(
            case_id_of(case_id), user.caller(), query))

    @route("GET", f"{CASES}/notifications/audit", tag=NOTIFICATIONS, access=READ,
           summary="A case's complete notification audit: who, when, which channel, "
                   "delivered or failed, acknowledged, escalated and why",
           query=CursorQuery, response=AuditEntryPageSchema)
    def case_notification_audit(self, request, case_id):
        user = self.auth.user(request, READ)
        query = read_query(request, CursorQuery())
        return json_response(self.notifications_rpc.case_audit(
            case_id_of(case_id), user.caller(), query))
