"""The event envelope: CloudEvents 1.0 attributes around a payload checked by its schema.

On the wire an event is one JSON object (CloudEvents "structured mode"):

    {"specversion": "1.0", "id": "3f0c...", "source": "gonghui/registry",
     "type": "enterprise_registered", "dataversion": 1,
     "time": "2026-11-21T10:00:00.123456+00:00", "subject": "91440300MA5D...",
     "datacontenttype": "application/json",
     "dataschema": "urn:gonghui:event:registry:enterprise_registered:1",
     "data": {...}}

published to the topic exchange ``<service>.events`` with routing key = ``type`` (the
nameko convention, so ``@event_handler("registry", "enterprise_registered")`` receives
it). ``dataversion`` is a CloudEvents extension attribute: a breaking change to a payload
is published as a new type (``enterprise_registered_v2``) and the old one kept until
nobody consumes it; additive changes raise nothing.
"""

import functools
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime

from marshmallow import Schema, ValidationError, fields, missing, validate

SPECVERSION = "1.0"
SOURCE_PREFIX = "gonghui/"


class InvalidEvent(ValueError):
    """A payload or envelope its schema rejects; ``messages`` says why, field by field."""

    def __init__(self, message, messages=None):
        super().__init__(message)
        self.messages = messages or {}


@dataclass(frozen=True)
class EventType:
    source: str  # the publishing service, e.g. "registry"
    type: str  # past tense, snake_case: the routing key
    schema: type[Schema]
    version: int = 1
    description: str = ""

    @property
    def dataschema(self) -> str:
        return f"urn:gonghui:event:{self.source}:{self.type}:{self.version}"

    @property
    def exchange(self) -> str:
        return f"{self.source}.events"


@dataclass
class Catalogue:
    """Every event type the system publishes, keyed by (source, type)."""

    types: dict = field(default_factory=dict)

    def define(self, source, type_, schema, version=1, description=""):
        key = (source, type_)
        if key in self.types:
            raise ValueError(f"event {source}/{type_} is defined twice")
        event_type = EventType(source, type_, schema, version, description)
        self.types[key] = event_type
        return event_type

    def get(self, source, type_) -> EventType:
        try:
            return self.types[(source, type_)]
        except KeyError:
            raise InvalidEvent(f"unknown event type {source}/{type_}") from None

    def __iter__(self):
        return iter(sorted(self.types.values(), key=lambda t: (t.source, t.type)))


catalogue = Catalogue()


class EnvelopeSchema(Schema):
    specversion = fields.String(required=True, validate=validate.Equal(SPECVERSION))
    id = fields.String(required=True, validate=validate.Length(min=1, max=64))
    source = fields.String(required=True, validate=validate.Length(min=1))
    type = fields.String(required=True, validate=validate.Length(min=1))
    dataversion = fields.Integer(required=True, validate=validate.Range(min=1))
    time = fields.String(required=True)
    subject = fields.String(allow_none=True, load_default=None)
    datacontenttype = fields.String(load_default="application/json")
    dataschema = fields.String(load_default=None, allow_none=True)
    data = fields.Dict(required=True)


@dataclass(frozen=True)
class Event:
    """A received event: envelope attributes plus the validated payload."""

    id: str
    source: str
    type: str
    time: str
    subject: str | None
    data: dict
    dataversion: int = 1
    consumer: str | None = None  # "<service>.<method>" handling it: the idempotency key


@functools.cache
def _schema(schema_class) -> Schema:
    # Building a schema costs twice what dumping and validating with it does (~100 us):
    # one instance per type, reused by senders and consumers alike (marshmallow 4 schemas
    # keep no per-call state; ``unknown`` and ``partial`` are arguments of each call).
    return schema_class()


def make_envelope(event_type: EventType, data: dict, subject=None, event_id=None,
                  validate=True, wire_form=False) -> dict:
    """Validate ``data`` against its schema and wrap it; raises InvalidEvent if rejected.

    ``validate=False`` only dumps: for payloads the code itself built from checked state
    in bulk (the registry import), where a test proves the built payloads pass.
    ``wire_form=True`` (with ``validate=False``) does not even dump: ``data`` is already
    what the dump gives (JSON types, the schema's fields only), as a test proves for the
    registry import's payloads; a dump cost it more than the rest of the envelope."""
    name = f"{event_type.source}/{event_type.type}"
    if wire_form and not validate:
        dumped = data
    else:
        schema = _schema(event_type.schema)
        # Dump first (datetimes, decimals -> JSON), then validate the wire form: what a
        # consumer will load is exactly what is checked here.
        try:
            dumped = schema.dump(data)
        except (AttributeError, TypeError, ValueError) as exc:
            raise InvalidEvent(f"{name} payload cannot be serialised: {exc}") from None
        errors = schema.validate(dumped) if validate else None
        if errors:
            raise InvalidEvent(f"{name} payload rejected by its schema", errors)
    return {
        "specversion": SPECVERSION,
        "id": event_id or uuid.uuid4().hex,
        "source": SOURCE_PREFIX + event_type.source,
        "type": event_type.type,
        "dataversion": event_type.version,
        "time": datetime.now(UTC).isoformat(),
        "subject": None if subject is None else str(subject),
        "datacontenttype": "application/json",
        "dataschema": event_type.dataschema,
        "data": dumped,
    }


def known_fields_only(schema: Schema, data):
    """``data`` without the fields ``schema`` does not declare, at every nesting level.

    Adding a field to a payload is not a breaking change: a consumer built against the
    older schema must ignore it rather than dead-letter the event. marshmallow's
    ``unknown=EXCLUDE`` does not reach nested schemas, hence this walk.
    """
    if not isinstance(data, dict):
        return data
    known = {}
    for name, declared in schema.fields.items():
        key = declared.data_key or name
        if key in data:
            known[key] = _known_value(declared, data[key])
    return known


def _known_value(field, value):
    if isinstance(field, fields.Nested) and value is not None:
        if field.many or isinstance(value, list):
            return [known_fields_only(field.schema, item) for item in value]
        return known_fields_only(field.schema, value)
    if isinstance(field, fields.List) and isinstance(value, list):
        return [_known_value(field.inner, item) for item in value]
    return value


# --- loading plainly good payloads without marshmallow ------------------------------------
#
# A consumer loads every payload it receives (~55 us an enterprise snapshot with
# marshmallow; a bulk import's batch event holds 5,000 of them, five services take each).
# For a schema made only of plain fields (String, Integer, Boolean, List, Nested, with
# their validators), ``quick_loader`` builds a function that loads a payload of plainly
# good values to exactly what ``schema.load(known_fields_only(schema, data))`` gives, and
# answers NOT_PLAIN for anything else (a string for an integer, a bad value, a missing
# field), which then goes through marshmallow for its answer and its error messages.
# tests/shared/test_envelope.py holds the two side by side.

NOT_PLAIN = object()
_EXACT = {fields.String: str, fields.Integer: int, fields.Boolean: bool}


@functools.cache
def quick_loader(schema_class):
    """The plain-values loader of a schema class, or None where marshmallow must load."""
    return _compile_schema(_schema(schema_class))


def _compile_schema(schema):
    if any(schema._hooks.values()):
        return None  # pre/post-load or schema validators: marshmallow's to run
    checks = []
    for name, declared in schema.fields.items():
        if declared.data_key not in (None, name) or declared.attribute not in (None, name) \
                or declared.dump_only:
            return None
        check = _compile_field(declared)
        if check is None:
            return None
        checks.append((name, declared.required, declared.load_default, check))

    def load(data):
        if type(data) is not dict:
            return NOT_PLAIN
        loaded = {}
        for name, required, default, check in checks:
            if name in data:
                value = check(data[name])
                if value is NOT_PLAIN:
                    return NOT_PLAIN
                loaded[name] = value
            elif required:
                return NOT_PLAIN
            elif default is not missing:
                loaded[name] = default() if callable(default) else default
        return loaded
    return load


def _compile_field(declared):
    if getattr(declared, "pre_load", None) or getattr(declared, "post_load", None):
        return None
    kind = type(declared)
    if kind in _EXACT:
        wanted = _EXACT[kind]

        def value_of(value):
            return value if type(value) is wanted else NOT_PLAIN
    elif kind is fields.List:
        inner = _compile_field(declared.inner)
        if inner is None:
            return None

        def value_of(value):
            if type(value) is not list:
                return NOT_PLAIN
            items = [inner(item) for item in value]
            return NOT_PLAIN if any(item is NOT_PLAIN for item in items) else items
    elif kind is fields.Nested and not declared.many and isinstance(declared.schema, Schema):
        nested = _compile_schema(declared.schema)
        if nested is None:
            return None
        value_of = nested
    else:
        return None
    allow_none, validators = declared.allow_none, list(declared.validators)

    def check(value):
        if value is None:
            return None if allow_none else NOT_PLAIN
        value = value_of(value)
        if value is NOT_PLAIN:
            return NOT_PLAIN
        try:
            for validator in validators:
                validator(value)
        except ValidationError:
            return NOT_PLAIN
        return value
    return check


def load_payload(schema_class, data):
    """What a consumer receives: ``data`` loaded by its schema, unknown fields ignored at
    every level; ValidationError if the schema rejects it."""
    quick = quick_loader(schema_class)
    loaded = NOT_PLAIN if quick is None else quick(data)
    if loaded is NOT_PLAIN:
        schema = _schema(schema_class)
        loaded = schema.load(known_fields_only(schema, data))
    return loaded


def parse_envelope(body, source: str, type_: str, catalogue_=None) -> Event:
    """Check a received body; raises InvalidEvent for anything a consumer cannot use."""
    if not isinstance(body, dict):
        raise InvalidEvent(f"event body must be a JSON object, got {type(body).__name__}")
    try:
        envelope = _schema(EnvelopeSchema).load(body, unknown="include")
    except ValidationError as exc:
        raise InvalidEvent("event envelope rejected", exc.messages) from None
    event_type = (catalogue_ or catalogue).get(source, type_)
    if envelope["dataversion"] != event_type.version:
        raise InvalidEvent(
            f"{source}/{type_} version {envelope['dataversion']} is not the known "
            f"version {event_type.version}"
        )
    try:
        data = load_payload(event_type.schema, envelope["data"])
    except ValidationError as exc:
        raise InvalidEvent(f"{source}/{type_} payload rejected", exc.messages) from None
    return Event(
        id=envelope["id"],
        source=envelope["source"],
        type=envelope["type"],
        time=envelope["time"],
        subject=envelope["subject"],
        data=data,
        dataversion=envelope["dataversion"],
    )
