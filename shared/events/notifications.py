"""Events published by notifications (source ``notifications``, exchange
``notifications.events``).

The notifications service works out who must hear of a dispute case (the party-union
chain of the enterprise's place), tells them through its channels, escalates up the
chain when nobody acknowledges in time, and records every step. These events let others
(the disputes case timeline, statistics) follow that without reading its database.

Fields beyond the lead's contract (``notification_id``, ``kind``, ``grade``, ``at``,
``recipient_kind`` on acknowledgements...) are optional additions: a consumer written
against the bare contract loads every event unchanged.
"""

from marshmallow import Schema, fields, validate

from shared.events.envelope import catalogue

RECIPIENT_KINDS = ("union", "party", "leader")  # 工会 / 党组织 / 挂点领导
CHANNELS = ("inbox", "webhook", "sms", "email")  # sms and email: room to grow
CHAIN_TIERS = ("community", "street", "district")  # bottom up: the escalation ladder
MESSAGE_KINDS = ("notice", "reminder")


class NotificationSentSchema(Schema):
    case_id = fields.String(required=True, validate=validate.Length(min=1, max=64))
    organization_code = fields.String(required=True, validate=validate.Length(min=1, max=64))
    recipient_kind = fields.String(required=True, validate=validate.OneOf(RECIPIENT_KINDS))
    channel = fields.String(required=True, validate=validate.OneOf(CHANNELS))
    # The tier of the organization addressed; a key enterprise's leader has none.
    tier = fields.String(required=True, allow_none=True, validate=validate.OneOf(CHAIN_TIERS))
    delivered = fields.Boolean(required=True)  # False: the channel gave up after retries
    notification_id = fields.String(load_default=None, allow_none=True)
    kind = fields.String(load_default="notice", validate=validate.OneOf(MESSAGE_KINDS))
    grade = fields.String(load_default=None, allow_none=True)
    at = fields.AwareDateTime(load_default=None, allow_none=True)


class CaseAcknowledgedSchema(Schema):
    case_id = fields.String(required=True, validate=validate.Length(min=1, max=64))
    organization_code = fields.String(required=True, validate=validate.Length(min=1, max=64))
    by = fields.String(required=True, validate=validate.Length(min=1, max=100))  # a name
    at = fields.AwareDateTime(required=True)
    recipient_kind = fields.String(load_default="union", validate=validate.OneOf(RECIPIENT_KINDS))
    tier = fields.String(load_default=None, allow_none=True)


class CaseEscalatedSchema(Schema):
    case_id = fields.String(required=True, validate=validate.Length(min=1, max=64))
    from_tier = fields.String(required=True, validate=validate.OneOf(CHAIN_TIERS))
    to_tier = fields.String(required=True, validate=validate.OneOf(CHAIN_TIERS))
    reason = fields.String(required=True)  # e.g. "no acknowledgement within 3600s"
    grade = fields.String(load_default=None, allow_none=True)
    at = fields.AwareDateTime(load_default=None, allow_none=True)


_define = catalogue.define
_define("notifications", "notification_sent", NotificationSentSchema,
        description="An organization was told of a case through one channel (or the channel "
                    "gave up).")
_define("notifications", "case_acknowledged", CaseAcknowledgedSchema,
        description="A notified organization acknowledged a case; escalation stops.")
_define("notifications", "case_escalated", CaseEscalatedSchema,
        description="Nobody acknowledged in time: the case went up to the next tier.")
