"""Events published by incubation (source ``incubation``, exchange ``incubation.events``).

The hub federation (服务职工社会组织联合会) incubates worker-service social organizations:
stages from application to graduation (出壳), grades 1A-5A, funds and awards, purchased
services, activities, and members' service requests referred from membership.

Organizations are named by ``organization_id`` (a number with no meaning outside
incubation); places by registry codes, with ``home_path`` (district .. the place) so a
consumer can place an organization without asking. Amounts are yuan as decimal strings
("300000.00"). Beneficiaries never travel: activities carry counts only, and a referral
names the member by membership's own ``worker_id``.
"""

from marshmallow import Schema, fields, validate

from shared.events.envelope import catalogue

SERVICE_KINDS = (
    "legal_aid",  # 法律援助
    "counselling",  # 心理咨询
    "culture_sports",  # 文体活动
    "skills",  # 技能培训
    "volunteering",  # 志愿服务
    "hardship_care",  # 困难帮扶
    "family",  # 婚恋亲子
)
STAGES = (
    "applied",  # 申请入驻
    "admitted",  # 入驻孵化
    "incubating",  # 孵化中 (with a plan)
    "assessed",  # 评估
    "graduated",  # 出壳
    "exited",  # 退出
)
GRADES = ("1A", "2A", "3A", "4A", "5A")
REFERRAL_OUTCOMES = ("served", "declined")

# Yuan with two places, as text ("300000.00"), so no consumer rounds it through a float.
AMOUNT = validate.Regexp(r"^-?[0-9]{1,13}\.[0-9]{2}$", error="yuan with two places")


def _money(**kwargs):
    return fields.String(required=True, validate=AMOUNT, **kwargs)


class OrganizationSchema(Schema):
    organization_id = fields.Integer(required=True)
    name = fields.String(required=True)
    service_kind = fields.String(required=True, validate=validate.OneOf(SERVICE_KINDS))
    hub = fields.Boolean(required=True)
    home_code = fields.String(required=True)  # the registry place it is based at
    home_path = fields.List(fields.String(), required=True)
    stage = fields.String(allow_none=True, required=True, validate=validate.OneOf(STAGES))
    credit_code = fields.String(allow_none=True, required=True)


class OrganizationUpdatedSchema(OrganizationSchema):
    changed = fields.List(fields.String(), required=True)


class StageChangedSchema(OrganizationSchema):
    from_stage = fields.String(required=True, validate=validate.OneOf(STAGES))
    reason = fields.String(required=True)
    actor = fields.String(required=True)
    incubation_deadline = fields.Date(allow_none=True, required=True)


class GradedSchema(Schema):
    organization_id = fields.Integer(required=True)
    assessment_id = fields.Integer(required=True)
    grade = fields.String(allow_none=True, required=True, validate=validate.OneOf(GRADES))
    total = _money()  # the weighted score, two places
    assessed_on = fields.Date(required=True)
    valid_until = fields.Date(required=True)
    policy_version = fields.Integer(required=True)


class GradeLapsedSchema(Schema):
    organization_id = fields.Integer(required=True)
    grade = fields.String(required=True, validate=validate.OneOf(GRADES))
    valid_until = fields.Date(required=True)


class DeadlineSchema(Schema):
    organization_id = fields.Integer(required=True)
    name = fields.String(required=True)
    home_path = fields.List(fields.String(), required=True)
    stage = fields.String(required=True, validate=validate.OneOf(STAGES))
    incubation_deadline = fields.Date(required=True)
    days_left = fields.Integer(required=True)


class FundSchema(Schema):
    fund_id = fields.Integer(required=True)
    name = fields.String(required=True)
    source = fields.String(required=True)
    owner_code = fields.String(required=True)
    budget = _money()


class CallSchema(Schema):
    call_id = fields.Integer(required=True)
    fund_id = fields.Integer(required=True)
    title = fields.String(required=True)
    opens_at = fields.AwareDateTime(required=True)
    closes_at = fields.AwareDateTime(required=True)
    min_grade = fields.String(allow_none=True, required=True, validate=validate.OneOf(GRADES))


class ApplicationSchema(Schema):
    application_id = fields.Integer(required=True)
    call_id = fields.Integer(required=True)
    organization_id = fields.Integer(required=True)
    amount = _money()
    status = fields.String(required=True)


class ApplicationDecidedSchema(ApplicationSchema):
    score = fields.String(allow_none=True, required=True, validate=AMOUNT)
    reason = fields.String(allow_none=True, required=True)


class AwardSchema(Schema):
    award_id = fields.Integer(required=True)
    application_id = fields.Integer(required=True)
    fund_id = fields.Integer(required=True)
    organization_id = fields.Integer(required=True)
    amount = _money()
    tranches = fields.List(fields.String(validate=AMOUNT), required=True)
    fund_remaining = _money()


class TrancheSchema(Schema):
    award_id = fields.Integer(required=True)
    fund_id = fields.Integer(required=True)
    organization_id = fields.Integer(required=True)
    tranche = fields.Integer(required=True)
    amount = _money()
    report_id = fields.Integer(required=True)


class ProgressReportSchema(Schema):
    report_id = fields.Integer(required=True)
    award_id = fields.Integer(required=True)
    organization_id = fields.Integer(required=True)
    tranche = fields.Integer(required=True)
    status = fields.String(required=True)


class ContractSchema(Schema):
    contract_id = fields.Integer(required=True)
    organization_id = fields.Integer(required=True)
    buyer_code = fields.String(required=True)
    service = fields.String(required=True)
    amount = _money()
    starts_on = fields.Date(required=True)
    ends_on = fields.Date(required=True)
    deliverables = fields.Integer(required=True)


class DeliverableAcceptedSchema(Schema):
    contract_id = fields.Integer(required=True)
    organization_id = fields.Integer(required=True)
    number = fields.Integer(required=True)
    title = fields.String(required=True)
    contract_completed = fields.Boolean(required=True)


class ActivitySchema(Schema):
    activity_id = fields.Integer(required=True)
    organization_id = fields.Integer(required=True)
    kind = fields.String(required=True, validate=validate.OneOf(SERVICE_KINDS))
    held_on = fields.Date(required=True)
    place_code = fields.String(required=True)
    place_path = fields.List(fields.String(), required=True)
    participants = fields.Integer(required=True)
    beneficiaries = fields.Integer(required=True)
    members = fields.Integer(required=True)  # beneficiaries linked to a union member


class ReferralSchema(Schema):
    referral_id = fields.Integer(required=True)
    request_id = fields.Integer(required=True)  # membership's service request
    worker_id = fields.Integer(required=True)
    organization_id = fields.Integer(required=True)
    organization_name = fields.String(required=True)
    service_kind = fields.String(required=True, validate=validate.OneOf(SERVICE_KINDS))
    # no note: the notes on a member's request stay in incubation (as membership keeps the
    # request's summary out of its events)


class ReferralConcludedSchema(ReferralSchema):
    outcome = fields.String(required=True, validate=validate.OneOf(REFERRAL_OUTCOMES))


_define = catalogue.define
_define("incubation", "organization_added", OrganizationSchema,
        description="A social organization applied to the hub for incubation (申请入驻, "
                    "stage applied), or the hub federation itself was added (no stage).")
_define("incubation", "organization_updated", OrganizationUpdatedSchema,
        description="Name, contacts, places or the civil-affairs registration (credit code) "
                    "of an organization changed.")
_define("incubation", "organization_stage_changed", StageChangedSchema,
        description="An organization moved to another stage (admitted, incubating, assessed, "
                    "graduated 出壳, exited), with the reason and who decided.")
_define("incubation", "organization_graded", GradedSchema,
        description="An assessment graded an organization (1A-5A, or no grade below the "
                    "lowest band), computed from the grading policy named by version.")
_define("incubation", "grade_lapsed", GradeLapsedSchema,
        description="An organization's grade passed its validity without a reassessment.")
_define("incubation", "incubation_deadline_approaching", DeadlineSchema,
        description="An incubation period ends within the reminder window of the policy "
                    "(raised once per period).")
_define("incubation", "incubation_deadline_passed", DeadlineSchema,
        description="An incubation period ended before the organization graduated or exited.")
_define("incubation", "fund_created", FundSchema,
        description="A fund (the district's own, a provincial special fund ...) with a budget.")
_define("incubation", "call_opened", CallSchema,
        description="A call for applications to a fund, with its window and eligibility.")
_define("incubation", "application_submitted", ApplicationSchema,
        description="An organization applied to a call.")
_define("incubation", "application_reviewed", ApplicationDecidedSchema,
        description="An application was reviewed and scored.")
_define("incubation", "application_rejected", ApplicationDecidedSchema,
        description="An application was rejected, with the reason.")
_define("incubation", "award_granted", AwardSchema,
        description="An application won an award within the fund's remaining budget, paid "
                    "in the tranches listed.")
_define("incubation", "progress_report_submitted", ProgressReportSchema,
        description="An awarded organization reported its progress for a tranche.")
_define("incubation", "progress_report_accepted", ProgressReportSchema,
        description="A progress report was accepted: its tranche may be paid.")
_define("incubation", "progress_report_returned", ProgressReportSchema,
        description="A progress report was returned to the organization to report again "
                    "(the reason stays in incubation: GET the report).")
_define("incubation", "tranche_disbursed", TrancheSchema,
        description="A tranche of an award was paid against its accepted progress report.")
_define("incubation", "contract_signed", ContractSchema,
        description="A purchased-service contract (政府购买服务) was signed with an "
                    "organization.")
_define("incubation", "deliverable_accepted", DeliverableAcceptedSchema,
        description="A deliverable of a purchased-service contract was accepted.")
_define("incubation", "activity_reported", ActivitySchema,
        description="An organization reported an activity with its head-count and "
                    "beneficiaries (counts only).")
_define("incubation", "request_referred", ReferralSchema,
        description="A member's service request (membership) was referred to a qualified "
                    "organization serving the member's place and the request's kind (ids and "
                    "codes only: the referral's note stays in incubation).")
_define("incubation", "referral_concluded", ReferralConcludedSchema,
        description="The organization a request was referred to served it or declined it "
                    "(the outcome code only: the outcome's note stays in incubation).")
