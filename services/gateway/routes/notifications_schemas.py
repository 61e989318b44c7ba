"""Request and response schemas of the notifications routes.

Requests are checked here for shape and size (a 400 naming the field before the
notifications service is asked); its own errors (404 unknown case, 403 for an
organization that was not notified) pass through as they are. Responses are
documentation: the notifications service decides what a view holds.
"""

from marshmallow import Schema, fields, validate

from shared.api.registry import PLACE_CODE
from shared.events.notifications import CHAIN_TIERS, MESSAGE_KINDS, RECIPIENT_KINDS

RECIPIENT_KIND = validate.OneOf(RECIPIENT_KINDS)


# The notifications service sends times as ISO 8601 strings (UTC), not datetimes.
def _time(**kwargs):
    return fields.String(metadata={"format": "date-time"}, **kwargs)


KIND_TEXT = ("union (工会), party (党组织) or leader (挂点领导: then the code is the key "
             "enterprise's credit code)")


class InboxQuerySchema(Schema):
    recipient_kind = fields.String(load_default="union", validate=RECIPIENT_KIND,
                                   metadata={"description": KIND_TEXT})
    unacknowledged = fields.Boolean(load_default=False, metadata={
        "description": "only messages about notifications not yet acknowledged"})
    after_id = fields.Integer(load_default=0, validate=validate.Range(min=0, max=2**62),
                              metadata={"description": "page on: the last id seen"})
    limit = fields.Integer(load_default=50, validate=validate.Range(min=1, max=200))


class InboxMessageSchema(Schema):
    id = fields.Integer(required=True)
    case_id = fields.String(required=True)
    kind = fields.String(validate=validate.OneOf(MESSAGE_KINDS))
    title = fields.String()
    message = fields.Dict(metadata={"description": "the notice: case, grade, recipient, "
                                                   "deadline"})
    received_at = _time()
    acknowledged_at = _time(allow_none=True)
    acknowledged_by = fields.String(allow_none=True)


class InboxSchema(Schema):
    organization_code = fields.String(required=True)
    recipient_kind = fields.String(validate=RECIPIENT_KIND)
    messages = fields.List(fields.Nested(InboxMessageSchema), required=True)


class AcknowledgementInSchema(Schema):
    organization_code = fields.String(required=True, validate=PLACE_CODE, metadata={
        "description": "the notified organization acknowledging (签收); must lie within the "
                       "caller's subtree. The caller's user name is recorded as who signed."})
    recipient_kind = fields.String(load_default="union", validate=RECIPIENT_KIND,
                                   metadata={"description": KIND_TEXT})


class AcknowledgementSchema(Schema):
    case_id = fields.String(required=True)
    organization_code = fields.String(required=True)
    recipient_kind = fields.String(validate=RECIPIENT_KIND)
    tier = fields.String(allow_none=True, validate=validate.OneOf(CHAIN_TIERS))
    acknowledged_at = _time()
    acknowledged_by = fields.String()
    case_acknowledged_by = fields.String(allow_none=True, metadata={
        "description": "the organization whose acknowledgement stopped the escalation"})
    already_acknowledged = fields.Boolean(metadata={
        "description": "true (and status 200): this organization had acknowledged before"})


class CaseNotificationSchema(Schema):
    organization_code = fields.String(required=True)
    recipient_kind = fields.String(validate=RECIPIENT_KIND)
    tier = fields.String(allow_none=True)
    name = fields.String(allow_none=True)
    reason = fields.String(allow_none=True, metadata={"description": "why it was told"})
    rule = fields.String(allow_none=True)
    notified_at = _time(allow_none=True)
    acknowledged_at = _time(allow_none=True)
    acknowledged_by = fields.String(allow_none=True)


class OpenDeadlineSchema(Schema):
    kind = fields.String()
    tier = fields.String(allow_none=True)
    due_at = _time()


class CaseNotificationsSchema(Schema):
    case_id = fields.String(required=True)
    grade = fields.String()
    status = fields.String()
    top_tier = fields.String(allow_none=True, metadata={"description": "highest tier told"})
    policy_version = fields.String(allow_none=True)
    notified_at = _time(allow_none=True)
    acknowledged_at = _time(allow_none=True)
    acknowledged_by = fields.String(allow_none=True)
    notifications = fields.List(fields.Nested(CaseNotificationSchema))
    open_deadlines = fields.List(fields.Nested(OpenDeadlineSchema))


class AuditEntrySchema(Schema):
    at = _time(required=True)
    action = fields.String(required=True, metadata={
        "description": "case_received, notified, delivered, delivery_failed, reminded, "
                       "escalated, acknowledged, escalation_stopped, status_changed..."})
    organization_code = fields.String(allow_none=True)
    recipient_kind = fields.String(allow_none=True)
    channel = fields.String(allow_none=True)
    tier = fields.String(allow_none=True)
    detail = fields.Dict()


class CaseAuditSchema(Schema):
    case_id = fields.String(required=True)
    entries = fields.List(fields.Nested(AuditEntrySchema), required=True)
