"""Rate limits counted in a service's own database, so every replica sees the same totals.

A service that limits something:

- declares the table, ``rate_hits = rate_hits_table(metadata)``, and a migration for it;
- names its limits ``{scope: (max hits, window seconds)}`` and declares
  ``limits = RateLimits("MEMBERSHIP_RATE_LIMITS", DEFAULTS)`` (``shared.dependencies``),
  which reads them with ``limits_from`` when the service starts (the setting overrides
  them: ``scope=hits/seconds,...`` in the environment, or a dict in the nameko config);
- calls ``check_rate`` in the unit of work of each request it limits, and
  ``purge_rate_hits`` now and then.

Past a limit ``check_rate`` raises ``TooManyRequests`` (429) whose ``details.retry_after``
says in how many seconds a request will pass again; ``shared.web`` also sends it as a
``Retry-After`` header. A refused request is not counted.
"""

import functools
import os
from datetime import UTC, datetime, timedelta

from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Index,
    Integer,
    String,
    Table,
    bindparam,
    delete,
    func,
    insert,
    select,
    union_all,
)

from shared.errors import TooManyRequests

KEY_LENGTH = 80


def rate_hits_table(metadata, at_type=None) -> Table:
    """One row per counted request: its key ("<scope>:<who>") and when it came."""
    return Table(
        "rate_hits", metadata,
        Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True,
               autoincrement=True),
        Column("key", String(KEY_LENGTH), nullable=False),
        Column("at", at_type if at_type is not None else DateTime(timezone=True),
               nullable=False),
        Index("ix_rate_hits_key_at", "key", "at"),
    )


def limits_from(setting: str, defaults: dict, config, env=os.environ) -> dict:
    """``defaults`` overridden by ``env[setting]`` ("scope=hits/seconds,...") and then by
    ``config[setting]`` (a dict like ``defaults``). A typo is refused at once: a limit
    silently left at its default is worse than a service that does not start."""
    limits = dict(defaults)
    for part in filter(None, env.get(setting, "").split(",")):
        scope, _, value = part.partition("=")
        hits, _, window = value.partition("/")
        if scope.strip() not in defaults or not hits.strip().isdigit() \
                or not window.strip().isdigit():
            raise ValueError(f"{setting}: {part!r} is not scope=hits/seconds "
                             f"with scope one of {', '.join(defaults)}")
        limits[scope.strip()] = (int(hits), int(window))
    limits.update(config.get(setting, {}))
    return limits


def check_rate(session, table: Table, limits: list[tuple[str, str, int, int]],
               now: datetime, what: str = "requests") -> None:
    """``limits``: (scope, key, max hits, window seconds). Records a hit under each key
    when all pass; otherwise raises TooManyRequests naming the first scope over its limit
    ("too many ``what`` from this ``scope``").

    Two requests racing at the very edge of a limit may both pass: a limit, not an exact
    quota.

    One statement when all pass (limits sit on hot paths: every report): an INSERT that
    selects the hits only if every key is under its limit. Otherwise the counts are read
    again to say which limit and when to come back.
    """
    if not limits:
        return
    params = {"at": now}
    for number, (_scope, key, limit, window) in enumerate(limits):
        params.update({f"key{number}": key, f"since{number}": now - timedelta(seconds=window),
                       f"limit{number}": limit})
    if session.execute(_record_if_under(table, len(limits)), params).rowcount == len(limits):
        return
    refused = rate_exceeded(session, table, limits, now, what)
    if refused is not None:
        raise refused
    record_hits(session, table, limits, now)


def rate_exceeded(session, table: Table, limits: list[tuple[str, str, int, int]],
                  now: datetime, what: str = "requests") -> TooManyRequests | None:
    """The TooManyRequests ``check_rate`` would raise, without recording anything: for a
    limit on failures only (failed sign-ins), checked before and counted after."""
    if not limits:
        return None
    params = {}
    for number, (_scope, key, _limit, window) in enumerate(limits):
        params[f"key{number}"] = key
        params[f"since{number}"] = now - timedelta(seconds=window)
    row = session.execute(_rate_query(table, len(limits)), params).one()
    for number, (scope, _key, limit, window) in enumerate(limits):
        hits, oldest = row[2 * number], row[2 * number + 1]
        if hits >= limit:
            oldest = _as_utc(oldest) or now
            retry_after = max(1, int((oldest + timedelta(seconds=window) - now)
                                     .total_seconds()) + 1)
            return TooManyRequests(
                f"too many {what} from this {scope}: at most {limit} per "
                f"{_duration(window)}; try again in {retry_after} s",
                {"scope": scope, "limit": limit, "window_seconds": window,
                 "retry_after": retry_after},
            )
    return None


def record_hits(session, table: Table, limits: list[tuple[str, str, int, int]],
                now: datetime) -> None:
    if limits:
        session.execute(insert(table), [{"key": key, "at": now}
                                        for _s, key, _l, _w in limits])


def purge_rate_hits(session, table: Table, older_than: datetime) -> int:
    return session.execute(delete(table).where(table.c.at < older_than)).rowcount


@functools.cache
def _rate_query(table: Table, keys: int):
    """One query counting every key, each over its own window (built once per table and
    number of keys; the keys and windows are parameters)."""
    columns = []
    for number in range(keys):
        inside = (table.c.key == bindparam(f"key{number}"),
                  table.c.at > bindparam(f"since{number}"))
        columns += [select(func.count()).where(*inside).scalar_subquery(),
                    select(func.min(table.c.at)).where(*inside).scalar_subquery()]
    return select(*columns)


@functools.cache
def _record_if_under(table: Table, keys: int):
    """INSERT INTO table (key, at) SELECT each key, at WHERE every key's hits within its
    window are under its limit (built once per table and number of keys)."""
    each_key = [select(bindparam(f"key{number}", type_=table.c.key.type).label("key"))
                for number in range(keys)]
    named = (each_key[0] if keys == 1 else union_all(*each_key)).subquery()
    under = [select(func.count()).where(table.c.key == bindparam(f"key{number}"),
                                        table.c.at > bindparam(f"since{number}"))
             .scalar_subquery() < bindparam(f"limit{number}")
             for number in range(keys)]
    return insert(table).from_select(
        ["key", "at"],
        select(named.c.key, bindparam("at", type_=table.c.at.type)).where(*under))


def _as_utc(value: datetime | None) -> datetime | None:
    """SQLite hands back naive datetimes: they were stored as UTC."""
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=UTC)


def _duration(seconds: int) -> str:
    if seconds % 3600 == 0:
        return f"{seconds // 3600} h"
    if seconds % 60 == 0:
        return f"{seconds // 60} min"
    return f"{seconds} s"
