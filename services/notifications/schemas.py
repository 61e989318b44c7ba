"""Input schemas of the notifications API (HTTP and RPC alike)."""

from marshmallow import Schema, fields, validate

from shared.events.notifications import RECIPIENT_KINDS

_kind = validate.OneOf(RECIPIENT_KINDS)


class AcknowledgementSchema(Schema):
    organization_code = fields.String(required=True, validate=validate.Length(min=1, max=64))
    by = fields.String(required=True, validate=validate.Length(min=1, max=100))  # who signed
    recipient_kind = fields.String(load_default="union", validate=_kind)


class InboxQuerySchema(Schema):
    recipient_kind = fields.String(load_default="union", validate=_kind)
    unacknowledged = fields.Boolean(load_default=False)
    after_id = fields.Integer(load_default=0, validate=validate.Range(min=0))
    limit = fields.Integer(load_default=50, validate=validate.Range(min=1, max=200))
