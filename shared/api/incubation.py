"""The incubation service's RPC contract: what each method takes and answers.

Used by ``services/incubation/service.py`` (every argument loaded, every answer dumped
here) and by the gateway's ``routes/incubation.py`` (bodies checked early, documented in
``/openapi.json``). Money is yuan with two places as a string (``"300000.00"``); days are
``YYYY-MM-DD``; timestamps RFC 3339 with an offset.

Every method takes the caller (``shared.caller``) last. An organization's own account is
a gateway user whose organization code is ``so:<organization id>`` (``account_code``):
it sees and reports only that organization's own data; staff see and change the
organizations based within their subtree.
"""

import re
from decimal import Decimal, InvalidOperation

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from shared.api.registry import CreditCode
from shared.events.incubation import GRADES, REFERRAL_OUTCOMES, SERVICE_KINDS, STAGES
from shared.paging import CursorQuery, page_schema
from shared.schemas import Day, Timestamp

ACCOUNT_PREFIX = "so:"  # a gateway user of this organization code is its own account
MAX_BENEFICIARIES = 2000
FUND_SOURCES = ("district", "street", "city", "provincial", "national", "donation")
MAX_YUAN = 10**10


def account_code(organization_id: int) -> str:
    """The gateway organization code of an organization's own account: ``so:17``."""
    return f"{ACCOUNT_PREFIX}{organization_id}"


def account_organization(organization_code: str) -> int | None:
    """The organization an account code belongs to (``so:17`` -> 17), else None."""
    match = re.fullmatch(r"so:([1-9][0-9]{0,17})", organization_code or "")
    return int(match[1]) if match else None


def text(max_length, **kwargs):
    return fields.String(validate=validate.Length(min=1, max=max_length), **kwargs)


def code(**kwargs):
    """A registry place: an organization code or an enterprise's credit code."""
    return fields.String(validate=[validate.Length(min=1, max=100), validate.Regexp(
        r"^[A-Za-z0-9][A-Za-z0-9.-]*$", error="a registry code: letters, digits, '.', '-'")],
        **kwargs)


class DecimalText(fields.String):
    """A decimal number as text with a fixed number of places (``"300000.00"``, ``"2.5"``):
    loaded as a ``Decimal`` from text or a JSON number, dumped as text, documented as a
    string, so that no client rounds money through a float."""

    def __init__(self, places: int = 2, **kwargs):
        self.places = places
        self.quantum = Decimal(1).scaleb(-places)
        super().__init__(**kwargs)

    def _serialize(self, value, attr, obj, **kwargs):
        if value is None:
            return None
        return str(Decimal(value).quantize(self.quantum))

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            raise ValidationError("a decimal number, e.g. \"300000.00\"")
        try:
            number = Decimal(str(value).strip())
        except InvalidOperation:
            raise ValidationError("a decimal number, e.g. \"300000.00\"") from None
        if not number.is_finite() or number != number.quantize(self.quantum):
            raise ValidationError(f"a decimal number with at most {self.places} places")
        return number.quantize(self.quantum)


def money(**kwargs):
    """Yuan with two places, more than 0."""
    return DecimalText(2, validate=validate.Range(min=0, max=MAX_YUAN, min_inclusive=False),
                       **kwargs)


def yuan(**kwargs):
    """Yuan as an answer gives it (may be 0 or negative, as in a ledger)."""
    return DecimalText(2, **kwargs)


def identifier(**kwargs):
    """A row's number (from a JSON body, a query string or an RPC argument)."""
    return fields.Integer(validate=validate.Range(min=1, max=2**63 - 1), **kwargs)


def day(**kwargs):
    """A day given as input: bounded (``shared.schemas.Day``), never an overflow later."""
    return Day(**kwargs)


PLACE_EXAMPLE = "longgang.bantian.nankeng"


# --- organizations -------------------------------------------------------------------

class ContactSchema(Schema):
    name = text(100, required=True, metadata={"example": "李晓红"})
    role = text(100, load_default="负责人", metadata={"example": "理事长"})
    phone = fields.String(required=True, validate=validate.Regexp(
        r"^\+?[0-9][0-9 ()-]{4,30}$", error="a phone number has digits, spaces, +, -, ( )"),
        metadata={"example": "0755-28900001"})


class NewSocialOrganizationSchema(Schema):
    name = text(200, required=True, metadata={"example": "龙岗区彩虹职工法律服务中心"})
    service_kind = fields.String(required=True, validate=validate.OneOf(SERVICE_KINDS),
                                 metadata={"example": "legal_aid"})
    home_code = code(required=True, metadata={
        "description": "the registry place it is based at", "example": PLACE_EXAMPLE})
    places = fields.List(code(), validate=validate.Length(max=50), load_default=list,
                         metadata={"description": "where it serves (registry codes); its "
                                                  "home place is always one",
                                   "example": [PLACE_EXAMPLE, "longgang.bantian.gangtou"]})
    contacts = fields.List(fields.Nested(ContactSchema), load_default=list,
                           validate=validate.Length(max=10))
    credit_code = CreditCode(allow_none=True, load_default=None, metadata={
        "description": "统一社会信用代码, once registered with civil affairs",
        "example": "52440307MJL0000017"})
    registered_on = day(allow_none=True, load_default=None, metadata={"example": "2014-03-01"})
    hub = fields.Boolean(load_default=False, metadata={
        "description": "the hub federation itself (服务职工社会组织联合会): graded, funded, "
                       "but not incubated"})
    reason = text(500, load_default="申请入驻孵化", metadata={"example": "申请入驻孵化基地"})
    applied_on = day(load_default=None, metadata={
        "description": "the day it applied (default today; not in the future)",
        "example": "2013-09-02"})


class SocialOrganizationChangesSchema(Schema):
    name = text(200, metadata={"example": "龙岗区彩虹职工法律服务中心"})
    places = fields.List(code(), validate=validate.Length(min=1, max=50),
                         metadata={"example": [PLACE_EXAMPLE]})
    contacts = fields.List(fields.Nested(ContactSchema), validate=validate.Length(max=10))
    credit_code = CreditCode(metadata={"example": "52440307MJL0000017"})
    registered_on = day(metadata={"example": "2014-03-01"})

    @validates_schema
    def _something(self, data, **_):
        if not data:
            raise ValidationError("send at least one field to change", "_schema")


class MilestoneSchema(Schema):
    title = text(200, required=True, metadata={"example": "完成民政登记"})
    due_on = day(required=True, metadata={"example": "2014-06-30"})
    done = fields.Boolean(load_default=False)


class PlanSchema(Schema):
    mentor = text(100, required=True, metadata={"example": "陈导师"})
    milestones = fields.List(fields.Nested(MilestoneSchema), required=True,
                             validate=validate.Length(min=1, max=50))
    training = fields.List(text(200), load_default=list, validate=validate.Length(max=50),
                           metadata={"example": ["财务管理", "项目设计"]})


class TransitionSchema(Schema):
    stage = fields.String(required=True, validate=validate.OneOf(STAGES[1:]),
                          metadata={"example": "admitted"})
    reason = text(500, required=True, metadata={"example": "评审通过，入驻孵化"})
    effective_on = day(load_default=None, metadata={
        "description": "the day it took effect (default today; not in the future)",
        "example": "2014-01-10"})
    plan = fields.Nested(PlanSchema, load_default=None, metadata={
        "description": "needed to start incubating"})
    incubation_deadline = day(load_default=None, metadata={
        "description": "on admission: the end of the incubation period (default: the "
                       "rules policy's months from admission)", "example": "2016-01-10"})


class AssessorSchema(Schema):
    name = text(100, required=True, metadata={"example": "省评估中心专家组"})
    scores = fields.Dict(keys=fields.String(validate=validate.Length(min=1, max=40)),
                         values=DecimalText(2, validate=validate.Range(min=0, max=1000)),
                         required=True, validate=validate.Length(min=1, max=20),
                         metadata={"example": {"basic_conditions": "85",
                                               "internal_governance": "82",
                                               "work_performance": "84",
                                               "social_evaluation": "80"}})


class AssessmentInSchema(Schema):
    assessed_on = day(required=True, metadata={"example": "2015-11-20"})
    evaluator = text(200, required=True, metadata={"example": "广东省社会组织评估中心"})
    assessors = fields.List(fields.Nested(AssessorSchema), required=True,
                            validate=validate.Length(min=1, max=20))


class SocialOrganizationListQuery(CursorQuery):
    code = code(required=True, metadata={"description": "organizations based within this "
                                                         "subtree", "example": "longgang"})
    stage = fields.String(load_default=None, validate=validate.OneOf(STAGES))
    grade = fields.String(load_default=None, validate=validate.OneOf(GRADES))


class GradeOut(Schema):
    grade = fields.String(required=True, metadata={"example": "4A"})
    valid_until = fields.Date(required=True, metadata={"example": "2020-11-20"})
    assessment_id = fields.Integer(required=True, metadata={"example": 1})


class PlaceOut(Schema):
    code = fields.String(required=True, metadata={"example": PLACE_EXAMPLE})
    path = fields.List(fields.String(), required=True, metadata={
        "example": ["longgang", "longgang.bantian", PLACE_EXAMPLE]})


class StageChangeOut(Schema):
    from_stage = fields.String(allow_none=True, required=True)
    to_stage = fields.String(required=True, metadata={"example": "admitted"})
    effective_on = fields.Date(required=True)
    reason = fields.String(required=True, metadata={"example": "评审通过，入驻孵化"})
    actor = fields.String(required=True, metadata={"example": "孵化基地 王主任"})
    at = Timestamp(required=True)


class SocialOrganizationOut(Schema):
    id = fields.Integer(required=True, metadata={"example": 17})
    name = fields.String(required=True, metadata={"example": "龙岗区彩虹职工法律服务中心"})
    service_kind = fields.String(required=True, metadata={"example": "legal_aid"})
    hub = fields.Boolean(required=True)
    home = fields.Nested(PlaceOut, required=True)
    places = fields.List(fields.String(), required=True)
    contacts = fields.List(fields.Nested(ContactSchema), required=True)
    credit_code = fields.String(allow_none=True, required=True)
    registered_on = fields.Date(allow_none=True, required=True)
    stage = fields.String(allow_none=True, required=True, metadata={"example": "incubating"})
    stage_since = fields.Date(allow_none=True, required=True)
    incubation_deadline = fields.Date(allow_none=True, required=True)
    plan = fields.Nested(PlanSchema, allow_none=True, required=True)
    grade = fields.Nested(GradeOut, allow_none=True, required=True)
    activities = fields.Integer(required=True, metadata={"example": 24})
    account_code = fields.String(required=True, metadata={
        "description": "the gateway organization code of its own account",
        "example": "so:17"})
    history = fields.List(fields.Nested(StageChangeOut), metadata={
        "description": "every stage change, oldest first (one organization's view only)"})
    created_at = Timestamp(required=True)


SocialOrganizationPageOut = page_schema(SocialOrganizationOut)


class BreakdownOut(Schema):
    indicator = fields.String(required=True, metadata={"example": "work_performance"})
    label = fields.String(required=True, metadata={"example": "工作绩效"})
    weight = DecimalText(2, required=True, metadata={"example": "0.40"})
    mean = yuan(required=True, metadata={"example": "84.00"})
    weighted = yuan(required=True, metadata={"example": "33.60"})


class AssessmentOut(Schema):
    id = fields.Integer(required=True, metadata={"example": 1})
    organization_id = fields.Integer(required=True, metadata={"example": 17})
    assessed_on = fields.Date(required=True)
    evaluator = fields.String(required=True, metadata={"example": "广东省社会组织评估中心"})
    assessors = fields.List(fields.Nested(AssessorSchema), required=True)
    breakdown = fields.List(fields.Nested(BreakdownOut), required=True)
    total = fields.String(required=True, metadata={"example": "82.85"})
    grade = fields.String(allow_none=True, required=True, metadata={
        "description": "null: the total is below the lowest band", "example": "4A"})
    band_min = fields.String(allow_none=True, required=True, metadata={"example": "80"})
    policy_version = fields.Integer(required=True, metadata={"example": 1})
    valid_until = fields.Date(required=True)
    recorded_by = fields.String(required=True)
    at = Timestamp(required=True)


AssessmentPageOut = page_schema(AssessmentOut)


# --- funds, calls, applications, awards ----------------------------------------------

class ConditionsSchema(Schema):
    registered = fields.Boolean(metadata={"example": True})
    min_grade = fields.String(validate=validate.OneOf(GRADES), metadata={"example": "3A"})
    stages = fields.List(fields.String(validate=validate.OneOf(STAGES)),
                         validate=validate.Length(min=1, max=len(STAGES)))
    min_activities = fields.Integer(strict=True, validate=validate.Range(min=0, max=100_000))


class NewFundSchema(Schema):
    name = text(200, required=True, metadata={"example": "广东省省级社会组织专项资金"})
    source = fields.String(required=True, validate=validate.OneOf(FUND_SOURCES),
                           metadata={"example": "provincial"})
    owner_code = code(required=True, metadata={
        "description": "the registry organization whose staff run it",
        "example": "longgang"})
    budget = money(required=True, metadata={"example": "3000000.00"})


class FundOut(Schema):
    id = fields.Integer(required=True, metadata={"example": 1})
    name = fields.String(required=True)
    source = fields.String(required=True)
    owner_code = fields.String(required=True)
    budget = yuan(required=True, metadata={"example": "3000000.00"})
    awarded = yuan(required=True, metadata={"example": "300000.00"})
    disbursed = yuan(required=True, metadata={"example": "150000.00"})
    remaining = yuan(required=True, metadata={
        "description": "budget not yet awarded", "example": "2700000.00"})
    created_at = Timestamp(required=True)


class FundListQuery(CursorQuery):
    code = code(load_default=None, metadata={
        "description": "funds run within this subtree (default: the caller's organization)"})


FundPageOut = page_schema(FundOut)


class NewCallSchema(Schema):
    title = text(200, required=True, metadata={"example": "2016年度职工服务项目申报"})
    opens_at = Timestamp(required=True)
    closes_at = Timestamp(required=True)
    eligibility = fields.Nested(ConditionsSchema, load_default=dict)
    max_award = money(load_default=None, metadata={"example": "300000.00"})

    @validates_schema
    def _window(self, data, **_):
        if data.get("opens_at") and data.get("closes_at") and \
                data["closes_at"] <= data["opens_at"]:
            raise ValidationError("a call closes after it opens", "closes_at")


class CallOut(Schema):
    id = fields.Integer(required=True, metadata={"example": 1})
    fund_id = fields.Integer(required=True, metadata={"example": 1})
    title = fields.String(required=True)
    opens_at = Timestamp(required=True)
    closes_at = Timestamp(required=True)
    eligibility = fields.Nested(ConditionsSchema, required=True)
    max_award = yuan(allow_none=True, required=True)
    open = fields.Boolean(required=True, metadata={"description": "accepting applications now"})
    created_at = Timestamp(required=True)


class CallListQuery(CursorQuery):
    fund_id = identifier(required=True)


CallPageOut = page_schema(CallOut)


class NewApplicationSchema(Schema):
    organization_id = identifier(required=True, metadata={"example": 17})
    project = text(200, required=True, metadata={"example": "外来务工人员法律援助进社区"})
    amount = money(required=True, metadata={"example": "300000.00"})


class ReviewSchema(Schema):
    score = DecimalText(2, required=True,
                           validate=validate.Range(min=0, max=100), metadata={"example": "88.5"})
    note = text(2000, load_default=None, metadata={"example": "项目设计合理"})


class DecisionReasonSchema(Schema):
    reason = text(500, required=True, metadata={"example": "不符合申报条件"})


class AwardInSchema(Schema):
    amount = money(load_default=None, metadata={
        "description": "default: the amount applied for", "example": "300000.00"})
    tranches = fields.List(money(), load_default=None, validate=validate.Length(min=1, max=12),
                           metadata={"description": "the amounts paid, in order, each "
                                                    "against an accepted progress report "
                                                    "(default: two equal tranches)",
                                     "example": ["150000.00", "150000.00"]})


class ApplicationOut(Schema):
    id = fields.Integer(required=True, metadata={"example": 1})
    call_id = fields.Integer(required=True)
    organization_id = fields.Integer(required=True)
    project = fields.String(required=True)
    amount = yuan(required=True, metadata={"example": "300000.00"})
    status = fields.String(required=True, metadata={
        "description": "submitted, reviewed, awarded or rejected", "example": "reviewed"})
    score = fields.String(allow_none=True, required=True, metadata={"example": "88.50"})
    note = fields.String(allow_none=True, required=True)
    submitted_at = Timestamp(required=True)
    decided_at = Timestamp(allow_none=True, required=True)
    award_id = fields.Integer(allow_none=True, required=True)


class ApplicationListQuery(CursorQuery):
    call_id = identifier(load_default=None)
    organization_id = identifier(load_default=None)
    status = fields.String(load_default=None, validate=validate.OneOf(
        ("submitted", "reviewed", "awarded", "rejected")))

    @validates_schema
    def _one(self, data, **_):
        if (data.get("call_id") is None) == (data.get("organization_id") is None):
            raise ValidationError("give exactly one of call_id and organization_id",
                                  "call_id")


ApplicationPageOut = page_schema(ApplicationOut)


class ReportStateOut(Schema):
    id = fields.Integer(required=True)
    status = fields.String(required=True, metadata={"example": "accepted"})


class TrancheOut(Schema):
    number = fields.Integer(required=True, metadata={"example": 1})
    amount = yuan(required=True, metadata={"example": "150000.00"})
    paid_at = Timestamp(allow_none=True, required=True)
    report = fields.Nested(ReportStateOut, allow_none=True, required=True)


class AwardOut(Schema):
    id = fields.Integer(required=True, metadata={"example": 1})
    application_id = fields.Integer(required=True)
    fund_id = fields.Integer(required=True)
    organization_id = fields.Integer(required=True)
    amount = yuan(required=True, metadata={"example": "300000.00"})
    disbursed = yuan(required=True)
    awarded_on = fields.Date(required=True)
    tranches = fields.List(fields.Nested(TrancheOut), required=True)


class ProgressReportInSchema(Schema):
    tranche = fields.Integer(strict=True, required=True, validate=validate.Range(min=1, max=12),
                             metadata={"example": 1})
    summary = text(5000, required=True, metadata={"example": "已开展法律讲座12场，服务职工860人次"})


class NoteSchema(Schema):
    note = text(2000, load_default=None, metadata={"example": "材料齐全，同意"})


class TrancheInSchema(Schema):
    tranche = fields.Integer(strict=True, required=True, validate=validate.Range(min=1, max=12),
                             metadata={"example": 1})


class ProgressReportOut(Schema):
    id = fields.Integer(required=True, metadata={"example": 1})
    award_id = fields.Integer(required=True)
    tranche = fields.Integer(required=True)
    summary = fields.String(required=True)
    status = fields.String(required=True, metadata={"example": "submitted"})
    submitted_by = fields.String(required=True)
    submitted_at = Timestamp(required=True)
    decided_by = fields.String(allow_none=True, required=True)
    decided_at = Timestamp(allow_none=True, required=True)
    note = fields.String(allow_none=True, required=True)


class LedgerOut(Schema):
    of = fields.String(required=True, metadata={"description": "fund or organization",
                                                "example": "fund"})
    id = fields.Integer(required=True)
    accounts = fields.Dict(keys=fields.String(), values=yuan(),
                           required=True, metadata={"example": {
                               "source": "-3000000.00", "available": "2700000.00",
                               "committed": "150000.00", "paid": "150000.00"}})
    balanced = fields.Boolean(required=True, metadata={
        "description": "the lines add up to 0"})
    agrees = fields.Boolean(required=True, metadata={
        "description": "the ledger's balances are the fund's (or the organization's awards') "
                       "own figures"})


# --- purchased services ---------------------------------------------------------------

class DeliverableInSchema(Schema):
    title = text(200, required=True, metadata={"example": "每季度开展法律讲座3场"})
    due_on = day(required=True, metadata={"example": "2016-06-30"})


class NewContractSchema(Schema):
    organization_id = identifier(required=True, metadata={"example": 17})
    buyer_code = code(required=True, metadata={
        "description": "the registry organization buying (a street, the district "
                       "federation)", "example": "longgang.bantian"})
    service = text(200, required=True, metadata={"example": "坂田街道职工法律援助服务"})
    amount = money(required=True, metadata={"example": "120000.00"})
    starts_on = day(required=True, metadata={"example": "2016-01-01"})
    ends_on = day(required=True, metadata={"example": "2016-12-31"})
    deliverables = fields.List(fields.Nested(DeliverableInSchema), required=True,
                               validate=validate.Length(min=1, max=50))

    @validates_schema
    def _period(self, data, **_):
        if data.get("starts_on") and data.get("ends_on") and data["ends_on"] < data["starts_on"]:
            raise ValidationError("a contract ends on or after it starts", "ends_on")


class AcceptanceSchema(Schema):
    number = fields.Integer(strict=True, required=True, validate=validate.Range(min=1, max=50),
                            metadata={"description": "the deliverable's number", "example": 1})
    note = text(2000, load_default=None, metadata={"example": "验收合格"})


class DeliverableOut(Schema):
    number = fields.Integer(required=True, metadata={"example": 1})
    title = fields.String(required=True)
    due_on = fields.Date(required=True)
    accepted_at = Timestamp(allow_none=True, required=True)
    accepted_by = fields.String(allow_none=True, required=True)
    note = fields.String(allow_none=True, required=True)


class ContractOut(Schema):
    id = fields.Integer(required=True, metadata={"example": 1})
    organization_id = fields.Integer(required=True)
    buyer_code = fields.String(required=True)
    service = fields.String(required=True)
    amount = yuan(required=True)
    starts_on = fields.Date(required=True)
    ends_on = fields.Date(required=True)
    status = fields.String(required=True, metadata={"example": "active"})
    deliverables = fields.List(fields.Nested(DeliverableOut), required=True)
    signed_by = fields.String(required=True)
    policy_version = fields.Integer(required=True)
    created_at = Timestamp(required=True)


class ContractListQuery(CursorQuery):
    organization_id = identifier(required=True)


ContractPageOut = page_schema(ContractOut)


# --- activities and statistics ----------------------------------------------------------

class BeneficiarySchema(Schema):
    worker_id = identifier(load_default=None, metadata={
        "description": "a union member: membership's worker number (linked to the member)",
        "example": 1043})
    ref = text(100, load_default=None, metadata={
        "description": "anyone else: the organization's own reference for the person "
                       "(sign-in sheet number), the same each time they come",
        "example": "NK-2015-0042"})

    @validates_schema
    def _one(self, data, **_):
        if (data.get("worker_id") is None) == (data.get("ref") is None):
            raise ValidationError("give exactly one of worker_id and ref", "_schema")


class NewActivitySchema(Schema):
    organization_id = identifier(required=True, metadata={"example": 17})
    kind = fields.String(required=True, validate=validate.OneOf(SERVICE_KINDS),
                         metadata={"example": "legal_aid"})
    title = text(200, required=True, metadata={"example": "劳动合同法进社区讲座"})
    held_on = day(required=True, metadata={"example": "2015-06-13"})
    place_code = code(required=True, metadata={"example": PLACE_EXAMPLE})
    hours = DecimalText(1, required=True,
                           validate=validate.Range(min=0, max=24, min_inclusive=False),
                           metadata={"example": "2.5"})
    participants = fields.Integer(strict=True, required=True,
                                  validate=validate.Range(min=1, max=100_000),
                                  metadata={"description": "head-count", "example": 120})
    beneficiaries = fields.List(fields.Nested(BeneficiarySchema), load_default=list,
                                validate=validate.Length(max=MAX_BENEFICIARIES))

    @validates_schema
    def _counted(self, data, **_):
        named = data.get("beneficiaries") or []
        if data.get("participants") is not None and len(named) > data["participants"]:
            raise ValidationError("more beneficiaries named than participants counted",
                                  "beneficiaries")


class ActivityOut(Schema):
    id = fields.Integer(required=True, metadata={"example": 1})
    organization_id = fields.Integer(required=True)
    kind = fields.String(required=True)
    title = fields.String(required=True)
    held_on = fields.Date(required=True)
    place_code = fields.String(required=True)
    place_path = fields.List(fields.String(), required=True)
    hours = DecimalText(1, required=True, metadata={"example": "2.5"})
    participants = fields.Integer(required=True)
    beneficiaries = fields.Integer(required=True)
    members = fields.Integer(required=True, metadata={
        "description": "beneficiaries linked to a union member"})
    reported_by = fields.String(required=True)
    created_at = Timestamp(required=True)


class ActivityListQuery(CursorQuery):
    organization_id = identifier(required=True)


ActivityPageOut = page_schema(ActivityOut)


class StatisticsQuery(Schema):
    """A period key (kept figures: index reads), or a range of days ``from``-``to``
    (either end may be left open), counted from the activities themselves."""

    code = code(required=True, metadata={"example": "longgang"})
    period = fields.String(load_default=None, validate=validate.Regexp(
        r"^(all|\d{4}(-(Q[1-4]|0[1-9]|1[0-2]))?)$",
        error="a period is all, a year (2015), a quarter (2015-Q3) or a month (2015-07)"),
        metadata={"description": "default all; not with from/to", "example": "2015"})
    first = day(data_key="from", load_default=None, metadata={
        "description": "first day of a range (inclusive, the district's calendar)",
        "example": "2015-03-01"})
    last = day(data_key="to", load_default=None, metadata={
        "description": "last day of a range (inclusive)", "example": "2015-06-30"})

    @validates_schema
    def _period_or_range(self, data, **_):
        first, last = data.get("first"), data.get("last")
        if first is not None and last is not None and first > last:
            raise ValidationError("from is after to", "from")
        if data.get("period") is not None and (first is not None or last is not None):
            raise ValidationError("give a period or a from/to range, not both", "period")


class ActivityFiguresOut(Schema):
    activities = fields.Integer(required=True, metadata={"example": 1050})
    participants = fields.Integer(required=True, metadata={"example": 131250})
    beneficiaries = fields.Integer(required=True, metadata={"example": 115500})
    members = fields.Integer(required=True)
    hours = DecimalText(1, required=True)


class ReachFiguresOut(ActivityFiguresOut):
    workers_reached = fields.Integer(required=True, metadata={
        "description": "distinct people among the beneficiaries", "example": 102400})


class BelowOut(Schema):
    code = fields.String(required=True)
    name = fields.String(required=True)
    activities = fields.Integer(required=True)
    workers_reached = fields.Integer(required=True)


class OrganizationFiguresOut(Schema):
    total = fields.Integer(required=True, metadata={"example": 47})
    hubs = fields.Integer(required=True, metadata={"example": 1})
    by_stage = fields.Dict(keys=fields.String(), values=fields.Integer(), required=True,
                           metadata={"example": {"graduated": 41, "incubating": 3}})
    by_grade = fields.Dict(keys=fields.String(), values=fields.Integer(), required=True,
                           metadata={"example": {"4A": 5, "3A": 37}})


class FundFiguresOut(Schema):
    awarded = yuan(required=True, metadata={"example": "300000.00"})
    disbursed = yuan(required=True)


class StatisticsOut(Schema):
    code = fields.String(required=True, metadata={"example": "longgang"})
    period = fields.String(required=True, metadata={
        "description": "the period key, or a range as an ISO 8601 interval of days "
                       "(2015-03-01/2015-06-30; an open end is ..)", "example": "all"})
    organizations = fields.Nested(OrganizationFiguresOut, required=True, metadata={
        "description": "based within the subtree, as they stand now"})
    activities = fields.Nested(ReachFiguresOut, required=True, metadata={
        "description": "held within the subtree in the period"})
    by_kind = fields.Dict(keys=fields.String(), values=fields.Nested(ReachFiguresOut),
                          required=True, metadata={
                              "description": "the same figures for each kind of activity; "
                                             "a worker reached by two kinds counts in both"})
    below = fields.List(fields.Nested(BelowOut), required=True, metadata={
        "description": "each organization directly below (streets of the district ...)"})
    funds = fields.Nested(FundFiguresOut, required=True, metadata={
        "description": "awarded in the period to organizations based within the subtree, "
                       "and paid of it"})


# --- referrals ---------------------------------------------------------------------------

class ReferralInSchema(Schema):
    organization_id = identifier(required=True, metadata={"example": 17})
    note = text(2000, load_default=None, metadata={"example": "工伤赔偿咨询，请尽快联系"})


class ReferralOutcomeSchema(Schema):
    outcome = fields.String(required=True, validate=validate.OneOf(REFERRAL_OUTCOMES),
                            metadata={"example": "served"})
    note = text(2000, load_default=None, metadata={"example": "已安排律师面谈"})


class ReferralOut(Schema):
    id = fields.Integer(required=True, metadata={"example": 1})
    request_id = fields.Integer(required=True, metadata={"example": 8})
    worker_id = fields.Integer(required=True)
    organization_id = fields.Integer(required=True)
    organization_name = fields.String(required=True)
    request_kind = fields.String(required=True, metadata={"example": "legal_consultation"})
    status = fields.String(required=True, metadata={
        "description": "referred, served or declined", "example": "referred"})
    note = fields.String(allow_none=True, required=True)
    outcome_note = fields.String(allow_none=True, required=True)
    referred_by = fields.String(required=True)
    referred_at = Timestamp(required=True)
    concluded_by = fields.String(allow_none=True, required=True)
    concluded_at = Timestamp(allow_none=True, required=True)


class ReferralListQuery(CursorQuery):
    organization_id = identifier(required=True)


ReferralPageOut = page_schema(ReferralOut)


class CandidateOut(Schema):
    organization_id = fields.Integer(required=True, metadata={"example": 17})
    name = fields.String(required=True)
    service_kind = fields.String(required=True)
    stage = fields.String(required=True)
    grade = fields.String(allow_none=True, required=True)


class CandidatesOut(Schema):
    request_id = fields.Integer(required=True)
    request_kind = fields.String(required=True)
    service_kinds = fields.List(fields.String(), required=True)
    place = fields.List(fields.String(), required=True, metadata={
        "description": "where the member is: district .. community (.. enterprise)"})
    candidates = fields.List(fields.Nested(CandidateOut), required=True)


class PolicyOut(Schema):
    kind = fields.String(required=True, metadata={"example": "grading"})
    version = fields.Integer(required=True, metadata={"example": 1})
    effective_from = fields.Date(required=True)
    title = fields.String(required=True)
    body = fields.Dict(required=True)


PolicyPageOut = page_schema(PolicyOut)
