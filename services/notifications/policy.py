"""The notification policy: data (``policies/policy.yaml``), checked on load, asked by the
rules in ``domain.py``.

Who hears at once, the acknowledgement deadline, reminders and escalation are all read
from here, so the district changes them by editing data. ``Policy.load`` rejects a policy
that would leave a grade without rules or name a tier or channel that does not exist, with
every problem listed.
"""

from dataclasses import dataclass
from pathlib import Path

import yaml
from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from shared.errors import InvalidInput
from shared.events.disputes import GRADES
from shared.events.notifications import CHAIN_TIERS, RECIPIENT_KINDS

DEFAULT_POLICY = Path(__file__).parent / "policies" / "policy.yaml"

_tier = validate.OneOf(CHAIN_TIERS)
_positive = validate.Range(min=0, min_inclusive=False)


class GradeRulesSchema(Schema):
    label = fields.String(required=True)
    union = fields.List(fields.String(validate=_tier), required=True)
    party = fields.List(fields.String(validate=_tier), required=True)
    acknowledge_within = fields.Float(required=True, validate=_positive)
    remind_at = fields.List(
        fields.Float(validate=validate.Range(min=0, max=1, min_inclusive=False,
                                             max_inclusive=False)),
        load_default=list,
    )
    escalate_to = fields.List(fields.String(validate=validate.OneOf(("union", "party"))),
                              required=True, validate=validate.Length(min=1))


class TopOfChainSchema(Schema):
    remind_every = fields.Float(required=True, validate=_positive)
    reminders = fields.Integer(required=True, validate=validate.Range(min=0, max=100))


class WebhookRulesSchema(Schema):
    retry_delays = fields.List(fields.Float(validate=_positive), required=True)
    timeout = fields.Float(required=True, validate=_positive)


class PolicySchema(Schema):
    version = fields.String(required=True, validate=validate.Length(min=1, max=40))
    ladder = fields.List(fields.String(validate=_tier), required=True,
                         validate=validate.Length(min=1))
    grades = fields.Dict(keys=fields.String(validate=validate.OneOf(GRADES)),
                         values=fields.Nested(GradeRulesSchema), required=True)
    leader_grades = fields.List(fields.String(validate=validate.OneOf(GRADES)),
                                load_default=list)
    top_of_chain = fields.Nested(TopOfChainSchema, required=True)
    channels = fields.Dict(keys=fields.String(validate=validate.OneOf(RECIPIENT_KINDS)),
                           values=fields.List(fields.String(), validate=validate.Length(min=1)),
                           required=True)
    webhook = fields.Nested(WebhookRulesSchema, required=True)

    @validates_schema
    def _complete(self, data, **kwargs):
        missing = [grade for grade in GRADES if grade not in data.get("grades", {})]
        if missing:
            raise ValidationError(f"no rules for grades {missing}", "grades")
        missing = [kind for kind in RECIPIENT_KINDS if kind not in data.get("channels", {})]
        if missing:
            raise ValidationError(f"no channels for recipient kinds {missing}", "channels")


@dataclass(frozen=True)
class GradeRules:
    grade: str
    label: str
    union: tuple
    party: tuple
    acknowledge_within: float
    remind_at: tuple
    escalate_to: tuple


@dataclass(frozen=True)
class Policy:
    version: str
    ladder: tuple
    grades: dict  # grade -> GradeRules
    leader_grades: frozenset
    top_remind_every: float
    top_reminders: int
    channels: dict  # recipient kind -> tuple of channel names
    webhook_retry_delays: tuple
    webhook_timeout: float

    @classmethod
    def load(cls, source=None, known_channels=None) -> "Policy":
        """From a dict, a YAML file path, or (None) the policy shipped with the service."""
        if source is None:
            source = DEFAULT_POLICY
        if isinstance(source, str | Path):
            with open(source, encoding="utf-8") as handle:
                source = yaml.safe_load(handle)
        try:
            data = PolicySchema().load(source)
        except ValidationError as exc:
            raise InvalidInput("notification policy rejected", exc.messages) from None
        if known_channels is not None:
            unknown = sorted({name for names in data["channels"].values() for name in names}
                             - set(known_channels))
            if unknown:
                raise InvalidInput("notification policy names unknown channels",
                                   {"channels": unknown, "known": sorted(known_channels)})
        return cls(
            version=data["version"],
            ladder=tuple(data["ladder"]),
            grades={
                grade: GradeRules(grade=grade, label=rules["label"],
                                  union=tuple(rules["union"]), party=tuple(rules["party"]),
                                  acknowledge_within=rules["acknowledge_within"],
                                  remind_at=tuple(sorted(rules["remind_at"])),
                                  escalate_to=tuple(rules["escalate_to"]))
                for grade, rules in data["grades"].items()
            },
            leader_grades=frozenset(data["leader_grades"]),
            top_remind_every=data["top_of_chain"]["remind_every"],
            top_reminders=data["top_of_chain"]["reminders"],
            channels={kind: tuple(names) for kind, names in data["channels"].items()},
            webhook_retry_delays=tuple(data["webhook"]["retry_delays"]),
            webhook_timeout=data["webhook"]["timeout"],
        )

    def rules(self, grade: str) -> GradeRules:
        return self.grades[grade]

    def at_once(self, grade: str, tier: str) -> list[tuple[str, str]]:
        """(recipient kind, rule) pairs that hear at once at ``tier`` for ``grade``."""
        rules = self.grades[grade]
        heard = []
        for kind in ("union", "party"):
            if tier in getattr(rules, kind):
                heard.append((kind, f"policy {self.version}: {grade} notifies {kind} at {tier}"))
        return heard

    def on_escalation(self, grade: str, tier: str) -> list[tuple[str, str]]:
        rules = self.grades[grade]
        return [(kind, f"policy {self.version}: {grade} escalates to {kind} at {tier}")
                for kind in rules.escalate_to]

    def leader_hears(self, grade: str) -> bool:
        return grade in self.leader_grades

    def rank(self, tier: str) -> int:
        return self.ladder.index(tier) if tier in self.ladder else -1
