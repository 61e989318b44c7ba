"""Time, always aware and in UTC inside the system.

SQLite hands datetimes back naive although they were stored as UTC; ``as_utc`` is the
one place that says so.
"""

from datetime import UTC, datetime


def now_utc() -> datetime:
    return datetime.now(UTC)


def as_utc(value: datetime | None) -> datetime | None:
    """``value`` with its time zone; a naive one (from SQLite) was stored as UTC."""
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=UTC)


def representable(value: datetime) -> datetime:
    """``value`` (aware) if it has a UTC equivalent; ``0001-01-01T00:00:00+14:00`` is before
    ``datetime.min`` in UTC, so storing or comparing it would overflow later: a
    ``ValueError`` now, which input schemas turn into a field error."""
    try:
        value.astimezone(UTC)
    except OverflowError:
        raise ValueError("is out of range once converted to UTC") from None
    return value


def rfc3339(value: datetime | None) -> str | None:
    """How every timestamp leaves the system: RFC 3339 with an offset, e.g.
    ``2026-12-02T05:30:00+00:00``. The CLI prints them the same way."""
    return None if value is None else as_utc(value).isoformat()
