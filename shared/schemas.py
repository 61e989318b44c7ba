"""Marshmallow helpers every service and the gateway use."""

from datetime import date, datetime

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


class Day(fields.Date):
    """A calendar day from 1900 to 2999: wide enough for any record, narrow enough that
    the day after it and its instants in any time zone exist (9999-12-31 + 1 day is an
    OverflowError, a 500, where a range's end is turned into an instant)."""

    FIRST, LAST = date(1900, 1, 1), date(2999, 12, 31)

    def _deserialize(self, value, attr, data, **kwargs):
        day = super()._deserialize(value, attr, data, **kwargs)
        if not self.FIRST <= day <= self.LAST:
            raise ValidationError(
                f"a day between {self.FIRST.isoformat()} and {self.LAST.isoformat()}")
        return day


def representable_or_error(field: fields.Field, value: datetime) -> datetime:
    """``value`` if it has a UTC equivalent, else the field's error (not a 500 later)."""
    try:
        return representable(value)
    except ValueError as exc:
        raise ValidationError(f"{value.isoformat()} {exc}") from None
