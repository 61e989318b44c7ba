"""Events published by disputes (source ``disputes``, exchange ``disputes.events``).

A case gathers the information officers' reports about one enterprise and risk. Payloads
carry what a consumer needs to decide who must hear of a case (grade, enterprise and its
place in the district tree) and never an informant's identity: where a report must be
named, only its pseudonym travels.

``amount_owed`` is a decimal string in yuan ("123456.50") so no consumer rounds it
through a float. Datetimes are ISO 8601 with an offset; a naive one is taken as UTC.
"""

from datetime import UTC

from marshmallow import Schema, fields, validate

from shared.events.envelope import catalogue

GRADES = ("routine", "serious", "urgent", "major")  # major = 重大事项
CATEGORIES = (
    "unpaid_wages",  # 欠薪
    "unpaid_social_insurance",  # 欠缴社保
    "relocation",  # 搬迁
    "closure",  # 关停
    "supplier_blockade",  # 供应商围堵
    "boss_absconded",  # 老板走逃
    "collective_petition",  # 集体上访
    "other",  # 其他
)
STATUSES = ("reported", "verified", "rejected", "handling", "resolved", "closed")
HANDLING_TIERS = ("district", "street", "community", "enterprise")

AMOUNT = validate.Regexp(r"^\d{1,13}(\.\d{1,2})?$",
                         error="must be a decimal string of yuan, e.g. '12000.50'")


def _datetime(**kwargs):
    return fields.AwareDateTime(default_timezone=UTC, **kwargs)


class CaseEnterpriseSchema(Schema):
    credit_code = fields.String(allow_none=True, load_default=None)  # None: not registered
    name = fields.String(required=True, validate=validate.Length(min=1, max=200))
    address = fields.String(allow_none=True, load_default=None)
    community_code = fields.String(required=True)  # community or park it sits in
    path = fields.List(fields.String(), required=True)  # district .. community codes
    key_enterprise = fields.Boolean(required=True)


class CaseOpenedSchema(Schema):
    case_id = fields.String(required=True)
    grade = fields.String(required=True, validate=validate.OneOf(GRADES))
    grade_rule = fields.String(required=True)  # id of the grading rule that decided it
    category = fields.String(required=True, validate=validate.OneOf(CATEGORIES))
    workers_affected = fields.Integer(required=True, validate=validate.Range(min=0))
    amount_owed = fields.String(required=True, validate=AMOUNT)
    expected_at = _datetime(allow_none=True, load_default=None)  # when the risk is due
    enterprise = fields.Nested(CaseEnterpriseSchema, required=True)
    reported_at = _datetime(required=True)


class CaseRegradedSchema(CaseOpenedSchema):
    previous_grade = fields.String(required=True, validate=validate.OneOf(GRADES))


class CaseStatusChangedSchema(Schema):
    case_id = fields.String(required=True)
    status = fields.String(required=True, validate=validate.OneOf(STATUSES))
    previous_status = fields.String(required=True, validate=validate.OneOf(STATUSES))
    at = _datetime(required=True)
    handled_by_tier = fields.String(allow_none=True, load_default=None,
                                    validate=validate.OneOf(HANDLING_TIERS))
    joint = fields.Boolean(allow_none=True, load_default=None)  # with government departments
    grade = fields.String(required=True, validate=validate.OneOf(GRADES))
    enterprise = fields.Nested(CaseEnterpriseSchema, required=True)


class ReportMergedSchema(Schema):
    case_id = fields.String(required=True)
    report_pseudonym = fields.String(required=True)
    reports_in_case = fields.Integer(required=True, validate=validate.Range(min=1))


_define = catalogue.define
_define("disputes", "case_opened", CaseOpenedSchema,
        description="A report opened a new dispute case, graded by the rule named.")
_define("disputes", "case_regraded", CaseRegradedSchema,
        description="A case's grade changed (new report, visit finding or verification).")
_define("disputes", "case_status_changed", CaseStatusChangedSchema,
        description="A case moved along reported -> verified/rejected -> handling -> "
                    "resolved -> closed.")
_define("disputes", "report_merged", ReportMergedSchema,
        description="A further report joined an open case about the same enterprise and risk.")
