"""Policy as data: how grades are computed and what each stage and action requires.

Two kinds of documents, each versioned, in ``policies/<kind>-<version>.json``:

- ``grading``: the indicators an assessment scores (basic conditions, internal
  governance, work performance, social evaluation), their weights (summing to 1), the
  score bands of 1A-5A (a total below the lowest band gives no grade) and how many years a
  grade stays valid (5);
- ``rules``: the incubation period (months) and how long before its end the reminder is
  raised; the graduation conditions (出壳: registered with civil affairs, a minimum grade,
  a number of activities held); the gates of grade-gated actions (taking purchased
  services, applying to a fund, taking referrals); and which organizations' kinds of
  service take which kinds of members' requests.

A new version is a new file with a later ``effective_from``: what was decided under an
older version keeps its number (an assessment records the grading version that computed
it; a refusal names the rule and the version). Every file is checked when the service
starts (``documents()``): a bad one stops it there instead of failing a request.

Conditions (graduation, gates, a call's eligibility) use one vocabulary, checked by
``domain.refusal``: ``registered`` (true: a credit code on file), ``min_grade`` ("3A": a
valid grade at least that), ``stages`` (the stages allowed; the hub, which has no stage,
passes), ``min_activities`` (activities reported so far).
"""

import functools
import json
import re
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from pathlib import Path

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from shared.events.incubation import GRADES, SERVICE_KINDS, STAGES
from shared.events.membership import SERVICE_KINDS as REQUEST_KINDS

DEFAULTS_DIR = Path(__file__).parent / "policies"
KINDS = ("grading", "rules")
FILE_NAME = re.compile(r"^(grading|rules)-(\d+)\.json$")


class ConditionsSchema(Schema):
    registered = fields.Boolean()
    min_grade = fields.String(validate=validate.OneOf(GRADES))
    stages = fields.List(fields.String(validate=validate.OneOf(STAGES)),
                         validate=validate.Length(min=1))
    min_activities = fields.Integer(validate=validate.Range(min=0, max=100_000))


class IndicatorSchema(Schema):
    id = fields.String(required=True, validate=validate.Regexp(r"^[a-z][a-z_]{0,39}$"))
    label = fields.String(required=True, validate=validate.Length(min=1, max=100))
    weight = fields.Decimal(required=True, validate=validate.Range(min=0, max=1,
                                                                   min_inclusive=False))


class BandSchema(Schema):
    grade = fields.String(required=True, validate=validate.OneOf(GRADES))
    min = fields.Decimal(required=True, validate=validate.Range(min=0))


class GradingSchema(Schema):
    version = fields.Integer(required=True, validate=validate.Range(min=1))
    effective_from = fields.Date(required=True)
    title = fields.String(load_default="")
    indicators = fields.List(fields.Nested(IndicatorSchema), required=True,
                             validate=validate.Length(min=1, max=20))
    max_score = fields.Integer(required=True, validate=validate.Range(min=1, max=1000))
    bands = fields.List(fields.Nested(BandSchema), required=True,
                        validate=validate.Length(min=1, max=len(GRADES)))
    valid_years = fields.Integer(required=True, validate=validate.Range(min=1, max=20))

    @validates_schema
    def _consistent(self, data, **_):
        indicators, bands = data.get("indicators") or [], data.get("bands") or []
        if len({item["id"] for item in indicators}) != len(indicators):
            raise ValidationError("indicator ids must be unique", "indicators")
        if indicators and sum(item["weight"] for item in indicators) != 1:
            raise ValidationError("the weights must add up to 1", "indicators")
        ranks = [GRADES.index(band["grade"]) for band in bands]
        minimums = [band["min"] for band in bands]
        if ranks != sorted(ranks, reverse=True) or len(set(ranks)) != len(ranks) \
                or minimums != sorted(minimums, reverse=True) \
                or len(set(minimums)) != len(minimums):
            raise ValidationError("bands run from the highest grade down, each with a "
                                  "lower minimum score", "bands")
        if any(band["min"] > data.get("max_score", 0) for band in bands):
            raise ValidationError("a band's minimum is above max_score", "bands")


class IncubationSchema(Schema):
    months = fields.Integer(required=True, validate=validate.Range(min=1, max=120))
    reminder_days = fields.Integer(required=True, validate=validate.Range(min=1, max=365))


GATES = ("purchased_service", "fund_application", "referral")


class RulesSchema(Schema):
    version = fields.Integer(required=True, validate=validate.Range(min=1))
    effective_from = fields.Date(required=True)
    title = fields.String(load_default="")
    incubation = fields.Nested(IncubationSchema, required=True)
    graduation = fields.Nested(ConditionsSchema, required=True)
    gates = fields.Dict(keys=fields.String(validate=validate.OneOf(GATES)),
                        values=fields.Nested(ConditionsSchema), required=True)
    referral_kinds = fields.Dict(
        keys=fields.String(validate=validate.OneOf(REQUEST_KINDS)),
        values=fields.List(fields.String(validate=validate.OneOf(SERVICE_KINDS))),
        required=True)

    @validates_schema
    def _every_gate(self, data, **_):
        missing = [gate for gate in GATES if gate not in data.get("gates", {})]
        if missing:
            raise ValidationError(f"every gate needs its conditions: {', '.join(missing)}",
                                  "gates")


SCHEMAS = {"grading": GradingSchema, "rules": RulesSchema}


@dataclass(frozen=True)
class Policy:
    kind: str
    version: int
    effective_from: date
    body: dict  # as loaded: Decimals, dates

    def __getitem__(self, key):
        return self.body[key]


def load(kind: str, body: dict) -> Policy:
    """A document validated (raises marshmallow's ValidationError naming the fields)."""
    loaded = SCHEMAS[kind]().load(body)
    return Policy(kind, loaded["version"], loaded["effective_from"], loaded)


@functools.cache
def documents(directory: Path = DEFAULTS_DIR) -> dict[str, tuple[Policy, ...]]:
    """Every version of every kind, oldest first; raises ``ValueError`` naming the file
    at fault."""
    found = {kind: [] for kind in KINDS}
    for path in sorted(Path(directory).glob("*.json")):
        match = FILE_NAME.match(path.name)
        if not match:
            raise ValueError(f"{path}: policy files are named <grading|rules>-<version>.json")
        kind, number = match[1], int(match[2])
        try:
            policy = load(kind, json.loads(path.read_text(encoding="utf-8")))
        except (ValidationError, json.JSONDecodeError) as exc:
            raise ValueError(f"{path} is not a valid {kind} policy: "
                             f"{getattr(exc, 'messages', exc)}") from None
        if policy.version != number:
            raise ValueError(f"{path} says version {policy.version}")
        found[kind].append(policy)
    for kind, versions in found.items():
        if not versions:
            raise ValueError(f"no {kind} policy in {directory}")
        versions.sort(key=lambda policy: policy.effective_from)
        numbers = [policy.version for policy in versions]
        if numbers != sorted(numbers):
            raise ValueError(f"{kind} versions must take effect in the order of their "
                             f"numbers: {numbers}")
    return {kind: tuple(versions) for kind, versions in found.items()}


def in_force(kind: str, on: date) -> Policy:
    """The version of ``kind`` in force on ``on`` (the earliest if ``on`` precedes all)."""
    versions = documents()[kind]
    chosen = versions[0]
    for policy in versions:
        if policy.effective_from <= on:
            chosen = policy
    return chosen


def version(kind: str, number: int) -> Policy:
    for policy in documents()[kind]:
        if policy.version == number:
            return policy
    raise KeyError(f"no {kind} policy version {number}")


def summary() -> list[dict]:
    """What the service runs under, for ``GET /incubation/policies``."""
    return [{"kind": policy.kind, "version": policy.version,
             "effective_from": policy.effective_from,
             "title": policy.body.get("title", ""), "body": _plain(policy.body)}
            for kind in KINDS for policy in documents()[kind]]


def _plain(value):
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    return value
