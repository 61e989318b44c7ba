"""The one pagination scheme of every list, over HTTP and RPC: cursors.

    GET /api/v1/service-requests?code=longgang.bantian.nankeng&limit=100
    -> {"items": [...], "next_cursor": "WzEyMzRd"}
    GET /api/v1/service-requests?code=longgang.bantian.nankeng&limit=100&cursor=WzEyMzRd
    -> {"items": [...], "next_cursor": null}          # the last page

``cursor`` is opaque to clients: the sort key of the last row of the previous page
(base64url of a JSON array). Pages are read by key ("the rows after this one"), not by
offset, so a client walking them sees every row that existed when it started exactly
once even while rows are added, and each page is an index range however deep it is.
``limit`` is 1 to ``MAX_LIMIT`` (500), ``DEFAULT_LIMIT`` (100) when absent.

A list's query schema inherits ``CursorQuery``; its answer schema is
``page_schema(ItemSchema)``; its read calls ``keyset_page`` (SQL) or ``sequence_page``
(a list already in memory).
"""

import base64
import binascii
import json
from collections.abc import Callable, Sequence
from datetime import datetime
from decimal import Decimal

from marshmallow import Schema, fields, validate
from sqlalchemy import Select, tuple_

from shared.errors import InvalidInput
from shared.timeutil import as_utc

DEFAULT_LIMIT = 100
MAX_LIMIT = 500
MAX_CURSOR_LENGTH = 1000


class CursorQuery(Schema):
    cursor = fields.String(
        load_default=None, validate=validate.Length(min=1, max=MAX_CURSOR_LENGTH),
        metadata={"description": "next_cursor of the previous page; absent for the first "
                                 "page", "example": "WzEyMzRd"})
    limit = fields.Integer(
        load_default=DEFAULT_LIMIT, validate=validate.Range(min=1, max=MAX_LIMIT),
        metadata={"description": f"rows per page, 1 to {MAX_LIMIT} (default "
                                 f"{DEFAULT_LIMIT})", "example": DEFAULT_LIMIT})


_page_schemas = {}


def page_schema(item_schema: type[Schema]) -> type[Schema]:
    """The answer schema of a list of ``item_schema``: ``{"items", "next_cursor"}``."""
    if item_schema not in _page_schemas:
        name = item_schema.__name__.removesuffix("Schema") + "PageSchema"
        _page_schemas[item_schema] = Schema.from_dict({
            "items": fields.List(fields.Nested(item_schema), required=True),
            "next_cursor": fields.String(
                required=True, allow_none=True,
                metadata={"description": "cursor of the next page; null when this page "
                                         "is the last", "example": None}),
        }, name=name)
    return _page_schemas[item_schema]


# --- cursors ---------------------------------------------------------------------------

def encode_cursor(key: Sequence) -> str:
    """The cursor after a row whose sort key is ``key``."""
    values = [{"t": as_utc(v).isoformat()} if isinstance(v, datetime) else v for v in key]
    text = json.dumps(values, separators=(",", ":"), ensure_ascii=False)
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def decode_cursor(cursor: str, arity: int) -> tuple:
    """The sort key inside ``cursor``; 400 when it is not one this list gave out."""
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        values = json.loads(base64.urlsafe_b64decode(padded.encode()).decode())
        if not isinstance(values, list) or len(values) != arity:
            raise ValueError("wrong arity")
        return tuple(datetime.fromisoformat(v["t"]) if isinstance(v, dict) else v
                     for v in values)
    except (ValueError, TypeError, KeyError, UnicodeError, binascii.Error):
        raise _invalid_cursor() from None


def _invalid_cursor() -> InvalidInput:
    return InvalidInput("cursor is not one this list gave out; start again without it",
                        {"cursor": ["invalid cursor"]})


def _require_types(values: tuple, columns: Sequence) -> None:
    """A cursor's values must have its sort columns' types: the database would refuse a
    text compared with a BIGINT, or a number past 2^63 (a 500 on PostgreSQL), or compare
    them some other way (SQLite)."""
    for value, column in zip(values, columns, strict=True):
        try:
            expected = column.type.python_type
        except (AttributeError, NotImplementedError):
            continue
        if issubclass(expected, int | float | Decimal):
            fits = isinstance(value, int | float) and not isinstance(value, bool) and \
                -2**63 <= value < 2**63  # past BIGINT: PostgreSQL refuses the query
        elif issubclass(expected, str | datetime):
            fits = isinstance(value, expected)
        else:
            continue
        if not fits:
            raise _invalid_cursor()


# --- pages -----------------------------------------------------------------------------

def keyset_page(session, query: Select, order_by: Sequence, cursor: str | None, limit: int,
                view: Callable = dict, descending: bool = False) -> dict:
    """``{"items": [view(row mapping)], "next_cursor"}``: the rows of ``query`` after
    ``cursor`` in the order of ``order_by`` (columns that together are unique, e.g.
    ``(cases.c.opened_at, cases.c.case_id)``), newest first with ``descending``.

    One row more than the page is read, so the last page says so itself instead of
    sending the client for an empty one.
    """
    order_by = list(order_by)
    key = tuple_(*order_by) if len(order_by) > 1 else order_by[0]
    if cursor is not None:
        after = decode_cursor(cursor, len(order_by))
        _require_types(after, order_by)
        after = tuple_(*after) if len(order_by) > 1 else after[0]
        query = query.where(key < after if descending else key > after)
    ordering = [column.desc() if descending else column.asc() for column in order_by]
    rows = session.execute(query.order_by(*ordering).limit(limit + 1)).all()
    page = [row._mapping for row in rows[:limit]]
    next_cursor = None
    if len(rows) > limit:
        last = page[-1]
        next_cursor = encode_cursor([last[column] for column in order_by])
    return {"items": [view(row) for row in page], "next_cursor": next_cursor}


def sequence_page(items: Sequence, sort_key: Callable, cursor: str | None, limit: int,
                  descending: bool = False) -> dict:
    """The same page over a list already in memory (a few hundred rows at most, e.g. an
    organization's children): ``sort_key(item)`` is a tuple unique to each item."""
    ordered = sorted(items, key=sort_key, reverse=descending)
    if cursor is not None:
        sample = sort_key(ordered[0]) if ordered else ()
        after = decode_cursor(cursor, len(sample)) if ordered else None
        if after is not None:
            ordered = [item for item in ordered
                       if (sort_key(item) < after if descending else sort_key(item) > after)]
    page = ordered[:limit]
    next_cursor = encode_cursor(sort_key(page[-1])) if len(ordered) > limit else None
    return {"items": page, "next_cursor": next_cursor}

