"""Events published by competitions (source ``competitions``, exchange
``competitions.events``): the worker-star competition (职工之星) from nomination to award
and later honours.

Nominees are named by ``worker_id`` (membership's number) and ``nomination_id``; names,
statements and attachments never travel in events, nor anything about who lodged an
objection. ``organization_path`` is the path of the nominee's enterprise (district ..
community) as the registry gave it, so a consumer can place a nomination without asking.
"""

from marshmallow import Schema, fields, validate

from shared.events.envelope import catalogue

STAGES = ("nomination", "qualification", "street_final", "district_final", "public_notice",
          "awarded")
NOMINATION_STATUSES = ("qualified", "refused", "disqualified")
FLAG_REASONS = (
    "member_left",  # the nominee is no longer an active member of her union
    "major_dispute",  # a case at her enterprise was graded major (重大事项)
    "union_lost",  # her enterprise no longer has a union nor federation cover
    "enterprise_closed",
)
REVIEW_DECISIONS = ("kept", "disqualified")
AWARD_STATUSES = ("announced", "final", "revoked")
OBJECTION_DECISIONS = ("upheld", "dismissed")
HONOUR_KINDS = (
    "national_model_worker",  # 全国劳动模范
    "provincial_model_worker",  # 省劳动模范
    "may_day_medal",  # 五一劳动奖章
    "peoples_congress_deputy",  # 人大代表
    "craftsman",  # 工匠
    "other",
)
HONOUR_LEVELS = ("national", "provincial", "city", "district")


def _at(**kwargs):
    return fields.AwareDateTime(format="iso", **kwargs)


class FailedRuleSchema(Schema):
    rule = fields.String(required=True)  # the id of the eligibility rule, e.g. enterprise_union
    message = fields.String(required=True)


class NominationSchema(Schema):
    nomination_id = fields.Integer(required=True)
    edition_id = fields.String(required=True)
    group = fields.String(required=True)
    worker_id = fields.Integer(required=True)
    enterprise_credit_code = fields.String(required=True)
    organization_path = fields.List(fields.String(), required=True)
    nominated_by = fields.String(required=True)
    rules_version = fields.Integer(required=True)


class NominationSubmittedSchema(NominationSchema):
    status = fields.String(required=True, validate=validate.OneOf(NOMINATION_STATUSES))


class NominationRefusedSchema(NominationSchema):
    failed_rules = fields.List(fields.Nested(FailedRuleSchema), required=True,
                               validate=validate.Length(min=1))


class NominationFlaggedSchema(Schema):
    nomination_id = fields.Integer(required=True)
    edition_id = fields.String(required=True)
    worker_id = fields.Integer(required=True)
    flag_id = fields.Integer(required=True)
    reason_code = fields.String(required=True, validate=validate.OneOf(FLAG_REASONS))
    reason = fields.String(required=True)


class NominationReviewedSchema(Schema):
    nomination_id = fields.Integer(required=True)
    edition_id = fields.String(required=True)
    worker_id = fields.Integer(required=True)
    decision = fields.String(required=True, validate=validate.OneOf(REVIEW_DECISIONS))
    flags_resolved = fields.List(fields.Integer(), required=True)


class RoundSchema(Schema):
    round_id = fields.Integer(required=True)
    edition_id = fields.String(required=True)
    stage = fields.String(required=True, validate=validate.OneOf(STAGES))
    organization_code = fields.String(required=True)  # the street of a street final
    at = _at(required=True)


class RoundOpenedSchema(RoundSchema):
    contestants = fields.Integer(required=True, validate=validate.Range(min=0))
    ends_at = _at(allow_none=True, load_default=None)  # a public notice's end


class RankedSchema(Schema):
    nomination_id = fields.Integer(required=True)
    rank = fields.Integer(required=True, validate=validate.Range(min=1))
    total = fields.Float(required=True)


class GroupResultSchema(Schema):
    group = fields.String(required=True)
    method = fields.String(required=True)
    ranking = fields.List(fields.Nested(RankedSchema), required=True)
    advancing = fields.List(fields.Integer(), required=True)  # nominations going on


class RoundClosedSchema(RoundSchema):
    groups = fields.List(fields.Nested(GroupResultSchema), required=True)


class WinnerSchema(Schema):
    award_id = fields.Integer(required=True)
    nomination_id = fields.Integer(required=True)
    worker_id = fields.Integer(required=True)
    group = fields.String(required=True)
    rank = fields.Integer(required=True)


class ResultsPublishedSchema(Schema):
    edition_id = fields.String(required=True)
    round_id = fields.Integer(required=True)  # the public notice
    notice_ends_at = _at(required=True)
    winners = fields.List(fields.Nested(WinnerSchema), required=True)


class AwardSchema(Schema):
    award_id = fields.Integer(required=True)
    edition_id = fields.String(required=True)
    nomination_id = fields.Integer(required=True)
    worker_id = fields.Integer(required=True)
    group = fields.String(required=True)
    rank = fields.Integer(required=True, validate=validate.Range(min=1))
    enterprise_credit_code = fields.String(required=True)
    organization_path = fields.List(fields.String(), required=True)


class AwardGrantedSchema(AwardSchema):
    status = fields.String(required=True, validate=validate.OneOf(AWARD_STATUSES))
    moved_up = fields.Boolean(required=True)  # in the place of a revoked award


class AwardRevokedSchema(AwardSchema):
    reason = fields.String(required=True)
    objection_id = fields.Integer(allow_none=True, load_default=None)


class ObjectionLodgedSchema(Schema):
    objection_id = fields.Integer(required=True)
    edition_id = fields.String(required=True)
    award_id = fields.Integer(required=True)


class ObjectionDecidedSchema(ObjectionLodgedSchema):
    decision = fields.String(required=True, validate=validate.OneOf(OBJECTION_DECISIONS))


class HonourRecordedSchema(Schema):
    honour_id = fields.Integer(required=True)
    worker_id = fields.Integer(required=True)
    kind = fields.String(required=True, validate=validate.OneOf(HONOUR_KINDS))
    level = fields.String(allow_none=True, load_default=None,
                          validate=validate.OneOf(HONOUR_LEVELS))
    year = fields.Integer(required=True)
    star_awards = fields.List(fields.Integer(), required=True)  # the worker's star awards


_define = catalogue.define
_define("competitions", "nomination_submitted", NominationSubmittedSchema,
        description="A union nominated one of its members; the eligibility check's outcome "
                    "is its status.")
_define("competitions", "nomination_qualified", NominationSchema,
        description="A nomination passed every eligibility rule of its edition and group.")
_define("competitions", "nomination_refused", NominationRefusedSchema,
        description="A nomination failed eligibility; each failed rule is named.")
_define("competitions", "nomination_flagged", NominationFlaggedSchema,
        description="Something that happened later (the nominee left the union, a major "
                    "case at her enterprise...) puts an open nomination up for review.")
_define("competitions", "nomination_reviewed", NominationReviewedSchema,
        description="Staff reviewed a flagged nomination: kept, or disqualified.")
_define("competitions", "round_opened", RoundOpenedSchema,
        description="A round opened (a public notice with the day its objection period "
                    "ends).")
_define("competitions", "round_closed", RoundClosedSchema,
        description="A round closed: its scores are frozen; the ranking of each group and "
                    "who goes on.")
_define("competitions", "results_published", ResultsPublishedSchema,
        description="An edition's winners were published: the public notice (公示) and its "
                    "objection period begin.")
_define("competitions", "award_granted", AwardGrantedSchema,
        description="A worker was awarded (announced at publication, final when the notice "
                    "ends; moved_up when taking a revoked award's place).")
_define("competitions", "award_revoked", AwardRevokedSchema,
        description="An award was revoked (an upheld objection, a disqualification).")
_define("competitions", "objection_lodged", ObjectionLodgedSchema,
        description="Someone objected to an award during the public notice.")
_define("competitions", "objection_decided", ObjectionDecidedSchema,
        description="An objection was upheld or dismissed.")
_define("competitions", "honour_recorded", HonourRecordedSchema,
        description="A later honour (model worker, May-Day medal, deputy...) was recorded "
                    "for a worker, with the worker's star awards.")
