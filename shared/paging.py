"""Keyset (cursor) paging: the rows after the last id a client saw, and where the next
page starts.

    GET /api/v1/service-requests?code=longgang.bantian.nankeng&limit=100
    -> {"items": [...], "next_after_id": 1234}
    GET /api/v1/service-requests?code=longgang.bantian.nankeng&limit=100&after_id=1234
    -> {"items": [...], "next_after_id": null}          # the last page

Pages are ordered by a unique id that is never reused, so a client walking them sees
every row that existed when it started exactly once, even while rows are added (offset
paging would show a row twice when one is inserted before it), and each page is an
index range however deep it is.

A service's query schema inherits ``KeysetQuery``; its answer schema inherits
``KeysetPageOut`` and adds ``items``; its read calls ``keyset_page``.
"""

from marshmallow import Schema, fields, validate
from sqlalchemy import Select

DEFAULT_LIMIT = 100
MAX_LIMIT = 500
# Ids are 64-bit on PostgreSQL and SQLite: a larger cursor would overflow the driver
# (a 500) instead of being refused (a 400).
MAX_ID = 2**63 - 1


class KeysetQuery(Schema):
    after_id = fields.Integer(
        load_default=0, validate=validate.Range(min=0, max=MAX_ID),
        metadata={"description": "the cursor: next_after_id of the previous page; "
                                 "0 (or absent) for the first page"})
    limit = fields.Integer(
        load_default=DEFAULT_LIMIT, validate=validate.Range(min=1, max=MAX_LIMIT),
        metadata={"description": f"rows per page, 1 to {MAX_LIMIT}"})


class KeysetPageOut(Schema):
    next_after_id = fields.Integer(
        allow_none=True, metadata={"description": "after_id for the next page; null when "
                                                  "this page is the last"})


def keyset_page(session, query: Select, id_column, after_id: int, limit: int,
                view=dict) -> dict:
    """``{"items": [view(row mapping)], "next_after_id"}`` for the rows of ``query`` with
    ``id_column`` above ``after_id``, in ``id_column`` order.

    One row more than the page is read, so the last page says so itself instead of
    sending the client for an empty one.
    """
    rows = session.execute(query.where(id_column > after_id).order_by(id_column)
                           .limit(limit + 1)).all()
    page = [row._mapping for row in rows[:limit]]
    return {"items": [view(row) for row in page],
            "next_after_id": page[-1][id_column] if len(rows) > limit else None}
