"""marshmallow schemas: what membership accepts (RPC and HTTP bodies) and what it returns.

Inputs are checked again here even when the gateway checked them: RPC callers other than
the gateway exist (the CLI, other services, tests).
"""


from marshmallow import Schema, ValidationError, fields, pre_load, validate, validates

from services.membership import domain
from shared.errors import from_validation_error
from shared.events.membership import (
    MEMBERSHIP_STATUSES,
    PRICE_RULES,
    SERVICE_KINDS,
    SERVICE_STATUSES,
)
from shared.paging import KeysetPageOut, KeysetQuery

MAX_FEN = 10**9  # ten million yuan: far above any member purchase


def load(schema: Schema, data, message="input rejected"):
    """``schema.load`` with a clear InvalidInput (400) on any rejection."""
    if not isinstance(data, dict):
        raise from_validation_error(ValidationError({"_schema": ["must be an object"]}),
                                    message)
    try:
        return schema.load(data)
    except ValidationError as exc:
        raise from_validation_error(exc, message) from None


def _text(max_length, **kwargs):
    return fields.String(validate=[validate.Length(min=1, max=max_length),
                                   validate.Regexp(r"^[^\x00-\x1f\x7f]*$",
                                                   error="control characters not allowed")],
                         **kwargs)


class ApplicationSchema(Schema):
    name = _text(100, required=True)
    id_number = fields.String(required=True)
    phone = fields.String(load_default=None, allow_none=True)
    enterprise_credit_code = _text(100, required=True)

    @pre_load
    def strip(self, data, **kwargs):
        if isinstance(data, dict):
            data = dict(data)
            for key in ("name", "id_number", "phone", "enterprise_credit_code"):
                if isinstance(data.get(key), str):
                    data[key] = data[key].strip()
            if isinstance(data.get("id_number"), str):
                data["id_number"] = data["id_number"].upper()
            if data.get("phone") == "":
                data["phone"] = None
        return data

    # Messages never echo the value: it is personal data.
    @validates("id_number")
    def valid_id_number(self, value, **kwargs):
        problem = domain.id_number_problem(value)
        if problem:
            raise ValidationError(problem)

    @validates("phone")
    def valid_phone(self, value, **kwargs):
        if value is not None and domain.phone_problem(value):
            raise ValidationError(domain.phone_problem(value))


class ReasonSchema(Schema):
    reason = _text(500, required=True)


class TransferSchema(Schema):
    enterprise_credit_code = _text(100, required=True)


class CardRequestSchema(Schema):
    lost = fields.Boolean(load_default=False)


class CardCheckSchema(Schema):
    card_number = fields.String(required=True, validate=validate.Length(min=1, max=40))


class PriceRuleSchema(Schema):
    kind = fields.String(required=True, validate=validate.OneOf(PRICE_RULES))
    percent_off = fields.Integer(load_default=None, allow_none=True,
                                 validate=validate.Range(min=1, max=90))
    markup_fen = fields.Integer(load_default=None, allow_none=True,
                                validate=validate.Range(min=0, max=MAX_FEN))


class MerchantSchema(Schema):
    name = _text(200, required=True)
    organization_code = _text(100, required=True)
    rule = fields.Nested(PriceRuleSchema, required=True)


class PurchaseSchema(Schema):
    card_number = fields.String(required=True, validate=validate.Length(min=1, max=40))
    price_fen = fields.Integer(required=True, strict=True,
                               validate=validate.Range(min=0, max=MAX_FEN))
    cost_fen = fields.Integer(load_default=None, allow_none=True, strict=True,
                              validate=validate.Range(min=0, max=MAX_FEN))


class ServiceRequestSchema(Schema):
    worker_id = fields.Integer(required=True, strict=True, validate=validate.Range(min=1))
    kind = fields.String(required=True, validate=validate.OneOf(SERVICE_KINDS))
    summary = fields.String(required=True, validate=validate.Length(min=1, max=2000))
    handling_organization_code = fields.String(load_default=None, allow_none=True,
                                               validate=validate.Length(min=1, max=100))


class ServiceRequestUpdateSchema(Schema):
    status = fields.String(load_default=None, allow_none=True,
                           validate=validate.OneOf(SERVICE_STATUSES))
    handling_organization_code = fields.String(load_default=None, allow_none=True,
                                               validate=validate.Length(min=1, max=100))
    note = fields.String(load_default=None, allow_none=True,
                         validate=validate.Length(max=2000))


class MemberListQuery(KeysetQuery):
    code = fields.String(required=True, validate=validate.Length(min=1, max=100))
    status = fields.String(load_default=None, allow_none=True,
                           validate=validate.OneOf(MEMBERSHIP_STATUSES))


class RequestListQuery(KeysetQuery):
    code = fields.String(required=True, validate=validate.Length(min=1, max=100))
    status = fields.String(load_default=None, allow_none=True,
                           validate=validate.OneOf(SERVICE_STATUSES))
    kind = fields.String(load_default=None, allow_none=True,
                         validate=validate.OneOf(SERVICE_KINDS))


class MerchantListQuery(Schema):
    code = fields.String(load_default=None, allow_none=True,
                         validate=validate.Length(min=1, max=100))


# --- answers (for the OpenAPI document) --------------------------------------------

class CardOut(Schema):
    number = fields.String(metadata={"description": "shown once, at issue; stored hashed"})
    valid_until = fields.Date()


class MembershipOut(Schema):
    membership_id = fields.Integer()
    worker_id = fields.Integer()
    union_code = fields.String()
    enterprise_credit_code = fields.String()
    status = fields.String(validate=validate.OneOf(MEMBERSHIP_STATUSES))
    channel = fields.String()
    applied_at = fields.DateTime()
    decided_at = fields.DateTime(allow_none=True)
    ended_at = fields.DateTime(allow_none=True)
    reason = fields.String(allow_none=True)
    previous_membership_id = fields.Integer(allow_none=True)
    card = fields.Nested(CardOut, metadata={"description": "on approval only"})


class MemberCardOut(Schema):
    last4 = fields.String()
    status = fields.String()
    valid_until = fields.Date()
    issued_at = fields.DateTime()


class MemberOut(Schema):
    worker_id = fields.Integer()
    name = fields.String()
    id_number = fields.String(metadata={"description": "masked"})
    phone = fields.String(allow_none=True, metadata={"description": "masked"})
    memberships = fields.List(fields.Nested(MembershipOut))
    cards = fields.List(fields.Nested(MemberCardOut))


class PersonalDataOut(Schema):
    worker_id = fields.Integer()
    name = fields.String()
    id_number = fields.String()
    phone = fields.String(allow_none=True)


class MemberListOut(KeysetPageOut):
    items = fields.List(fields.Nested(MembershipOut))


class JoinRateOut(Schema):
    code = fields.String()
    members = fields.Integer()
    workers = fields.Integer()
    join_rate = fields.Float(allow_none=True)
    join_rate_percent = fields.Integer(allow_none=True)


class CardVerdictOut(Schema):
    card = fields.String(validate=validate.OneOf(("valid", "expired", "unknown")))


class PurchaseOut(CardVerdictOut):
    discount_applied = fields.Boolean()
    price_fen = fields.Integer()
    pay_fen = fields.Integer()


class MerchantOut(Schema):
    merchant_id = fields.Integer()
    name = fields.String()
    organization_code = fields.String()
    rule = fields.Nested(PriceRuleSchema)


class ServiceRequestOut(Schema):
    request_id = fields.Integer()
    worker_id = fields.Integer()
    kind = fields.String()
    status = fields.String()
    handling_organization_code = fields.String()
    summary = fields.String()
    note = fields.String(allow_none=True)
    created_at = fields.DateTime()
    updated_at = fields.DateTime()


class ServiceRequestPageOut(KeysetPageOut):
    items = fields.List(fields.Nested(ServiceRequestOut))
