"""The disputes service's RPC contract: what each method takes and answers.

The disputes service loads every argument with these schemas (``services/disputes/
service.py``, the one place its input is checked) and dumps every answer with them; the
gateway checks HTTP bodies and queries with the same schemas before asking, and
documents its routes with them. Where an answer is only for some callers (the case id of
a report, kept from the informant), the gateway's schema is a part of the service's.

RPC (``caller``: ``shared.caller``'s ``{"name", "role", "organization_code"}``)::

    register_officer(data, caller) -> RegisteredOfficer       data: SealedOfficer
    revoke_officer(informant, caller) -> RevokedOfficer
    submit_report(data, officer_token_hash=None, source=None, request_id=None,
                  receipt_ref=None) -> ReportFiled             anonymous without a token
    receipt_status(receipt_ref, source=None) -> ReceiptStatus
    my_reports(officer_token_hash, query=None) -> OfficerReportPage
    my_rewards(officer_token_hash=None, receipt_ref=None, query=None) -> RewardPage
    reveal_identity(data, caller) -> RevealedIdentity         audited; admin only
    get_case(case_id, caller) -> CaseDetail
    list_cases(caller, query=None) -> CasePage
    change_status(case_id, status, data, caller) -> CaseDetail
    record_visit(data, caller) -> VisitRecorded
    list_rewards(caller, query=None) -> RewardPage
    approve_reward(reward_id, caller), pay_reward(reward_id, caller) -> Reward
    get_policies(kind, query=None) -> PolicyPage
    publish_policy(data, caller) -> PolicyPublished
    statistics(caller, code=None, year=None) -> DisputeStatistics

Every list is a page (``shared.paging``): its ``query`` takes ``cursor`` and ``limit``
(``CursorQuery``, besides the list's own filters) and it answers ``{"items",
"next_cursor"}``. No answer ever holds an informant's name or phone but the audited
reveal's.

No request holds one either, nor a secret an informant holds (issue 12): the gateway
seals names and phones to disputes' public key (``shared.sealing``: ``sealed_identity``),
makes officers' tokens and sends only their SHA-256 (``officer_token_hash``), makes
receipt codes and sends only a keyed hash of them (``receipt_ref``), and sends a keyed
hash of the client's address as ``source``. So no answer carries a token or a receipt
code: the gateway adds the ones it made to its HTTP answer.
"""

import copy
import hashlib
import re
import secrets
from datetime import date, datetime, time, timedelta, timezone
from decimal import Decimal, InvalidOperation

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from shared.events.disputes import CATEGORIES, GRADES, HANDLING_TIERS, STATUSES
from shared.idempotency import HEX_32, IdempotencySchema
from shared.paging import CursorQuery, page_schema
from shared.schemas import Day, Timestamp, representable_or_error

CREDIT_CODE = re.compile(r"^[0-9A-HJ-NPQRTUWXY]{18}$")
CHINA_TIME = timezone(timedelta(hours=8))
MAX_AMOUNT = 10**11  # yuan; more is a typo, not a dispute
MAX_WORKERS = 1_000_000
POLICY_KINDS = ("grading", "rewards")
REWARD_STAGES = ("verified", "resolved")
REWARD_STATUSES = ("pending", "approved", "paid")
VISIT_KINDS = ("visit", "revisit", "interview")
NEXT_STATUSES = ("verified", "rejected", "handling", "resolved", "closed")
# The standard process: where a case may go from each status (disputes enforces it; the
# console offers these steps).
TRANSITIONS = {
    "reported": ("verified", "rejected"),
    "verified": ("handling",),
    "handling": ("resolved",),
    "resolved": ("closed",),
}

# Examples: one 南坑 factory's case, as the OpenAPI document shows it.
NANKENG = "longgang.bantian.nankeng"
PATH = ["longgang", "longgang.bantian", NANKENG]
CASE_ID = "3f2b8c1e9a7d4e6f8b0c1d2e3f4a5b6c"
AT = "2025-03-01T02:00:00+00:00"


# --- fields ---------------------------------------------------------------------------

class DayOrDateTime(fields.String):
    """A date ("2025-03-01", midnight China time) or an ISO 8601 datetime (China time
    when it has no offset)."""

    default_error_messages = {"invalid": "must be a date (YYYY-MM-DD) or an ISO datetime"}

    def _deserialize(self, value, attr, data, **kwargs):
        if not isinstance(value, str):
            raise self.make_error("invalid")
        try:
            if len(value) == 10:
                parsed = datetime.combine(date.fromisoformat(value), time(), CHINA_TIME)
            else:
                parsed = datetime.fromisoformat(value)
        except ValueError:
            raise self.make_error("invalid") from None
        return representable_or_error(
            self, parsed if parsed.tzinfo else parsed.replace(tzinfo=CHINA_TIME))


class ReceiptCode(fields.String):
    """An anonymous report's receipt code: 16 digits, spaces and dashes ignored; loaded
    as the 16 digits."""

    default_error_messages = {"invalid": "must be 16 digits"}

    def _deserialize(self, value, attr, data, **kwargs):
        code = "".join(ch for ch in str(super()._deserialize(value, attr, data, **kwargs))
                       if ch not in " -")
        if len(code) != 16 or not code.isdigit():
            raise self.make_error("invalid")
        return code


class Yuan(fields.Decimal):
    """An amount of yuan taken in: a number or a decimal string, loaded exact (Decimal).
    Nothing is dumped with it but its bounds in the OpenAPI document, as JSON numbers."""

    def _serialize(self, value, attr, obj, **kwargs):
        number = super()._serialize(value, attr, obj, **kwargs)
        if number is None:
            return None
        return int(number) if number == number.to_integral_value() else float(number)


def _whole_fen(value):
    try:
        whole = value == value.quantize(Decimal("0.01"))
    except InvalidOperation:  # more digits than a Decimal holds: past MAX_AMOUNT anyway
        raise ValidationError(f"at most {MAX_AMOUNT} yuan") from None
    if not whole:
        raise ValidationError("yuan with at most 2 decimal places (fen)")


def _amount(**kwargs):
    """Yuan in, a number or a decimal string, kept exact to the fen."""
    kwargs.setdefault("metadata", {"description": "yuan, at most 2 decimals (a number, or "
                                                  "a decimal string)",
                                   "example": 420000})
    return Yuan(validate=[validate.Range(min=0, max=MAX_AMOUNT), _whole_fen], **kwargs)


def _yuan(**kwargs):
    """Yuan out: a decimal string, so that nobody rounds it through a float."""
    kwargs.setdefault("metadata", {"description": "yuan", "example": "420000.00"})
    return fields.String(**kwargs)


def _text(max_length, **kwargs):
    return fields.String(validate=validate.Length(min=1, max=max_length), **kwargs)


def _workers(**kwargs):
    return fields.Integer(validate=validate.Range(min=0, max=MAX_WORKERS), **kwargs)


OFFICER_TOKEN_PREFIX = "ghi_"  # an informant's token, told apart from staff's ghu_ ones
HEX_64 = validate.Regexp(r"^[0-9a-f]{64}$", error="must be 64 hex digits")
SEALED = validate.Regexp(r"^[0-9a-f]{16}\.[A-Za-z0-9+/]+={0,2}$",
                         error="must be a sealed value (key id . base64)")


def new_officer_token() -> str:
    """Made by the gateway; only its ``officer_token_hash`` crosses the broker."""
    return OFFICER_TOKEN_PREFIX + secrets.token_urlsafe(32)


def officer_token_hash(token: str) -> str:
    """32 random bytes need no slow hash: nobody enumerates 2^256 candidates."""
    return hashlib.sha256(token.encode()).hexdigest()


def _sealed(**kwargs):
    return fields.String(validate=[validate.Length(max=4000), SEALED], **kwargs)


PHONE = validate.Regexp(r"^\+?[0-9 -]{5,20}$", error="must be a phone number")


# --- informants -----------------------------------------------------------------------

class IdentitySchema(Schema):
    real_name = _text(100, required=True, metadata={"example": "王秀英"})
    phone = fields.String(allow_none=True, load_default=None, validate=PHONE,
                          metadata={"example": "13912345678"})


class EnterpriseRefSchema(Schema):
    """A registered enterprise by credit code, or one not yet registered by name,
    address and community."""

    credit_code = fields.String(
        allow_none=True, load_default=None,
        validate=validate.Regexp(CREDIT_CODE, error="must be an 18-character unified "
                                                    "social credit code"),
        metadata={"description": "统一社会信用代码 of a registered enterprise",
                  "example": "91440300MA5DA0001X"})
    name = _text(200, allow_none=True, load_default=None, metadata={
        "description": "when no credit_code is given", "example": "南坑五金制品厂"})
    address = _text(300, allow_none=True, load_default=None, metadata={
        "description": "when no credit_code is given", "example": "坂田南坑村一巷1号"})
    community_code = _text(100, allow_none=True, load_default=None, metadata={
        "description": "the community or park, when no credit_code is given",
        "example": NANKENG})

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
    """A report of a hidden danger: an officer's, or an anonymous one (``identity``
    optional)."""

    category = fields.String(required=True, validate=validate.OneOf(CATEGORIES),
                             metadata={"example": "unpaid_wages"})
    workers_affected = _workers(required=True, metadata={"example": 45})
    amount_owed = _amount(required=True)
    expected_at = DayOrDateTime(allow_none=True, load_default=None, metadata={
        "description": "when the risk is expected: a date (China time) or ISO datetime",
        "example": "2025-03-20"})
    description = _text(5000, required=True,
                        metadata={"example": "三个月未发工资，工人在厂门口聚集"})
    # Anonymous reports may leave a name and phone to be paid a reward; kept apart.
    identity = fields.Nested(IdentitySchema, allow_none=True, load_default=None, metadata={
        "description": "anonymous reports only, optional: a name and phone to be paid a "
                       "reward; sealed, revealed only by an audited request"})


class SubmittedReportSchema(ReportSchema):
    """A report as ``submit_report`` takes it: the identity sealed by the gateway
    (``shared.sealing``), never in clear (an ``identity`` field is refused)."""

    class Meta:
        exclude = ("identity",)

    sealed_identity = _sealed(allow_none=True, load_default=None)


class SubmissionSchema(Schema):
    """``submit_report``'s other arguments."""

    officer_token_hash = fields.String(allow_none=True, load_default=None, validate=HEX_64)
    # The gateway's keyed hash of the client's address (rate limits), never the address.
    source = fields.String(allow_none=True, load_default=None, validate=HEX_32)
    # The caller's id for this submission: the same id again answers with the report
    # filed the first time (a retried or redelivered request), on any replica.
    request_id = fields.String(allow_none=True, load_default=None,
                               validate=validate.Length(min=8, max=64))
    # The gateway's keyed hash of a fresh receipt code (anonymous reports); the code
    # itself never leaves the gateway.
    receipt_ref = fields.String(allow_none=True, load_default=None, validate=HEX_32)
    # The client's Idempotency-Key (shared.idempotency): a retry gets the first answer.
    idempotency = fields.Nested(IdempotencySchema, allow_none=True, load_default=None)
    # Anonymous reports: the gateway's keyed hash of the client's address and the report
    # as sent; the same again within RESUBMISSION_MINUTES is answered as already received.
    resubmission = fields.String(allow_none=True, load_default=None, validate=HEX_32)


class ReportReceiptSchema(Schema):
    """What an informant is told of their report: no case id."""

    report = fields.String(required=True, metadata={"description": "the report's pseudonym",
                                                    "example": "R-7KQ2MX9P"})
    received_at = Timestamp(required=True, metadata={"example": AT})
    receipt_code = fields.String(metadata={
        "description": "anonymous reports: 16 digits, shown this once; the status and "
                       "rewards can be followed with it", "example": "4821 9034 5567 1290"})


class AlreadyReceivedSchema(Schema):
    """The answer to an anonymous report sent again from the same client within minutes:
    it was received the first time; no second report, and no receipt code (whoever sent
    the first holds it)."""

    already_received = fields.Boolean(required=True, metadata={"example": True})
    enterprise = fields.String(required=True, metadata={"example": "南坑五金制品厂"})


class ReportFiledSchema(ReportReceiptSchema):
    class Meta:
        exclude = ("receipt_code",)

    receipt = fields.Boolean(metadata={
        "description": "filed with the receipt_ref sent (the gateway then shows its code)",
        "example": True})
    case_id = fields.String(required=True, metadata={"example": CASE_ID})
    merged = fields.Boolean(required=True, metadata={
        "description": "joined an open case of the same risk", "example": False})
    enterprise = fields.String(required=True, metadata={"example": "南坑五金制品厂"})


class ReceiptSchema(Schema):
    receipt_code = ReceiptCode(required=True, metadata={"example": "4821 9034 5567 1290"})


class ReceiptLookupSchema(Schema):
    receipt_ref = fields.String(required=True, validate=HEX_32)
    source = fields.String(allow_none=True, load_default=None, validate=HEX_32)


class MyRewardsSchema(Schema):
    officer_token_hash = fields.String(allow_none=True, load_default=None, validate=HEX_64)
    receipt_ref = fields.String(allow_none=True, load_default=None, validate=HEX_32)

    @validates_schema
    def _one(self, data, **_):
        if not data.get("officer_token_hash") and not data.get("receipt_ref"):
            raise ValidationError("an officer's token or a receipt code", "receipt_ref")


class OfficerSchema(Schema):
    organization_code = _text(100, required=True, metadata={"example": NANKENG})
    real_name = _text(100, required=True, metadata={"example": "王秀英"})
    phone = fields.String(allow_none=True, load_default=None, validate=PHONE,
                          metadata={"example": "13912345678"})


class SealedOfficerSchema(Schema):
    """``register_officer``'s data: the name and phone sealed by the gateway, and the
    SHA-256 of the token the gateway made (the token itself never crosses)."""

    organization_code = _text(100, required=True, metadata={"example": NANKENG})
    sealed_identity = _sealed(required=True)
    token_hash = fields.String(required=True, validate=HEX_64)


class RegisteredOfficerSchema(Schema):
    informant = fields.String(required=True, metadata={"description": "the pseudonym",
                                                       "example": "I-K7P2QX9M"})
    organization_code = fields.String(required=True, metadata={"example": NANKENG})


class InformantRefSchema(Schema):
    informant = _text(16, required=True, metadata={"description": "a pseudonym",
                                                   "example": "I-K7P2QX9M"})


class IssuedOfficerTokenSchema(RegisteredOfficerSchema):
    token = fields.String(required=True, metadata={
        "description": "shown once (ghi_...); the disputes service keeps its SHA-256",
        "example": "ghi_6Qn0cF1vJ8sZkq2Wd3hT5yLx9mRb7uEa4pNgVoKiXjU"})


class RevokedOfficerSchema(Schema):
    informant = fields.String(required=True, metadata={"example": "I-K7P2QX9M"})
    active = fields.Boolean(required=True, metadata={"example": False})


class RevealSchema(Schema):
    informant = _text(16, required=True, metadata={"example": "I-K7P2QX9M"})
    reason = _text(2000, required=True, metadata={"example": "支付奖励 #12"})


class RevealedIdentitySchema(Schema):
    informant = fields.String(required=True, metadata={"example": "I-K7P2QX9M"})
    real_name = fields.String(required=True, metadata={"example": "王秀英"})
    phone = fields.String(allow_none=True, metadata={"example": "13912345678"})


# --- rewards --------------------------------------------------------------------------

class RewardSchema(Schema):
    id = fields.Integer(required=True, metadata={"example": 12})
    informant = fields.String(required=True, metadata={"description": "a pseudonym",
                                                       "example": "I-K7P2QX9M"})
    case_id = fields.String(required=True, metadata={"example": CASE_ID})
    report = fields.String(metadata={"description": "the report's pseudonym (an "
                                                    "informant's own ledger)",
                                     "example": "R-7KQ2MX9P"})
    stage = fields.String(validate=validate.OneOf(REWARD_STAGES),
                          metadata={"example": "verified"})
    amount = _yuan(metadata={"description": "yuan", "example": "300.00"})
    policy_version = fields.Integer(metadata={"example": 1})
    explanation = fields.List(fields.String(), metadata={
        "description": "the rules that produced the amount, in order",
        "example": ["verified.urgent: 600.00",
                    "shared credit (first_reporter, 2 reports): x0.5000"]})
    status = fields.String(validate=validate.OneOf(REWARD_STATUSES),
                           metadata={"example": "pending"})
    month = fields.String(metadata={"description": "the month the cap counts against",
                                    "example": "2025-03"})
    created_at = Timestamp(metadata={"example": AT})
    approved_at = Timestamp(allow_none=True, metadata={"example": None})
    paid_at = Timestamp(allow_none=True, metadata={"example": None})


RewardPageSchema = page_schema(RewardSchema)


class RewardQuerySchema(CursorQuery):
    status = fields.String(allow_none=True, load_default=None,
                           validate=validate.OneOf(REWARD_STATUSES),
                           metadata={"example": "pending"})


class RewardRefSchema(Schema):
    reward_id = fields.Integer(required=True, strict=True, validate=validate.Range(min=1),
                               metadata={"example": 12})


# --- an informant's own view ----------------------------------------------------------

class StepSchema(Schema):
    at = Timestamp(metadata={"example": AT})
    status = fields.String(validate=validate.OneOf(STATUSES),
                           metadata={"example": "verified"})


class OfficerReportSchema(Schema):
    """A report as its informant follows it: how far its case has come."""

    report = fields.String(required=True, metadata={"example": "R-7KQ2MX9P"})
    received_at = Timestamp(metadata={"example": AT})
    enterprise = fields.String(metadata={"example": "南坑五金制品厂"})
    category = fields.String(validate=validate.OneOf(CATEGORIES),
                             metadata={"example": "unpaid_wages"})
    status = fields.String(validate=validate.OneOf(STATUSES),
                           metadata={"example": "reported"})


class ReceiptStatusSchema(OfficerReportSchema):
    """An anonymous informant's view of their report: all its steps and rewards."""

    steps = fields.List(fields.Nested(StepSchema))
    rewards = fields.List(fields.Nested(RewardSchema))


OfficerReportPageSchema = page_schema(OfficerReportSchema)


# --- cases ----------------------------------------------------------------------------

class CaseRefSchema(Schema):
    case_id = _text(64, required=True, metadata={"example": CASE_ID})


class CaseEnterpriseSchema(Schema):
    credit_code = fields.String(allow_none=True, metadata={"example": "91440300MA5DA0001X"})
    name = fields.String(metadata={"example": "南坑五金制品厂"})
    address = fields.String(allow_none=True, metadata={"example": "坂田南坑村一巷1号"})
    community_code = fields.String(metadata={"example": NANKENG})
    path = fields.List(fields.String(), metadata={"example": PATH})
    key_enterprise = fields.Boolean(metadata={"example": False})


class CaseSchema(Schema):
    id = fields.String(required=True, metadata={"example": CASE_ID})
    status = fields.String(validate=validate.OneOf(STATUSES),
                           metadata={"example": "reported"})
    grade = fields.String(validate=validate.OneOf(GRADES), metadata={
        "description": "major = 重大事项", "example": "urgent"})
    grade_rule = fields.String(metadata={"description": "the grading rule that decided",
                                         "example": "urgent.workers_30"})
    category = fields.String(validate=validate.OneOf(CATEGORIES),
                             metadata={"example": "unpaid_wages"})
    workers_affected = fields.Integer(metadata={"example": 45})
    amount_owed = _yuan()
    expected_at = Timestamp(allow_none=True, metadata={"example": None})
    enterprise = fields.Nested(CaseEnterpriseSchema)
    reports = fields.Integer(metadata={"description": "reports merged into the case",
                                       "example": 1})
    handled_by_tier = fields.String(allow_none=True, validate=validate.OneOf(HANDLING_TIERS),
                                    metadata={"example": None})
    joint = fields.Boolean(allow_none=True, metadata={"example": None})
    departments = fields.List(fields.String(), allow_none=True, metadata={"example": None})
    wages_recovered = _yuan(allow_none=True, metadata={"example": None})
    workers_covered = fields.Integer(allow_none=True, metadata={"example": None})
    opened_at = Timestamp(metadata={"example": AT})
    updated_at = Timestamp(metadata={"example": AT})
    resolved_at = Timestamp(allow_none=True, metadata={"example": None})


class CaseReportSchema(Schema):
    pseudonym = fields.String(metadata={"example": "R-7KQ2MX9P"})
    informant = fields.String(metadata={"description": "the informant's pseudonym",
                                        "example": "I-K7P2QX9M"})
    received_at = Timestamp(metadata={"example": AT})
    workers_affected = fields.Integer(metadata={"example": 45})
    amount_owed = _yuan()
    expected_at = Timestamp(allow_none=True, metadata={"example": None})
    description = fields.String(metadata={"example": "三个月未发工资，工人在厂门口聚集"})


class TimelineEntrySchema(Schema):
    at = Timestamp(metadata={"example": AT})
    kind = fields.String(metadata={
        "description": "opened, report_merged, regraded, status, visit, rewards, "
                       "acknowledged", "example": "opened"})
    actor = fields.String(allow_none=True, metadata={
        "description": "a staff user or a pseudonym, never a name", "example": "R-7KQ2MX9P"})
    detail = fields.Dict(metadata={"example": {"grade": "urgent",
                                               "rule": "urgent.workers_30"}})


class CaseDetailSchema(CaseSchema):
    report_list = fields.List(fields.Nested(CaseReportSchema), metadata={
        "description": "each report by pseudonym, with its informant's pseudonym"})
    timeline = fields.List(fields.Nested(TimelineEntrySchema), metadata={
        "description": "every step, regrading, visit, acknowledgement and reward"})
    rewards = fields.List(fields.Nested(RewardSchema))


CasePageSchema = page_schema(CaseSchema)


class CaseQuerySchema(CursorQuery):
    """The cases list's filters (the caller's subtree always), newest first."""

    status = fields.String(validate=validate.OneOf(STATUSES),
                           metadata={"example": "reported"})
    grade = fields.String(validate=validate.OneOf(GRADES), metadata={"example": "urgent"})
    category = fields.String(validate=validate.OneOf(CATEGORIES),
                             metadata={"example": "unpaid_wages"})
    community_code = _text(100, metadata={"example": NANKENG})
    street_code = _text(100, metadata={"example": "longgang.bantian"})
    opened_from = Day(metadata={
        "description": "opened on or after this day (China time)", "example": "2025-03-01"})
    opened_to = Day(metadata={
        "description": "opened on or before this day (China time)", "example": "2025-03-31"})


# --- the standard process -------------------------------------------------------------

class VerifySchema(Schema):
    note = _text(2000, allow_none=True, load_default=None, metadata={"example": "走访核实属实"})
    workers_affected = _workers(allow_none=True, load_default=None, metadata={
        "description": "verified: the verified figure", "example": 45})
    amount_owed = _amount(allow_none=True, load_default=None)


class RejectSchema(Schema):
    reason = _text(2000, required=True, metadata={"description": "rejected: why",
                                                  "example": "核实不属实"})


class HandlingSchema(Schema):
    handled_by_tier = fields.String(required=True, validate=validate.OneOf(HANDLING_TIERS),
                                    metadata={"description": "handling: the union tier "
                                                             "mediating",
                                              "example": "community"})
    joint = fields.Boolean(required=True, metadata={
        "description": "handling: jointly with government departments", "example": False})
    departments = fields.List(_text(100), load_default=list,
                              metadata={"example": ["区人力资源局", "街道劳动办"]})
    note = _text(2000, allow_none=True, load_default=None)

    @validates_schema(skip_on_field_errors=False)  # report every missing piece at once
    def _departments(self, data, **_):
        if data.get("joint") and not data.get("departments"):
            raise ValidationError("name the government departments of a joint mediation",
                                  "departments")


class ResolveSchema(Schema):
    wages_recovered = _amount(required=True, metadata={"description": "resolved: yuan",
                                                       "example": 80000})
    workers_covered = fields.Integer(required=True, validate=validate.Range(min=0),
                                     metadata={"description": "resolved", "example": 12})
    note = _text(2000, allow_none=True, load_default=None)


class CloseSchema(Schema):
    note = _text(2000, required=True, metadata={"description": "closed: the review (复盘)",
                                                "example": "复盘：资金链断裂"})


TRANSITION_SCHEMAS = {"verified": VerifySchema, "rejected": RejectSchema,
                      "handling": HandlingSchema, "resolved": ResolveSchema,
                      "closed": CloseSchema}


class StepTargetSchema(Schema):
    status = fields.String(required=True, validate=validate.OneOf(NEXT_STATUSES),
                           metadata={"example": "verified"})


def _any_step() -> type[Schema]:
    """The HTTP body of a step: its ``status`` and the step's fields, all of them
    optional here; the step's own schema (``TRANSITION_SCHEMAS``) says which it needs."""
    declared = dict(StepTargetSchema._declared_fields)
    for schema in TRANSITION_SCHEMAS.values():
        for name, field in schema._declared_fields.items():
            if name not in declared:
                declared[name] = copy.copy(field)
                declared[name].required = False
    return Schema.from_dict(declared, name="TransitionInSchema")


TransitionInSchema = _any_step()


# --- visits ---------------------------------------------------------------------------

class VisitSchema(EnterpriseRefSchema):
    case_id = _text(32, allow_none=True, load_default=None, metadata={
        "description": "the case the visit is about, if any", "example": CASE_ID})
    kind = fields.String(required=True, validate=validate.OneOf(VISIT_KINDS), metadata={
        "description": "走访, 回访, 约谈厂长 (interview of the factory manager)",
        "example": "interview"})
    at = DayOrDateTime(allow_none=True, load_default=None, metadata={
        "description": "when (default: now): a date (China time) or ISO datetime",
        "example": "2025-03-02"})
    irregular_practice = fields.Boolean(required=True, metadata={"example": True})
    workers_affected = _workers(allow_none=True, load_default=None, metadata={"example": 12})
    amount_owed = _amount(allow_none=True, load_default=None)
    findings = _text(5000, required=True, metadata={"example": "未签劳动合同、超时加班"})


class VisitRecordedSchema(Schema):
    visit = fields.Integer(required=True, metadata={"example": 7})
    enterprise = fields.String(metadata={"example": "南坑五金制品厂"})
    cases = fields.List(fields.String(), metadata={"description": "open cases regraded",
                                                   "example": [CASE_ID]})


# --- policies -------------------------------------------------------------------------

class PolicyKindSchema(Schema):
    kind = fields.String(required=True, validate=validate.OneOf(POLICY_KINDS),
                         metadata={"example": "rewards"})


class PolicySchema(Schema):
    kind = fields.String(validate=validate.OneOf(POLICY_KINDS),
                         metadata={"example": "rewards"})
    version = fields.Integer(metadata={"example": 1})
    effective_from = Timestamp(metadata={"example": "2000-01-01T00:00:00+00:00"})
    body = fields.Dict(metadata={"description": "the rules (policies/<kind>-1.json)",
                                 "example": {"monthly_cap": "3000"}})
    published_by = fields.String(metadata={"example": "migration 0001"})


PolicyPageSchema = page_schema(PolicySchema)


class PolicyInSchema(Schema):
    kind = fields.String(required=True, validate=validate.OneOf(POLICY_KINDS),
                         metadata={"example": "rewards"})
    effective_from = Timestamp(required=True, default_timezone=CHINA_TIME,
                               metadata={"description": "China time when it has no offset",
                                         "example": "2025-04-01T00:00:00+08:00"})
    body = fields.Dict(required=True, metadata={"example": {
        "amounts": {"verified": {"routine": "100", "serious": "300", "urgent": "600",
                                 "major": "1000"},
                    "resolved": {"routine": "50", "serious": "150", "urgent": "300",
                                 "major": "500"}},
        "sharing": {"mode": "first_reporter", "first_share": "0.5"},
        "monthly_cap": "3000"}})


class PolicyPublishedSchema(Schema):
    kind = fields.String(required=True, metadata={"example": "rewards"})
    version = fields.Integer(required=True, metadata={"example": 2})


# --- statistics -----------------------------------------------------------------------

class StatisticsQuerySchema(Schema):
    code = _text(100, allow_none=True, load_default=None, metadata={
        "description": "default: the caller's organization", "example": NANKENG})
    year = fields.Integer(allow_none=True, load_default=None,
                          validate=validate.Range(min=2000, max=2100),
                          metadata={"example": 2015})


class YearFiguresSchema(Schema):
    year = fields.Integer(metadata={"example": 2015})
    disputes = fields.Integer(metadata={"example": 3900})
    alone = fields.Integer(metadata={"example": 1272})
    joint = fields.Integer(metadata={"example": 2628})
    change_percent = fields.Float(allow_none=True, metadata={
        "description": "on the year before", "example": 19.5})
    alone_ratio_to_previous = fields.Float(allow_none=True, metadata={"example": 4.0})


class WageFlightSchema(Schema):
    cases = fields.Integer(metadata={"example": 9})
    workers = fields.Integer(metadata={"example": 193})
    amount_owed = _yuan(metadata={"example": "1900000.00"})


class VisitFiguresSchema(Schema):
    visits = fields.Integer(metadata={"example": 520})
    enterprises_visited = fields.Integer(metadata={"example": 336})
    enterprises_irregular = fields.Integer(metadata={"example": 175})


class DisputeStatisticsSchema(Schema):
    code = fields.String(allow_none=True, metadata={"example": "longgang.longcheng.zhangbei"})
    year = fields.Integer(allow_none=True, metadata={"example": 2015})
    disputes = fields.Integer(metadata={"description": "cases the unions took part in",
                                        "example": 109})
    alone = fields.Integer(metadata={"description": "handled alone (独立调处)",
                                     "example": 30})
    joint = fields.Integer(metadata={"example": 79})
    by_tier = fields.Dict(keys=fields.String(), values=fields.Integer(), metadata={
        "example": {"community": 41, "enterprise": 12, "street": 39, "district": 17}})
    by_street = fields.Dict(keys=fields.String(), values=fields.Integer(), metadata={
        "example": {"longgang.longcheng": 109}})
    by_category = fields.Dict(keys=fields.String(), values=fields.Integer(), metadata={
        "example": {"boss_absconded": 9, "unpaid_wages": 14}})
    settled_locally_share = fields.Float(allow_none=True, metadata={
        "description": "handled at community or enterprise level", "example": 0.4862})
    by_year = fields.List(fields.Nested(YearFiguresSchema))
    wage_flight = fields.Nested(WageFlightSchema, metadata={
        "description": "boss-absconded cases (欠薪逃逸)"})
    visits = fields.Nested(VisitFiguresSchema, metadata={
        "description": "enterprises visited (走访/回访/约谈)"})
