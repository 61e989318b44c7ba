"""The competition's rules as data: groups, criteria, aggregation, quotas, eligibility.

A rules document is published as a numbered version (``rules`` table, like the reward
policy in disputes); an edition is created under the version in force that day and keeps
it, so a later change of the rules never rescores a past edition. The default shipped
with the service is ``policies/rules-1.json`` (the 2016 groups).

    {"objection_days": 7,                 # the public notice (公示), in days
     "conflict_depth": 3,                 # conflicts of interest count from the community down
     "eligibility": [rule, ...],          # every group
     "groups": [{"code": "innovation", "name": "职工创新之星",
                 "criteria": [{"code", "name", "weight", "min", "max"}, ...],  # weights: 100
                 "aggregation": {"method": "trimmed_mean", "trim": 1},  # | mean | zscore
                 "tie_criterion": "achievement",
                 "quotas": {"qualification": null,   # finalists per street (null: all)
                            "street_final": 2,       # advance per street to the district
                            "district_final": 5},    # winners
                 "eligibility": [rule, ...]}]}       # this group's own

An eligibility rule has an ``id`` (what a refusal names), a ``label`` (its wording) and a
``kind``: ``active_member``, ``nominator``, ``enterprise_active``, ``enterprise_union``,
``no_major_dispute`` (with ``within_days``), or ``fact``: a fact the nominating union
states (``FACTS``) compared with ``min``, ``max`` or ``equals``. What each kind checks is
``domain.check_rule``.
"""

import json
from pathlib import Path

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

DEFAULTS = Path(__file__).parent / "policies" / "rules-1.json"
METHODS = ("mean", "trimmed_mean", "zscore")
RULE_KINDS = ("active_member", "nominator", "enterprise_active", "enterprise_union",
              "no_major_dispute", "fact")
# Facts a nominating union states about its nominee (``facts`` of a nomination); ``age``
# is worked out from ``birth_year`` in the edition's year.
FACTS = {"years_on_front_line": int, "years_in_district": int, "birth_year": int,
         "age": int, "team_leader": bool}
CODE = validate.Regexp(r"^[a-z][a-z0-9_]{0,39}$", error="a lower-case code: a-z, 0-9, _")


class RuleSchema(Schema):
    id = fields.String(required=True, validate=CODE)
    kind = fields.String(required=True, validate=validate.OneOf(RULE_KINDS))
    label = fields.String(required=True, validate=validate.Length(min=1, max=200))
    fact = fields.String(validate=validate.OneOf(sorted(FACTS)))
    min = fields.Integer()
    max = fields.Integer()
    equals = fields.Raw()
    within_days = fields.Integer(validate=validate.Range(min=1, max=3650))

    @validates_schema
    def _complete(self, data, **_):
        if data["kind"] == "fact":
            if "fact" not in data:
                raise ValidationError("a fact rule names its fact", "fact")
            if not {"min", "max", "equals"} & set(data):
                raise ValidationError("a fact rule needs min, max or equals", "kind")
        if data["kind"] == "no_major_dispute" and "within_days" not in data:
            raise ValidationError("no_major_dispute needs within_days", "within_days")


class CriterionSchema(Schema):
    code = fields.String(required=True, validate=CODE)
    name = fields.String(required=True, validate=validate.Length(min=1, max=100))
    weight = fields.Integer(required=True, validate=validate.Range(min=1, max=100))
    min = fields.Integer(load_default=0, validate=validate.Range(min=0))
    max = fields.Integer(required=True, validate=validate.Range(min=1, max=1000))


class AggregationSchema(Schema):
    method = fields.String(required=True, validate=validate.OneOf(METHODS))
    trim = fields.Integer(load_default=1, validate=validate.Range(min=1, max=5))


class QuotasSchema(Schema):
    qualification = fields.Integer(allow_none=True, load_default=None,
                                   validate=validate.Range(min=1))
    street_final = fields.Integer(required=True, validate=validate.Range(min=1))
    district_final = fields.Integer(required=True, validate=validate.Range(min=1))


class GroupSchema(Schema):
    code = fields.String(required=True, validate=CODE)
    name = fields.String(required=True, validate=validate.Length(min=1, max=100))
    criteria = fields.List(fields.Nested(CriterionSchema), required=True,
                           validate=validate.Length(min=1, max=20))
    aggregation = fields.Nested(AggregationSchema, required=True)
    tie_criterion = fields.String(required=True)
    quotas = fields.Nested(QuotasSchema, required=True)
    eligibility = fields.List(fields.Nested(RuleSchema), load_default=list)

    @validates_schema
    def _consistent(self, data, **_):
        codes = [criterion["code"] for criterion in data["criteria"]]
        if len(codes) != len(set(codes)):
            raise ValidationError("criterion codes must be unique", "criteria")
        if sum(criterion["weight"] for criterion in data["criteria"]) != 100:
            raise ValidationError("the weights of a group's criteria add up to 100",
                                  "criteria")
        if any(criterion["min"] >= criterion["max"] for criterion in data["criteria"]):
            raise ValidationError("each criterion's min is below its max", "criteria")
        if data["tie_criterion"] not in codes:
            raise ValidationError("the tie criterion is one of the group's criteria",
                                  "tie_criterion")


class RulesSchema(Schema):
    objection_days = fields.Integer(load_default=7, validate=validate.Range(min=1, max=90))
    conflict_depth = fields.Integer(load_default=3, validate=validate.Range(min=1, max=10))
    eligibility = fields.List(fields.Nested(RuleSchema), load_default=list)
    groups = fields.List(fields.Nested(GroupSchema), required=True,
                         validate=validate.Length(min=1, max=30))

    @validates_schema
    def _unique(self, data, **_):
        codes = [group["code"] for group in data.get("groups", [])]
        if len(codes) != len(set(codes)):
            raise ValidationError("group codes must be unique", "groups")
        common = {rule["id"] for rule in data.get("eligibility", [])}
        for group in data.get("groups", []):
            ids = [rule["id"] for rule in group["eligibility"]]
            if len(ids) != len(set(ids)) or common & set(ids):
                raise ValidationError(f"rule ids of group {group['code']} must be unique "
                                      "and differ from the edition's", "groups")


def load_rules(body) -> dict:
    """A rules document validated (ValidationError names each field)."""
    return RulesSchema().load(body)


def default_body() -> dict:
    return json.loads(DEFAULTS.read_text(encoding="utf-8"))


def group(rules: dict, code: str) -> dict | None:
    return next((group for group in rules["groups"] if group["code"] == code), None)


def eligibility_rules(rules: dict, group_code: str) -> list[dict]:
    """The edition's rules, then the group's own, in the order they are checked."""
    return list(rules["eligibility"]) + list(group(rules, group_code)["eligibility"])
