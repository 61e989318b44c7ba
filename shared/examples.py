"""Example payloads built from a type's marshmallow schema, so every type in the catalogue
(including those added later) gets one without anybody writing it by hand: the examples
of asyncapi.yaml (``shared.asyncapi``) and the contract tests' payloads.

``example(schema)`` fills every field; ``example(schema, nulls=True)`` sets the fields that
allow None to None. A field kind or validator this module cannot satisfy raises
``NoExample`` naming the field: teach ``_value`` about it, or add the type to ``EXAMPLES``.
"""

import uuid
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal

from marshmallow import fields, validate

# (source, type) -> payload, for a type whose schema-level rules the generator cannot meet.
EXAMPLES = {
    # its members are [worker_id, membership_id] pairs, checked in one pass
    ("membership", "member_batch_imported"): {
        "import_id": 1, "batch": 1, "enterprises": {"91440300MA5D00000X": {
            "union_code": "440307", "organization_path": ["440307"],
            "members": [[1, 2]]}}},
}

# Strings tried against a Regexp validator, in order: codes, amounts, words.
REGEXP_CANDIDATES = ("12000.50", "1", "0", "91440300MA5D00000X", "440307", "a", "A1", "x-1",
                     "someone@example.org", "https://example.org/hook", "13800138000")


class NoExample(Exception):
    pass


def example(schema, nulls=False) -> dict:
    instance = schema() if isinstance(schema, type) else schema
    return {name: _value(name, field, nulls) for name, field in instance.fields.items()
            if not field.dump_only}


def _value(name, field, nulls):
    if nulls and field.allow_none:
        return None
    validators = list(field.validators)
    choices = [v for v in validators if isinstance(v, validate.OneOf)]
    if choices:
        return next(iter(choices[0].choices))
    equal = [v for v in validators if isinstance(v, validate.Equal)]
    if equal:
        return equal[0].comparable
    if isinstance(field, fields.Nested):
        nested = field.schema
        if field.many:
            return [example(type(nested), nulls)]
        return example(type(nested), nulls)
    if isinstance(field, fields.List):
        return [_value(name, field.inner, nulls)]
    if isinstance(field, fields.Tuple):
        return tuple(_value(name, inner, nulls) for inner in field.tuple_fields)
    if isinstance(field, fields.Dict | fields.Mapping):
        key = _value(name, field.key_field, nulls=False) if field.key_field else "key"
        value = _value(name, field.value_field, nulls) if field.value_field else "value"
        return {key: value}
    if isinstance(field, fields.Boolean):
        return True
    if isinstance(field, fields.Decimal):
        return Decimal("12000.50")
    if isinstance(field, fields.Integer):
        return _number(validators, 1)
    if isinstance(field, fields.Number):
        return float(_number(validators, 1.5))
    if isinstance(field, fields.NaiveDateTime):
        return datetime(2026, 11, 21, 10, 0, 0)
    if isinstance(field, fields.DateTime):  # also AwareDateTime
        return datetime(2026, 11, 21, 10, 0, 0, tzinfo=UTC)
    if isinstance(field, fields.Date):
        return date(2026, 11, 21)
    if isinstance(field, fields.Time):
        return time(10, 0)
    if isinstance(field, fields.TimeDelta):
        return timedelta(minutes=5)
    if isinstance(field, fields.UUID):
        return uuid.UUID("0f8fad5b-d9cb-469f-a165-70867728950e")
    if isinstance(field, fields.Email):
        return "someone@example.org"
    if isinstance(field, fields.Url):
        return "https://example.org/hook"
    if isinstance(field, fields.String | fields.Raw):
        return _string(name, validators)
    raise NoExample(f"no example for field {name!r} ({type(field).__name__})")


def _number(validators, default):
    for validator in validators:
        if isinstance(validator, validate.Range):
            if validator.min is not None:
                return validator.min if validator.min_inclusive else validator.min + 1
            if validator.max is not None:
                return validator.max if validator.max_inclusive else validator.max - 1
    return default


def _string(name, validators):
    regexps = [v for v in validators if isinstance(v, validate.Regexp)]
    lengths = [v for v in validators if isinstance(v, validate.Length)]
    candidates = REGEXP_CANDIDATES if regexps else (f"示例 {name}",)
    for candidate in candidates:
        if all(v.regex.match(candidate) for v in regexps):
            return _fit(candidate, lengths)
    raise NoExample(f"no example string matches the pattern of field {name!r}")


def _fit(text, lengths):
    for length in lengths:
        if length.equal is not None:
            text = (text * length.equal)[: length.equal]
        if length.min is not None and len(text) < length.min:
            text = text + "x" * (length.min - len(text))
        if length.max is not None and len(text) > length.max:
            text = text[: length.max]
    return text


def payload(event_type, nulls=False) -> dict:
    key = (event_type.source, event_type.type)
    if key in EXAMPLES:
        return EXAMPLES[key]
    return example(event_type.schema, nulls)
