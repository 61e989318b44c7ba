"""Request and response schemas of the disputes routes.

Requests are checked here for shape and size (a 400 naming the field before any backend
is asked); the disputes service then applies its own rules (which enterprise, which
community, amounts in fen, dates in China time) and its errors pass through as they are.
Responses are documentation: the disputes service decides what a view holds, and no view
ever holds an informant's name or phone.
"""

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from shared.events.disputes import CATEGORIES, GRADES, HANDLING_TIERS, STATUSES

# Yuan: a number or a decimal string; the disputes service checks the fen exactly. (A
# Float here, not a Decimal, keeps the OpenAPI bounds plain JSON numbers.)
AMOUNT = validate.Range(min=0, max=1e11)
WORKERS = validate.Range(min=0, max=1_000_000)


def _text(max_length, **kwargs):
    return fields.String(validate=validate.Length(min=1, max=max_length), **kwargs)


def _optional_text(max_length, **kwargs):
    return _text(max_length, allow_none=True, **kwargs)


class _EnterpriseRef(Schema):
    credit_code = _optional_text(18, metadata={
        "description": "统一社会信用代码 of a registered enterprise"})
    name = _optional_text(200, metadata={"description": "when no credit_code is given"})
    address = _optional_text(300, metadata={"description": "when no credit_code is given"})
    community_code = _optional_text(100, metadata={
        "description": "the community or park, when no credit_code is given"})

    @validates_schema
    def _named(self, data, **_):
        if not data.get("credit_code") and not data.get("name"):
            raise ValidationError(
                "name a registered enterprise by credit_code, or give name, address and "
                "community_code", "credit_code")


class IdentityInSchema(Schema):
    real_name = _text(100, required=True)
    phone = _optional_text(20)


class OfficerReportInSchema(_EnterpriseRef):
    category = fields.String(required=True, validate=validate.OneOf(CATEGORIES))
    workers_affected = fields.Integer(required=True, validate=WORKERS)
    amount_owed = fields.Float(required=True, validate=AMOUNT, metadata={
        "description": "yuan, at most 2 decimals"})
    expected_at = _optional_text(40, metadata={
        "description": "when the risk is expected: a date (China time) or ISO datetime"})
    description = _text(5000, required=True)


class AnonymousReportInSchema(OfficerReportInSchema):
    identity = fields.Nested(IdentityInSchema, allow_none=True, metadata={
        "description": "optional: a name and phone to be paid a reward; kept apart and "
                       "revealed only by an audited request"})


class ReportReceiptSchema(Schema):
    report = fields.String(required=True, metadata={"description": "the report's pseudonym"})
    received_at = fields.DateTime(required=True)
    receipt_code = fields.String(metadata={
        "description": "anonymous reports: 16 digits, shown this once; the status and "
                       "rewards can be followed with it"})


class ReceiptInSchema(Schema):
    receipt_code = _text(40, required=True)


class RewardSchema(Schema):
    id = fields.Integer(required=True)
    informant = fields.String(required=True, metadata={"description": "a pseudonym"})
    case_id = fields.String(required=True)
    report = fields.String()
    stage = fields.String(validate=validate.OneOf(("verified", "resolved")))
    amount = fields.String(metadata={"description": "yuan"})
    policy_version = fields.Integer()
    explanation = fields.List(fields.String(), metadata={
        "description": "the rules that produced the amount, in order"})
    status = fields.String(validate=validate.OneOf(("pending", "approved", "paid")))
    month = fields.String()


class ReceiptStatusSchema(Schema):
    report = fields.String(required=True)
    received_at = fields.DateTime()
    enterprise = fields.String()
    category = fields.String()
    status = fields.String(validate=validate.OneOf(STATUSES))
    steps = fields.List(fields.Dict())
    rewards = fields.List(fields.Nested(RewardSchema))


class OfficerReportSchema(Schema):
    report = fields.String(required=True)
    received_at = fields.DateTime()
    enterprise = fields.String()
    category = fields.String()
    status = fields.String(validate=validate.OneOf(STATUSES))


class OfficerInSchema(Schema):
    organization_code = _text(100, required=True)
    real_name = _text(100, required=True)
    phone = _optional_text(20)


class IssuedOfficerTokenSchema(Schema):
    informant = fields.String(required=True, metadata={"description": "the pseudonym"})
    organization_code = fields.String(required=True)
    token = fields.String(required=True, metadata={
        "description": "shown once (ghi_...); the disputes service keeps its SHA-256"})


class RevokedOfficerSchema(Schema):
    informant = fields.String(required=True)
    active = fields.Boolean(required=True)


class CaseEnterpriseSchema(Schema):
    credit_code = fields.String(allow_none=True)
    name = fields.String()
    address = fields.String(allow_none=True)
    community_code = fields.String()
    path = fields.List(fields.String())
    key_enterprise = fields.Boolean()


class CaseSchema(Schema):
    id = fields.String(required=True)
    status = fields.String(validate=validate.OneOf(STATUSES))
    grade = fields.String(validate=validate.OneOf(GRADES), metadata={
        "description": "major = 重大事项"})
    grade_rule = fields.String(metadata={"description": "the grading rule that decided"})
    category = fields.String(validate=validate.OneOf(CATEGORIES))
    workers_affected = fields.Integer()
    amount_owed = fields.String()
    expected_at = fields.DateTime(allow_none=True)
    enterprise = fields.Nested(CaseEnterpriseSchema)
    reports = fields.Integer(metadata={"description": "reports merged into the case"})
    handled_by_tier = fields.String(allow_none=True)
    joint = fields.Boolean(allow_none=True)
    departments = fields.List(fields.String(), allow_none=True)
    wages_recovered = fields.String(allow_none=True)
    workers_covered = fields.Integer(allow_none=True)
    opened_at = fields.DateTime()
    updated_at = fields.DateTime()
    resolved_at = fields.DateTime(allow_none=True)


class CaseDetailSchema(CaseSchema):
    report_list = fields.List(fields.Dict(), metadata={
        "description": "each report by pseudonym, with its informant's pseudonym"})
    timeline = fields.List(fields.Dict(), metadata={
        "description": "every step, regrading, visit, acknowledgement and reward"})
    rewards = fields.List(fields.Nested(RewardSchema))


class CaseQuerySchema(Schema):
    status = fields.String(validate=validate.OneOf(STATUSES))
    grade = fields.String(validate=validate.OneOf(GRADES))
    category = fields.String(validate=validate.OneOf(CATEGORIES))
    community_code = _text(100)
    street_code = _text(100)
    limit = fields.Integer(load_default=50, validate=validate.Range(min=1, max=500))
    offset = fields.Integer(load_default=0, validate=validate.Range(min=0, max=10_000_000))


class TransitionInSchema(Schema):
    """One step of the standard process; which fields a step needs is said by its 400."""

    status = fields.String(required=True, validate=validate.OneOf(
        ("verified", "rejected", "handling", "resolved", "closed")))
    note = _optional_text(2000)
    reason = _optional_text(2000, metadata={"description": "rejected: why"})
    workers_affected = fields.Integer(allow_none=True, validate=WORKERS, metadata={
        "description": "verified: the verified figure"})
    amount_owed = fields.Float(allow_none=True, validate=AMOUNT)
    handled_by_tier = fields.String(validate=validate.OneOf(HANDLING_TIERS), metadata={
        "description": "handling: the union tier mediating"})
    joint = fields.Boolean(metadata={"description": "handling: jointly with government"})
    departments = fields.List(_text(100), validate=validate.Length(max=20))
    wages_recovered = fields.Float(validate=AMOUNT, metadata={"description": "resolved"})
    workers_covered = fields.Integer(validate=WORKERS, metadata={"description": "resolved"})


class VisitInSchema(_EnterpriseRef):
    case_id = _optional_text(32)
    kind = fields.String(required=True, validate=validate.OneOf(
        ("visit", "revisit", "interview")), metadata={
        "description": "走访, 回访, 约谈厂长 (interview of the factory manager)"})
    at = _optional_text(40)
    irregular_practice = fields.Boolean(required=True)
    workers_affected = fields.Integer(allow_none=True, validate=WORKERS)
    amount_owed = fields.Float(allow_none=True, validate=AMOUNT)
    findings = _text(5000, required=True)


class VisitRecordedSchema(Schema):
    visit = fields.Integer(required=True)
    enterprise = fields.String()
    cases = fields.List(fields.String(), metadata={"description": "open cases regraded"})


class RewardQuerySchema(Schema):
    status = fields.String(validate=validate.OneOf(("pending", "approved", "paid")))


class RevealInSchema(Schema):
    informant = _text(16, required=True)
    reason = _text(2000, required=True)


class RevealedIdentitySchema(Schema):
    informant = fields.String(required=True)
    real_name = fields.String(required=True)
    phone = fields.String(allow_none=True)


class PolicySchema(Schema):
    kind = fields.String(validate=validate.OneOf(("grading", "rewards")))
    version = fields.Integer()
    effective_from = fields.DateTime()
    body = fields.Dict()
    published_by = fields.String()


class PolicyInSchema(Schema):
    kind = fields.String(required=True, validate=validate.OneOf(("grading", "rewards")))
    effective_from = fields.AwareDateTime(required=True)
    body = fields.Dict(required=True)


class PolicyPublishedSchema(Schema):
    kind = fields.String(required=True)
    version = fields.Integer(required=True)


class DisputeStatisticsQuerySchema(Schema):
    code = _text(100, metadata={"description": "default: the caller's organization"})
    year = fields.Integer(validate=validate.Range(min=2000, max=2100))


class DisputeStatisticsSchema(Schema):
    code = fields.String()
    year = fields.Integer(allow_none=True)
    disputes = fields.Integer(metadata={"description": "cases the unions took part in"})
    alone = fields.Integer(metadata={"description": "handled alone (独立调处)"})
    joint = fields.Integer()
    by_tier = fields.Dict()
    by_street = fields.Dict()
    by_category = fields.Dict()
    settled_locally_share = fields.Float(allow_none=True)
    by_year = fields.List(fields.Dict())
    wage_flight = fields.Dict()
    visits = fields.Dict()
