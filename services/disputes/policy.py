"""Policies kept as data: the grading rules and the reward rules (奖励办法).

Both are versioned JSON documents stored in the disputes database (``policies`` table);
the district publishes a new version instead of asking for a code change. The defaults
shipped with the service are ``policies/grading-1.json`` and ``policies/rewards-1.json``.

Grading: rules are tried in order and the first whose conditions all hold decides the
grade; its id is recorded on the case. The last rule must have no conditions, so every
case gets a grade.

Rewards: amounts by stage (verified, resolved) and grade, times a category factor, plus
an early-warning bonus; merged reports share the credit; a monthly cap per informant.
The version applied is the one in force when the report came in.
"""

import json
from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from shared.events.disputes import CATEGORIES, GRADES

DEFAULTS_DIR = Path(__file__).parent / "policies"
KINDS = ("grading", "rewards")
STAGES = ("verified", "resolved")
GRADE_ORDER = {grade: rank for rank, grade in enumerate(GRADES)}  # routine < ... < major
CENT = Decimal("0.01")


def yuan(value) -> Decimal:
    return Decimal(str(value)).quantize(CENT, rounding=ROUND_HALF_UP)


# --- grading ----------------------------------------------------------------------------

class ConditionsSchema(Schema):
    categories = fields.List(fields.String(validate=validate.OneOf(CATEGORIES)),
                             validate=validate.Length(min=1))
    workers_affected_min = fields.Integer(validate=validate.Range(min=0))
    amount_owed_min = fields.Decimal(validate=validate.Range(min=0))
    key_enterprise = fields.Boolean()
    prior_disputes_min = fields.Integer(validate=validate.Range(min=1))
    irregular_findings_min = fields.Integer(validate=validate.Range(min=1))
    days_until_expected_max = fields.Integer(validate=validate.Range(min=0))


class GradingRuleSchema(Schema):
    id = fields.String(required=True, validate=validate.Length(min=1, max=64))
    grade = fields.String(required=True, validate=validate.OneOf(GRADES))
    when = fields.Nested(ConditionsSchema, load_default=dict)
    label = fields.String(load_default="")  # Chinese wording for case views


class GradingPolicySchema(Schema):
    merge_window_days = fields.Integer(required=True, validate=validate.Range(min=1, max=365))
    rules = fields.List(fields.Nested(GradingRuleSchema), required=True,
                        validate=validate.Length(min=1))

    @validates_schema
    def _complete(self, data, **_):
        rules = data.get("rules") or []
        ids = [rule["id"] for rule in rules]
        if len(ids) != len(set(ids)):
            raise ValidationError("rule ids must be unique", "rules")
        if rules and rules[-1]["when"]:
            raise ValidationError("the last rule must have no conditions so every case "
                                  "gets a grade", "rules")


@dataclass(frozen=True)
class GradingFacts:
    """What grading looks at, gathered from the case, its visits and the enterprise."""

    category: str
    workers_affected: int
    amount_owed: Decimal
    key_enterprise: bool = False
    prior_disputes: int = 0  # earlier verified cases at the same enterprise
    irregular_findings: int = 0  # visits that found irregular labour practice
    days_until_expected: int | None = None  # None: no date given


_CHECKS = {
    "categories": lambda facts, v: facts.category in v,
    "workers_affected_min": lambda facts, v: facts.workers_affected >= v,
    "amount_owed_min": lambda facts, v: facts.amount_owed >= v,
    "key_enterprise": lambda facts, v: facts.key_enterprise == v,
    "prior_disputes_min": lambda facts, v: facts.prior_disputes >= v,
    "irregular_findings_min": lambda facts, v: facts.irregular_findings >= v,
    "days_until_expected_max": lambda facts, v: (facts.days_until_expected is not None
                                                 and facts.days_until_expected <= v),
}


def _holds(when: dict, facts: GradingFacts) -> bool:
    return all(_CHECKS[name](facts, value) for name, value in when.items())


def grade(policy: dict, facts: GradingFacts) -> tuple[str, str]:
    """(grade, id of the deciding rule): the first rule whose conditions all hold."""
    for rule in policy["rules"]:
        if _holds(rule["when"], facts):
            return rule["grade"], rule["id"]
    raise AssertionError("a validated grading policy ends with an unconditional rule")


# --- rewards ----------------------------------------------------------------------------

class StageAmountsSchema(Schema):
    routine = fields.Decimal(required=True, validate=validate.Range(min=0))
    serious = fields.Decimal(required=True, validate=validate.Range(min=0))
    urgent = fields.Decimal(required=True, validate=validate.Range(min=0))
    major = fields.Decimal(required=True, validate=validate.Range(min=0))


class EarlyWarningSchema(Schema):
    days_before_expected_min = fields.Integer(required=True, validate=validate.Range(min=1))
    bonus = fields.Decimal(required=True, validate=validate.Range(min=0))


class SharingSchema(Schema):
    # first_reporter: the first report takes first_share, the others split the rest
    # equally; equal: every report in the case gets the same part.
    mode = fields.String(required=True, validate=validate.OneOf(("first_reporter", "equal")))
    first_share = fields.Decimal(load_default=Decimal("0.5"),
                                 validate=validate.Range(min=0, max=1))


class RewardPolicySchema(Schema):
    amounts = fields.Dict(keys=fields.String(validate=validate.OneOf(STAGES)),
                          values=fields.Nested(StageAmountsSchema), required=True)
    category_factors = fields.Dict(keys=fields.String(validate=validate.OneOf(CATEGORIES)),
                                   values=fields.Decimal(validate=validate.Range(min=0)),
                                   load_default=dict)
    early_warning = fields.Nested(EarlyWarningSchema, allow_none=True, load_default=None)
    sharing = fields.Nested(SharingSchema, required=True)
    monthly_cap = fields.Decimal(required=True, validate=validate.Range(min=0))

    @validates_schema
    def _every_stage(self, data, **_):
        missing = [stage for stage in STAGES if stage not in data.get("amounts", {})]
        if missing:
            raise ValidationError(f"amounts needed for every stage: {', '.join(missing)}",
                                  "amounts")


SCHEMAS = {"grading": GradingPolicySchema, "rewards": RewardPolicySchema}


def load(kind: str, body: dict) -> dict:
    """A policy body validated (raises ValidationError with field messages)."""
    if kind not in SCHEMAS:
        raise ValidationError({"kind": [f"must be one of {', '.join(KINDS)}"]})
    return SCHEMAS[kind]().load(body)


def default_body(kind: str) -> dict:
    return json.loads((DEFAULTS_DIR / f"{kind}-1.json").read_text(encoding="utf-8"))


@dataclass(frozen=True)
class ReportCredit:
    """One report of a case as reward computation sees it."""

    report_id: str
    informant_id: str
    received_at: datetime
    expected_at: datetime | None
    policy: dict  # the reward policy in force when the report came in
    policy_version: int


@dataclass(frozen=True)
class RewardLine:
    report_id: str
    informant_id: str
    amount: Decimal
    policy_version: int
    explanation: list  # the rules that produced the amount, in order


def reward_lines(stage: str, case_grade: str, category: str,
                 credits: list[ReportCredit]) -> list[RewardLine]:
    """What each report of a case earns at ``stage``, before the monthly cap.

    ``credits`` are in the order the reports came in (the first is the first reporter).
    """
    lines = []
    count = len(credits)
    for position, credit in enumerate(credits):
        policy = credit.policy
        base = Decimal(policy["amounts"][stage][case_grade])
        factor = Decimal(policy["category_factors"].get(category, 1))
        explanation = [f"{stage}.{case_grade}: {yuan(base)}"]
        amount = base * factor
        if factor != 1:
            explanation.append(f"category {category} x{factor}")
        share = _share(policy["sharing"], position, count)
        if share != 1:
            explanation.append(f"shared credit ({policy['sharing']['mode']}, "
                               f"{count} reports): x{share:.4f}")
        amount *= share
        early = policy.get("early_warning")
        if (stage == "verified" and early and credit.expected_at is not None
                and (credit.expected_at - credit.received_at).days
                >= early["days_before_expected_min"]):
            amount += Decimal(early["bonus"])
            explanation.append(f"early warning ({early['days_before_expected_min']}+ days "
                               f"ahead): +{yuan(early['bonus'])}")
        lines.append(RewardLine(credit.report_id, credit.informant_id, yuan(amount),
                                credit.policy_version, explanation))
    return lines


def _share(sharing: dict, position: int, count: int) -> Decimal:
    if count == 1:
        return Decimal(1)
    if sharing["mode"] == "equal":
        return Decimal(1) / count
    first = Decimal(sharing["first_share"])
    return first if position == 0 else (1 - first) / (count - 1)


def apply_cap(amount: Decimal, already_this_month: Decimal,
              cap: Decimal) -> tuple[Decimal, str | None]:
    """The part of ``amount`` that fits under the monthly cap, and why it was cut."""
    room = max(Decimal(0), Decimal(cap) - already_this_month)
    if amount <= room:
        return amount, None
    return yuan(room), f"monthly cap {yuan(cap)}: {yuan(amount)} cut to {yuan(room)}"
