"""Marshmallow helpers every service and the gateway use."""

from datetime import datetime

from marshmallow import Schema, ValidationError, fields

from shared.errors import from_validation_error
from shared.timeutil import as_utc, representable


def load(schema: Schema, data, message: str = "input rejected", **kwargs):
    """``schema.load(data)``; a rejection is an ``InvalidInput`` naming each field."""
    try:
        return schema.load(data, **kwargs)
    except ValidationError as exc:
        raise from_validation_error(exc, message) from None


class Timestamp(fields.AwareDateTime):
    """A point in time: dumped as RFC 3339 with an offset (a naive value, as SQLite gives
    it back, was stored as UTC); loaded only with an offset, so nobody's local time is
    taken for UTC by mistake."""

    def __init__(self, **kwargs):
        kwargs.setdefault("format", "iso")
        super().__init__(**kwargs)

    def _deserialize(self, value, attr, data, **kwargs):
        return representable_or_error(self, super()._deserialize(value, attr, data, **kwargs))

    def _serialize(self, value, attr, obj, **kwargs):
        if isinstance(value, datetime):
            value = as_utc(value)
        return super()._serialize(value, attr, obj, **kwargs)


def representable_or_error(field: fields.Field, value: datetime) -> datetime:
    """``value`` if it has a UTC equivalent, else the field's error (not a 500 later)."""
    try:
        return representable(value)
    except ValueError as exc:
        raise ValidationError(f"{value.isoformat()} {exc}") from None
