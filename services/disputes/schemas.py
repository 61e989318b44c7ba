"""What the disputes API accepts: every rejection names the field and says why."""

import re
from datetime import date, datetime, time, timedelta, timezone
from decimal import Decimal

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from shared.errors import InvalidInput
from shared.events.disputes import CATEGORIES, GRADES, HANDLING_TIERS, STATUSES
from shared.schemas import load

CREDIT_CODE = re.compile(r"^[0-9A-HJ-NPQRTUWXY]{18}$")
CHINA_TIME = timezone(timedelta(hours=8))
MAX_AMOUNT = 10**11  # yuan; more is a typo, not a dispute


class DayOrDateTime(fields.Field):
    """A date ("2025-03-01", midnight China time) or an ISO 8601 datetime."""

    default_error_messages = {"invalid": "must be a date (YYYY-MM-DD) or an ISO datetime"}

    def _deserialize(self, value, attr, data, **kwargs):
        if not isinstance(value, str):
            raise self.make_error("invalid")
        try:
            if len(value) == 10:
                return datetime.combine(date.fromisoformat(value), time(), CHINA_TIME)
            parsed = datetime.fromisoformat(value)
        except ValueError:
            raise self.make_error("invalid") from None
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=CHINA_TIME)

    def _serialize(self, value, attr, obj, **kwargs):
        return None if value is None else value.isoformat()


def _whole_fen(value):
    if value != value.quantize(Decimal("0.01")):
        raise ValidationError("yuan with at most 2 decimal places (fen)")


def _amount(**kwargs):
    return fields.Decimal(validate=[validate.Range(min=0, max=MAX_AMOUNT), _whole_fen],
                          **kwargs)


def _text(max_length, **kwargs):
    return fields.String(validate=validate.Length(min=1, max=max_length), **kwargs)


class IdentitySchema(Schema):
    real_name = _text(100, required=True)
    phone = fields.String(allow_none=True, load_default=None,
                          validate=validate.Regexp(r"^\+?[0-9 -]{5,20}$",
                                                   error="must be a phone number"))


class EnterpriseRefSchema(Schema):
    """A registered enterprise by credit code, or one not yet registered by name,
    address and community."""

    credit_code = fields.String(allow_none=True, load_default=None,
                                validate=validate.Regexp(
                                    CREDIT_CODE, error="must be an 18-character unified "
                                    "social credit code"))
    name = _text(200, allow_none=True, load_default=None)
    address = _text(300, allow_none=True, load_default=None)
    community_code = _text(100, allow_none=True, load_default=None)

    @validates_schema
    def _named(self, data, **_):
        if data.get("credit_code"):
            return
        missing = [key for key in ("name", "address", "community_code") if not data.get(key)]
        if missing:
            raise ValidationError(
                {key: ["required when no credit_code names a registered enterprise"]
                 for key in missing})


class ReportSchema(EnterpriseRefSchema):
    category = fields.String(required=True, validate=validate.OneOf(CATEGORIES))
    workers_affected = fields.Integer(required=True,
                                      validate=validate.Range(min=0, max=1_000_000))
    amount_owed = _amount(required=True)
    expected_at = DayOrDateTime(allow_none=True, load_default=None)
    description = _text(5000, required=True)
    # Anonymous reports may leave a name and phone to be paid a reward; kept apart.
    identity = fields.Nested(IdentitySchema, allow_none=True, load_default=None)


class OfficerSchema(Schema):
    organization_code = _text(100, required=True)
    real_name = _text(100, required=True)
    phone = fields.String(allow_none=True, load_default=None,
                          validate=validate.Regexp(r"^\+?[0-9 -]{5,20}$",
                                                   error="must be a phone number"))


class VerifySchema(Schema):
    note = _text(2000, allow_none=True, load_default=None)
    workers_affected = fields.Integer(allow_none=True, load_default=None,
                                      validate=validate.Range(min=0, max=1_000_000))
    amount_owed = _amount(allow_none=True, load_default=None)


class RejectSchema(Schema):
    reason = _text(2000, required=True)


class HandlingSchema(Schema):
    handled_by_tier = fields.String(required=True, validate=validate.OneOf(HANDLING_TIERS))
    joint = fields.Boolean(required=True)  # jointly with government departments
    departments = fields.List(_text(100), load_default=list)
    note = _text(2000, allow_none=True, load_default=None)

    @validates_schema(skip_on_field_errors=False)  # report every missing piece at once
    def _departments(self, data, **_):
        if data.get("joint") and not data.get("departments"):
            raise ValidationError("name the government departments of a joint mediation",
                                  "departments")


class ResolveSchema(Schema):
    wages_recovered = _amount(required=True)
    workers_covered = fields.Integer(required=True, validate=validate.Range(min=0))
    note = _text(2000, allow_none=True, load_default=None)


class CloseSchema(Schema):
    note = _text(2000, required=True)  # the review (复盘) of the case


TRANSITION_SCHEMAS = {"verified": VerifySchema, "rejected": RejectSchema,
                      "handling": HandlingSchema, "resolved": ResolveSchema,
                      "closed": CloseSchema}


def load_transition(status: str, data) -> dict:
    if status not in TRANSITION_SCHEMAS:
        raise InvalidInput(f"a case cannot be moved to {status!r}",
                           {"status": [f"must be one of {', '.join(TRANSITION_SCHEMAS)}"]})
    return load(TRANSITION_SCHEMAS[status](), data or {}, f"{status} rejected")


class VisitSchema(EnterpriseRefSchema):
    case_id = _text(32, allow_none=True, load_default=None)
    kind = fields.String(required=True, validate=validate.OneOf(("visit", "revisit",
                                                                 "interview")))
    at = DayOrDateTime(allow_none=True, load_default=None)
    irregular_practice = fields.Boolean(required=True)
    workers_affected = fields.Integer(allow_none=True, load_default=None,
                                      validate=validate.Range(min=0, max=1_000_000))
    amount_owed = _amount(allow_none=True, load_default=None)
    findings = _text(5000, required=True)


class CaseFilterSchema(Schema):
    status = fields.String(validate=validate.OneOf(STATUSES))
    grade = fields.String(validate=validate.OneOf(GRADES))
    category = fields.String(validate=validate.OneOf(CATEGORIES))
    community_code = _text(100)
    street_code = _text(100)
    limit = fields.Integer(load_default=50, validate=validate.Range(min=1, max=500))
    offset = fields.Integer(load_default=0, validate=validate.Range(min=0))


class PolicySchema(Schema):
    kind = fields.String(required=True, validate=validate.OneOf(("grading", "rewards")))
    effective_from = fields.AwareDateTime(required=True, default_timezone=CHINA_TIME)
    body = fields.Dict(required=True)


class RevealSchema(Schema):
    informant = _text(16, required=True)
    reason = _text(2000, required=True)


class StatisticsQuerySchema(Schema):
    code = _text(100, allow_none=True, load_default=None)
    year = fields.Integer(allow_none=True, load_default=None,
                          validate=validate.Range(min=2000, max=2100))


class RewardFilterSchema(Schema):
    status = fields.String(allow_none=True, load_default=None,
                           validate=validate.OneOf(("pending", "approved", "paid")))


def reward_id(value) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise InvalidInput("a reward id is a positive whole number",
                           {"reward_id": ["must be a positive integer"]})
    return value
