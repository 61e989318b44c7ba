"""The competitions service's RPC contract (职工之星): what each method takes and answers.

``services/competitions/service.py`` loads every argument with these schemas and dumps
every answer with them; the gateway (``routes/competitions.py``) checks HTTP bodies with
the same ones and documents them. A caller is ``shared.caller``'s ``{name, role,
organization_code}``; a judge is a caller with the role ``judge``.
"""

from marshmallow import Schema, fields, validate

from shared.events.competitions import (
    AWARD_STATUSES,
    FLAG_REASONS,
    HONOUR_KINDS,
    HONOUR_LEVELS,
    NOMINATION_STATUSES,
    OBJECTION_DECISIONS,
    REVIEW_DECISIONS,
    STAGES,
)
from shared.idempotency import HEX_32 as KEYED_HASH
from shared.paging import CursorQuery, page_schema
from shared.schemas import Timestamp

CODE = validate.Length(min=1, max=100)
EDITION_ID = r"^\d{4}(-[a-z0-9]{1,15})?$"  # the year, maybe a suffix: "2016", "2016-jubilee"
EDITION = validate.Regexp(EDITION_ID, error="the year, maybe with a suffix: 2016, 2016-jubilee")
CLIENT_ID = validate.Regexp(r"^[A-Za-z0-9_-]{8,64}$",
                            error="8 to 64 letters, digits, '-' or '_'")


def _id(**kwargs):
    return fields.Integer(required=True, validate=validate.Range(min=1, max=2**63 - 1),
                          **kwargs)


# --- references ------------------------------------------------------------------------

class EditionRefSchema(Schema):
    edition_id = fields.String(required=True, validate=EDITION,
                               metadata={"example": "2016"})


class RoundRefSchema(Schema):
    round_id = _id(metadata={"example": 3})


class NominationRefSchema(Schema):
    nomination_id = _id(metadata={"example": 17})


class ObjectionRefSchema(Schema):
    objection_id = _id(metadata={"example": 2})


class WorkerRefSchema(Schema):
    worker_id = _id(metadata={"example": 2016000001})


# --- rules -----------------------------------------------------------------------------

class RulesInSchema(Schema):
    body = fields.Dict(required=True, metadata={
        "description": "the rules document (groups, criteria, aggregation, quotas, "
                       "eligibility): see services/competitions/policy.py",
        "example": {"objection_days": 7, "groups": [{"code": "innovation"}]}})
    note = fields.String(load_default=None, allow_none=True,
                         validate=validate.Length(max=500),
                         metadata={"example": "2017年度评选规则"})


class RulesSchema(Schema):
    version = fields.Integer(required=True, metadata={"example": 1})
    body = fields.Dict(required=True, metadata={"example": {"objection_days": 7}})
    note = fields.String(allow_none=True, metadata={"example": "默认规则"})
    published_at = Timestamp(required=True, metadata={"example": "2016-02-01T00:00:00+00:00"})
    published_by = fields.String(required=True, metadata={"example": "district-admin"})


RulesPageSchema = page_schema(RulesSchema)


# --- editions and rounds ---------------------------------------------------------------

class EditionInSchema(Schema):
    id = fields.String(load_default=None, validate=EDITION,
                       metadata={"description": "defaults to the year", "example": "2016"})
    year = fields.Integer(required=True, validate=validate.Range(min=2000, max=2100),
                          metadata={"example": 2016})
    title = fields.String(required=True, validate=validate.Length(min=1, max=200),
                          metadata={"example": "龙岗区2016年“职工之星”评选"})
    rules_version = fields.Integer(load_default=None, validate=validate.Range(min=1),
                                   metadata={"description": "defaults to the latest",
                                             "example": 1})


class RoundSchema(Schema):
    id = fields.Integer(required=True, metadata={"example": 3})
    edition_id = fields.String(required=True, metadata={"example": "2016"})
    stage = fields.String(required=True, validate=validate.OneOf(STAGES),
                          metadata={"example": "street_final"})
    organization_code = fields.String(required=True, metadata={"example": "longgang.pingdi"})
    name = fields.String(required=True, metadata={"example": "坪地街道街道决赛"})
    status = fields.String(required=True, metadata={"example": "open"})
    opened_at = Timestamp(allow_none=True, metadata={"example": "2016-04-07T01:00:00+00:00"})
    closed_at = Timestamp(allow_none=True, metadata={"example": None})
    ends_at = Timestamp(allow_none=True, metadata={"example": None})


class CriterionSchema(Schema):
    code = fields.String(required=True, metadata={"example": "achievement"})
    name = fields.String(required=True, metadata={"example": "创新成果"})
    weight = fields.Integer(required=True, metadata={"example": 30})
    min = fields.Integer(required=True, metadata={"example": 0})
    max = fields.Integer(required=True, metadata={"example": 10})


class GroupSchema(Schema):
    code = fields.String(required=True, metadata={"example": "innovation"})
    name = fields.String(required=True, metadata={"example": "职工创新之星"})
    criteria = fields.List(fields.Nested(CriterionSchema), required=True)
    aggregation = fields.Dict(required=True, metadata={"example": {"method": "trimmed_mean",
                                                                   "trim": 1}})
    tie_criterion = fields.String(required=True, metadata={"example": "achievement"})
    quotas = fields.Dict(required=True, metadata={"example": {"street_final": 2,
                                                              "district_final": 5}})


class EditionSchema(Schema):
    id = fields.String(required=True, metadata={"example": "2016"})
    year = fields.Integer(required=True, metadata={"example": 2016})
    title = fields.String(required=True, metadata={"example": "龙岗区2016年“职工之星”评选"})
    district_code = fields.String(required=True, metadata={"example": "longgang"})
    rules_version = fields.Integer(required=True, metadata={"example": 1})
    created_at = Timestamp(required=True, metadata={"example": "2016-02-01T00:00:00+00:00"})
    objection_days = fields.Integer(required=True, metadata={"example": 7})
    rounds = fields.List(fields.Nested(RoundSchema), required=True)
    groups = fields.List(fields.Nested(GroupSchema), required=True)


class EditionItemSchema(Schema):
    id = fields.String(required=True, metadata={"example": "2016"})
    year = fields.Integer(required=True, metadata={"example": 2016})
    title = fields.String(required=True, metadata={"example": "龙岗区2016年“职工之星”评选"})
    district_code = fields.String(required=True, metadata={"example": "longgang"})
    rules_version = fields.Integer(required=True, metadata={"example": 1})


EditionPageSchema = page_schema(EditionItemSchema)


class OpenRoundInSchema(Schema):
    objection_days = fields.Integer(load_default=None, validate=validate.Range(min=1, max=90),
                                    metadata={"description": "a public notice only: days "
                                                             "of objections (default: the "
                                                             "rules')", "example": 7})


# --- nominations -----------------------------------------------------------------------

class AttachmentSchema(Schema):
    name = fields.String(required=True, validate=validate.Length(min=1, max=200),
                         metadata={"example": "专利证书.pdf"})
    media_type = fields.String(required=True, validate=validate.Length(min=3, max=100),
                               metadata={"example": "application/pdf"})
    size = fields.Integer(required=True, validate=validate.Range(min=0, max=100 * 2**20),
                          metadata={"example": 482133})
    sha256 = fields.String(load_default=None, allow_none=True,
                           validate=validate.Regexp(r"^[0-9a-f]{64}$"),
                           metadata={"example": None})


class FactsSchema(Schema):
    years_on_front_line = fields.Integer(validate=validate.Range(min=0, max=60),
                                         metadata={"example": 8})
    years_in_district = fields.Integer(validate=validate.Range(min=0, max=60),
                                       metadata={"example": 12})
    birth_year = fields.Integer(validate=validate.Range(min=1940, max=2010),
                                metadata={"example": 1988})
    team_leader = fields.Boolean(metadata={"example": True})


class NominationInSchema(Schema):
    edition_id = fields.String(required=True, validate=EDITION, metadata={"example": "2016"})
    group = fields.String(required=True, validate=validate.Length(min=1, max=40),
                          metadata={"example": "team_management"})
    worker_id = _id(metadata={"description": "membership's worker number",
                              "example": 2016000001})
    name = fields.String(required=True, validate=validate.Length(min=1, max=100),
                         metadata={"example": "刘军"})
    enterprise_credit_code = fields.String(required=True, validate=CODE,
                                           metadata={"example": "91440300MA5D12345X"})
    nominated_by = fields.String(required=True, validate=CODE, metadata={
        "description": "the nominating union: her enterprise's, or its community's",
        "example": "longgang.pingdi.pingdong"})
    statement = fields.String(required=True, validate=validate.Length(min=1, max=5000),
                              metadata={"example": "带领班组改进工艺，良品率提高12%"})
    attachments = fields.List(fields.Nested(AttachmentSchema), load_default=list,
                              validate=validate.Length(max=20))
    facts = fields.Nested(FactsSchema, load_default=dict)


class FailedRuleSchema(Schema):
    rule = fields.String(required=True, metadata={"example": "enterprise_union"})
    message = fields.String(required=True, metadata={
        "example": "所在企业单独建会或由工联会覆盖：企业未建工会，也未被社区（园区）工联会覆盖"})


class FlagSchema(Schema):
    id = fields.Integer(required=True, metadata={"example": 1})
    reason_code = fields.String(required=True, validate=validate.OneOf(FLAG_REASONS),
                                metadata={"example": "member_left"})
    reason = fields.String(required=True, metadata={"example": "被推荐人已退会（离职）"})
    flagged_at = Timestamp(required=True, metadata={"example": "2016-03-20T02:00:00+00:00"})
    resolved_at = Timestamp(allow_none=True, metadata={"example": None})
    resolved_by = fields.String(allow_none=True, metadata={"example": None})
    decision = fields.String(allow_none=True, metadata={"example": None})
    note = fields.String(allow_none=True, metadata={"example": None})


class NominationSchema(Schema):
    id = fields.Integer(required=True, metadata={"example": 17})
    edition_id = fields.String(required=True, metadata={"example": "2016"})
    group = fields.String(required=True, metadata={"example": "team_management"})
    worker_id = fields.Integer(required=True, metadata={"example": 2016000001})
    name = fields.String(required=True, metadata={"example": "刘军"})
    enterprise_credit_code = fields.String(required=True,
                                           metadata={"example": "91440300MA5D12345X"})
    enterprise_name = fields.String(allow_none=True, metadata={"example": "愉升龙五金制品有限公司"})
    path = fields.List(fields.String(), required=True,
                       metadata={"example": ["longgang", "longgang.pingdi"]})
    street_code = fields.String(allow_none=True, metadata={"example": "longgang.pingdi"})
    nominated_by = fields.String(required=True, metadata={"example": "longgang.pingdi.pingdong"})
    statement = fields.String(required=True, metadata={"example": "带领班组改进工艺"})
    attachments = fields.List(fields.Nested(AttachmentSchema), required=True)
    facts = fields.Dict(required=True, metadata={"example": {"years_on_front_line": 8}})
    status = fields.String(required=True, validate=validate.OneOf(
        (*NOMINATION_STATUSES,)), metadata={"example": "qualified"})
    failed_rules = fields.List(fields.Nested(FailedRuleSchema), required=True)
    rules_version = fields.Integer(required=True, metadata={"example": 1})
    submitted_at = Timestamp(required=True, metadata={"example": "2016-03-01T02:00:00+00:00"})
    checked_at = Timestamp(required=True, metadata={"example": "2016-03-01T02:00:00+00:00"})
    flagged = fields.Boolean(required=True, metadata={"example": False})
    flags = fields.List(fields.Nested(FlagSchema), required=True)


class NominationQuerySchema(CursorQuery):
    edition_id = fields.String(required=True, validate=EDITION, metadata={"example": "2016"})
    group = fields.String(load_default=None, validate=validate.Length(min=1, max=40),
                          metadata={"example": "innovation"})
    status = fields.String(load_default=None, validate=validate.OneOf(NOMINATION_STATUSES),
                           metadata={"example": "qualified"})
    flagged = fields.Boolean(load_default=None, metadata={"example": True})


NominationPageSchema = page_schema(NominationSchema)


class ReviewInSchema(Schema):
    decision = fields.String(required=True, validate=validate.OneOf(REVIEW_DECISIONS),
                             metadata={"example": "kept"})
    note = fields.String(load_default=None, allow_none=True,
                         validate=validate.Length(max=500),
                         metadata={"example": "已核实：调岗后仍为会员"})


# --- judges and scores -----------------------------------------------------------------

class JudgeInSchema(Schema):
    name = fields.String(required=True, validate=validate.Length(min=1, max=100),
                         metadata={"example": "陈评委"})
    user_name = fields.String(required=True, validate=validate.Length(min=1, max=100),
                              metadata={"description": "the gateway user (role judge) "
                                                       "who signs in to score",
                                        "example": "judge.chen"})
    organization_code = fields.String(required=True, validate=CODE, metadata={
        "description": "an organization code or an enterprise's credit code",
        "example": "longgang.construction"})


class ExclusionSchema(Schema):
    contestant_id = fields.Integer(required=True, metadata={"example": 5})
    reason = fields.String(required=True, metadata={"example": "same_enterprise"})
    note = fields.String(allow_none=True, metadata={"example": None})


class JudgeSchema(Schema):
    id = fields.Integer(required=True, metadata={"example": 4})
    name = fields.String(required=True, metadata={"example": "陈评委"})
    user_name = fields.String(required=True, metadata={"example": "judge.chen"})
    organization_code = fields.String(required=True,
                                      metadata={"example": "longgang.construction"})
    organization_name = fields.String(required=True, metadata={"example": "龙岗区建筑业工会"})
    exclusions = fields.List(fields.Nested(ExclusionSchema), required=True)


class ContestantSchema(Schema):
    id = fields.Integer(required=True, metadata={"example": 5})
    nomination_id = fields.Integer(required=True, metadata={"example": 17})
    group = fields.String(required=True, metadata={"example": "team_management"})
    running_order = fields.Integer(required=True, metadata={"example": 1})
    name = fields.String(required=True, metadata={"example": "刘军"})
    worker_id = fields.Integer(required=True, metadata={"example": 2016000001})
    enterprise_name = fields.String(allow_none=True, metadata={"example": "愉升龙五金制品有限公司"})
    scores_received = fields.Integer(required=True, metadata={"example": 7})
    flagged = fields.Boolean(required=True, metadata={"example": False})


class RoundDetailSchema(Schema):
    round = fields.Nested(RoundSchema, required=True)
    contestants = fields.List(fields.Nested(ContestantSchema), required=True)
    judges = fields.List(fields.Nested(JudgeSchema), required=True)


class ConflictInSchema(Schema):
    contestant_id = _id(metadata={"example": 5})
    note = fields.String(load_default=None, allow_none=True,
                         validate=validate.Length(max=500), metadata={"example": "曾是同事"})


class ConflictDeclaredSchema(Schema):
    judge_id = fields.Integer(required=True, metadata={"example": 4})
    contestant_id = fields.Integer(required=True, metadata={"example": 5})
    reason = fields.String(required=True, metadata={"example": "declared"})
    score_withdrawn = fields.Boolean(required=True, metadata={
        "description": "true: the judge had scored this contestant; that score is set "
                       "aside (kept on record with its changes, counted nowhere)",
        "example": False})


class ScoreInSchema(Schema):
    contestant_id = _id(metadata={"example": 5})
    score_id = fields.String(required=True, validate=CLIENT_ID, metadata={
        "description": "the client's own id for this save: sent again (a flaky "
                       "connection), the score is saved once",
        "example": "3f2b8c1d-tablet-7"})
    values = fields.Dict(keys=fields.String(), values=fields.Raw(), required=True,
                         metadata={"example": {"management": 8.5, "method": 8,
                                               "team": 9, "presentation": 7.5,
                                               "communication": 8}})
    comment = fields.String(load_default="", validate=validate.Length(max=2000),
                            metadata={"example": "多联系沟通和表达"})


class ScoreSavedSchema(Schema):
    contestant_id = fields.Integer(required=True, metadata={"example": 5})
    score_id = fields.String(required=True, metadata={"example": "3f2b8c1d-tablet-7"})
    version = fields.Integer(required=True, metadata={"example": 2})
    values = fields.Dict(required=True, metadata={"example": {"management": 8.5}})
    total = fields.Float(required=True, metadata={"example": 82.5})
    comment = fields.String(required=True, metadata={"example": "多联系沟通和表达"})
    saved_at = Timestamp(required=True, metadata={"example": "2016-04-07T02:10:00+00:00"})
    duplicate = fields.Boolean(required=True, metadata={
        "description": "true: this score_id was saved before; nothing changed",
        "example": False})


class MyScoreSchema(Schema):
    values = fields.Dict(required=True, metadata={"example": {"management": 8.5}})
    total = fields.Float(required=True, metadata={"example": 82.5})
    comment = fields.String(required=True, metadata={"example": ""})
    version = fields.Integer(required=True, metadata={"example": 1})
    updated_at = Timestamp(required=True, metadata={"example": "2016-04-07T02:10:00+00:00"})


class SheetEntrySchema(Schema):
    contestant_id = fields.Integer(required=True, metadata={"example": 5})
    running_order = fields.Integer(required=True, metadata={"example": 1})
    group = fields.String(required=True, metadata={"example": "team_management"})
    group_name = fields.String(required=True, metadata={"example": "班组管理之星"})
    name = fields.String(required=True, metadata={"example": "刘军"})
    enterprise_name = fields.String(allow_none=True, metadata={"example": "愉升龙五金制品有限公司"})
    criteria = fields.List(fields.Nested(CriterionSchema), required=True)
    excluded = fields.String(allow_none=True, metadata={"example": None})
    excluded_wording = fields.String(allow_none=True, metadata={"example": None})
    score = fields.Nested(MyScoreSchema, allow_none=True)


class SheetJudgeSchema(Schema):
    id = fields.Integer(required=True, metadata={"example": 4})
    name = fields.String(required=True, metadata={"example": "陈评委"})
    organization_name = fields.String(required=True, metadata={"example": "龙岗区建筑业工会"})


class JudgeSheetSchema(Schema):
    round = fields.Nested(RoundSchema, required=True)
    judge = fields.Nested(SheetJudgeSchema, required=True)
    contestants = fields.List(fields.Nested(SheetEntrySchema), required=True)


class ScoreChangeSchema(Schema):
    version = fields.Integer(required=True, metadata={"example": 1})
    values = fields.Dict(required=True, metadata={"example": {"management": 8}})
    total = fields.Float(required=True, metadata={"example": 80.0})
    comment = fields.String(required=True, metadata={"example": ""})
    saved_at = Timestamp(required=True, metadata={"example": "2016-04-07T02:08:00+00:00"})


class JudgeScoreSchema(Schema):
    judge_id = fields.Integer(required=True, metadata={"example": 4})
    contestant_id = fields.Integer(required=True, metadata={"example": 5})
    values = fields.Dict(required=True, metadata={"example": {"management": 8.5}})
    total = fields.Float(required=True, metadata={"example": 82.5})
    comment = fields.String(required=True, metadata={"example": ""})
    version = fields.Integer(required=True, metadata={"example": 2})
    withdrawn_at = Timestamp(allow_none=True, metadata={
        "description": "set: the judge declared a conflict after scoring; the score is "
                       "kept on record and left out of the ranking",
        "example": None})
    changes = fields.List(fields.Nested(ScoreChangeSchema), required=True)


class RoundScoresSchema(Schema):
    round = fields.Nested(RoundSchema, required=True)
    scores = fields.List(fields.Nested(JudgeScoreSchema), required=True)


class JudgeLineSchema(Schema):
    judge_id = fields.Integer(required=True, metadata={"example": 4})
    judge_name = fields.String(allow_none=True, metadata={"example": "陈评委"})
    total = fields.Float(allow_none=True, metadata={"example": 82.5})
    counted = fields.Boolean(required=True, metadata={"example": True})
    note = fields.String(allow_none=True, metadata={"example": "dropped: highest"})
    z = fields.Float(metadata={"example": 0.41})


class RankedSchema(Schema):
    rank = fields.Integer(required=True, metadata={"example": 1})
    contestant_id = fields.Integer(required=True, metadata={"example": 5})
    nomination_id = fields.Integer(required=True, metadata={"example": 17})
    name = fields.String(allow_none=True, metadata={"example": "刘军"})
    running_order = fields.Integer(required=True, metadata={"example": 1})
    method = fields.String(required=True, metadata={"example": "trimmed_mean"})
    total = fields.Float(allow_none=True, metadata={"example": 84.1})
    value = fields.Float(allow_none=True, metadata={"example": 84.1})
    tie_criterion = fields.String(required=True, metadata={"example": "management"})
    tie_value = fields.Float(allow_none=True, metadata={"example": 8.6})
    first_places = fields.Integer(required=True, metadata={"example": 3})
    tie_break = fields.String(allow_none=True, metadata={"example": None})
    computation = fields.String(required=True, metadata={
        "example": "9 of 9 judges scored; highest [90.0] and lowest [70.0] dropped (1 each); "
                   "(...) / 7 = 84.1000"})
    judges = fields.List(fields.Nested(JudgeLineSchema), required=True)


class GroupRankingSchema(Schema):
    group = fields.String(required=True, metadata={"example": "team_management"})
    method = fields.String(required=True, metadata={"example": "trimmed_mean"})
    computed_at = Timestamp(required=True, metadata={"example": "2016-04-07T06:00:00+00:00"})
    entries = fields.List(fields.Nested(RankedSchema), required=True)


class RankingSchema(Schema):
    round = fields.Nested(RoundSchema, required=True)
    groups = fields.List(fields.Nested(GroupRankingSchema), required=True)


# --- results, objections ---------------------------------------------------------------

class WinnerSchema(Schema):
    award_id = fields.Integer(required=True, metadata={"example": 3})
    rank = fields.Integer(required=True, metadata={"example": 1})
    name = fields.String(required=True, metadata={"example": "刘军"})
    enterprise_name = fields.String(allow_none=True, metadata={"example": "愉升龙五金制品有限公司"})
    street_name = fields.String(allow_none=True, metadata={"example": "坪地街道总工会"})
    status = fields.String(required=True, validate=validate.OneOf(AWARD_STATUSES),
                           metadata={"example": "announced"})
    moved_up = fields.Boolean(required=True, metadata={"example": False})


class ResultGroupSchema(Schema):
    code = fields.String(required=True, metadata={"example": "team_management"})
    name = fields.String(required=True, metadata={"example": "班组管理之星"})
    winners = fields.List(fields.Nested(WinnerSchema), required=True)


class NoticeSchema(Schema):
    status = fields.String(required=True, metadata={"example": "open"})
    opened_at = Timestamp(allow_none=True, metadata={"example": "2016-05-10T00:00:00+00:00"})
    ends_at = Timestamp(allow_none=True, metadata={"example": "2016-05-17T00:00:00+00:00"})
    taking_objections = fields.Boolean(required=True, metadata={"example": True})


class EditionHeadSchema(Schema):
    id = fields.String(required=True, metadata={"example": "2016"})
    year = fields.Integer(required=True, metadata={"example": 2016})
    title = fields.String(required=True, metadata={"example": "龙岗区2016年“职工之星”评选"})


class PublicResultsSchema(Schema):
    edition = fields.Nested(EditionHeadSchema, required=True)
    notice = fields.Nested(NoticeSchema, required=True)
    groups = fields.List(fields.Nested(ResultGroupSchema), required=True)


class ObjectionInSchema(Schema):
    award_id = _id(metadata={"example": 3})
    reason = fields.String(required=True, validate=validate.Length(min=5, max=2000),
                           metadata={"example": "该职工所在企业长期拖欠工资"})


class ObjectionLodgedSchema(Schema):
    objection_id = fields.Integer(required=True, metadata={"example": 2})
    award_id = fields.Integer(required=True, metadata={"example": 3})
    status = fields.String(required=True, metadata={"example": "lodged"})
    lodged_at = Timestamp(required=True, metadata={"example": "2016-05-12T03:00:00+00:00"})
    notice_ends_at = Timestamp(required=True, metadata={"example": "2016-05-17T00:00:00+00:00"})
    receipt_code = fields.String(required=True, metadata={
        "description": "shown once: 16 digits in groups of four",
        "example": "1234 5678 9012 3456"})


class ReceiptInSchema(Schema):
    receipt_code = fields.String(required=True, validate=validate.Length(min=16, max=19),
                                 metadata={"example": "1234 5678 9012 3456"})


class AwardHeadSchema(Schema):
    id = fields.Integer(required=True, metadata={"example": 3})
    group = fields.String(required=True, metadata={"example": "team_management"})
    name = fields.String(required=True, metadata={"example": "刘军"})


class ObjectionStatusSchema(Schema):
    objection_id = fields.Integer(required=True, metadata={"example": 2})
    status = fields.String(required=True, metadata={"example": "upheld"})
    lodged_at = Timestamp(required=True, metadata={"example": "2016-05-12T03:00:00+00:00"})
    decided_at = Timestamp(allow_none=True, metadata={"example": "2016-05-14T03:00:00+00:00"})
    decision_note = fields.String(allow_none=True, metadata={"example": "经核实，情况属实"})
    award = fields.Nested(AwardHeadSchema, required=True)


class ObjectionSchema(Schema):
    id = fields.Integer(required=True, metadata={"example": 2})
    award_id = fields.Integer(required=True, metadata={"example": 3})
    reason = fields.String(required=True, metadata={"example": "该职工所在企业长期拖欠工资"})
    status = fields.String(required=True, metadata={"example": "lodged"})
    lodged_at = Timestamp(required=True, metadata={"example": "2016-05-12T03:00:00+00:00"})
    decided_at = Timestamp(allow_none=True, metadata={"example": None})
    decided_by = fields.String(allow_none=True, metadata={"example": None})
    decision_note = fields.String(allow_none=True, metadata={"example": None})


ObjectionPageSchema = page_schema(ObjectionSchema)


class ObjectionQuerySchema(CursorQuery):
    status = fields.String(load_default=None, validate=validate.OneOf(
        ("lodged", *OBJECTION_DECISIONS)), metadata={"example": "lodged"})


class DecisionInSchema(Schema):
    decision = fields.String(required=True, validate=validate.OneOf(OBJECTION_DECISIONS),
                             metadata={"example": "upheld"})
    note = fields.String(load_default=None, allow_none=True,
                         validate=validate.Length(max=1000),
                         metadata={"example": "经核实，情况属实"})


# --- honours, workers, statistics ------------------------------------------------------

class HonourInSchema(Schema):
    worker_id = _id(metadata={"example": 2016000001})
    kind = fields.String(required=True, validate=validate.OneOf(HONOUR_KINDS),
                         metadata={"example": "may_day_medal"})
    level = fields.String(load_default=None, allow_none=True,
                          validate=validate.OneOf(HONOUR_LEVELS), metadata={"example": "city"})
    title = fields.String(required=True, validate=validate.Length(min=1, max=200),
                          metadata={"example": "深圳市五一劳动奖章"})
    year = fields.Integer(required=True, validate=validate.Range(min=1950, max=2100),
                          metadata={"example": 2017})
    note = fields.String(load_default=None, allow_none=True,
                         validate=validate.Length(max=500), metadata={"example": None})


class HonourSchema(Schema):
    id = fields.Integer(required=True, metadata={"example": 1})
    worker_id = fields.Integer(required=True, metadata={"example": 2016000001})
    kind = fields.String(required=True, metadata={"example": "may_day_medal"})
    level = fields.String(allow_none=True, metadata={"example": "city"})
    title = fields.String(required=True, metadata={"example": "深圳市五一劳动奖章"})
    year = fields.Integer(required=True, metadata={"example": 2017})
    note = fields.String(allow_none=True, metadata={"example": None})
    recorded_at = Timestamp(required=True, metadata={"example": "2017-05-01T00:00:00+00:00"})
    recorded_by = fields.String(required=True, metadata={"example": "district-admin"})


class HonourRecordedSchema(HonourSchema):
    star_awards = fields.List(fields.Integer(), required=True, metadata={"example": [3]})


class WorkerNominationSchema(Schema):
    id = fields.Integer(required=True, metadata={"example": 17})
    edition_id = fields.String(required=True, metadata={"example": "2016"})
    group = fields.String(required=True, metadata={"example": "team_management"})
    status = fields.String(required=True, metadata={"example": "qualified"})


class WorkerAwardSchema(Schema):
    id = fields.Integer(required=True, metadata={"example": 3})
    edition_id = fields.String(required=True, metadata={"example": "2016"})
    group = fields.String(required=True, metadata={"example": "team_management"})
    rank = fields.Integer(required=True, metadata={"example": 1})
    status = fields.String(required=True, metadata={"example": "final"})


class WorkerRecordSchema(Schema):
    worker_id = fields.Integer(required=True, metadata={"example": 2016000001})
    name = fields.String(allow_none=True, metadata={"example": "刘军"})
    nominations = fields.List(fields.Nested(WorkerNominationSchema), required=True)
    awards = fields.List(fields.Nested(WorkerAwardSchema), required=True)
    honours = fields.List(fields.Nested(HonourSchema), required=True)


class StatisticsQuerySchema(Schema):
    code = fields.String(load_default=None, validate=CODE,
                         metadata={"description": "an organization (default: the caller's)",
                                   "example": "longgang.bantian"})


class TallySchema(Schema):
    code = fields.String(allow_none=True, metadata={"example": "longgang.pingdi"})
    name = fields.String(allow_none=True, metadata={"example": "坪地街道总工会"})
    nominations = fields.Integer(required=True, metadata={"example": 21})
    qualified = fields.Integer(required=True, metadata={"example": 20})
    finalists = fields.Integer(required=True, metadata={"example": 20})
    winners = fields.Integer(required=True, metadata={"example": 2})


class EditionStatisticsSchema(Schema):
    edition_id = fields.String(required=True, metadata={"example": "2016"})
    code = fields.String(required=True, metadata={"example": "longgang"})
    nominations = fields.Integer(required=True, metadata={"example": 236})
    qualified = fields.Integer(required=True, metadata={"example": 228})
    refused = fields.Integer(required=True, metadata={"example": 8})
    disqualified = fields.Integer(required=True, metadata={"example": 1})
    finalists = fields.Integer(required=True, metadata={"example": 227})
    winners = fields.Integer(required=True, metadata={"example": 21})
    by_group = fields.List(fields.Nested(TallySchema), required=True)
    by_street = fields.List(fields.Nested(TallySchema), required=True)
    by_enterprise = fields.List(fields.Nested(TallySchema), required=True)
    stars_later_honoured = fields.Integer(required=True, metadata={"example": 5})
    honours_by_kind = fields.Dict(keys=fields.String(), values=fields.Integer(),
                                  required=True, metadata={"example": {"may_day_medal": 2}})


class ObjectionSubmissionSchema(Schema):
    """How the gateway hands over an anonymous objection (issue 12: no code, no address in
    clear): the keyed hash of the receipt code it made for this HTTP request, and of the
    client's address the rate limits count. The code never leaves the gateway, which adds
    it to its HTTP answer."""

    receipt_ref = fields.String(required=True, validate=KEYED_HASH)
    source = fields.String(load_default=None, allow_none=True, validate=KEYED_HASH)


class ObjectionLookupSchema(ObjectionSubmissionSchema):
    """An objection followed by its receipt code: the code's and the address's keyed
    hashes, as when it was lodged."""
