"""The kit's one-of-each pieces: the caller, cursors, timestamps, the registry read model."""

from datetime import UTC, datetime, timedelta

import pytest
from marshmallow import Schema, fields
from sqlalchemy import Column, Integer, MetaData, String, Table, create_engine, insert, select
from sqlalchemy.orm import Session

from shared.api.disputes import ReportSchema
from shared.caller import Caller, require, require_admin, require_district_admin, require_scope
from shared.errors import Forbidden, InvalidInput, NotFound
from shared.paging import (
    CursorQuery,
    decode_cursor,
    encode_cursor,
    keyset_page,
    page_schema,
    sequence_page,
)
from shared.registry_readmodel import (
    RegistryReadModel,
    enterprise_columns,
    organization_columns,
)
from shared.schemas import Timestamp, load

T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
NANKENG = ["longgang", "longgang.bantian", "longgang.bantian.nankeng"]


# --- the caller ------------------------------------------------------------------------

def test_a_caller_acts_inside_its_subtree_only():
    bantian = Caller.from_dict({"name": "张三", "role": "staff",
                                "organization_code": "longgang.bantian"})
    require(bantian, "write", NANKENG)
    with pytest.raises(Forbidden):
        require_scope(bantian, ["longgang", "longgang.buji"])
    viewer = Caller("李四", "viewer", "longgang")
    with pytest.raises(Forbidden):
        require(viewer, "write", NANKENG)


def test_only_an_admin_acts_as_one_and_only_the_districts_publish_policy():
    staff = Caller("staff@longgang", "staff", "longgang")
    street_admin = Caller("admin@bantian", "admin", "longgang.bantian")
    district_admin = Caller("admin@longgang", "admin", "longgang")
    with pytest.raises(Forbidden):
        require_admin(staff, "approve a reward")
    assert require_admin(street_admin, "approve a reward") is street_admin
    with pytest.raises(Forbidden):
        require_district_admin(street_admin, NANKENG[:2], "publish a policy")
    with pytest.raises(Forbidden):
        require_district_admin(staff, ["longgang"], "publish a policy")
    with pytest.raises(Forbidden):  # an organization the service does not know
        require_district_admin(district_admin, [], "publish a policy")
    with pytest.raises(Forbidden):  # a path that is not the caller's own
        require_district_admin(district_admin, ["futian"], "publish a policy")
    assert require_district_admin(district_admin, ["longgang"], "publish") is district_admin


def test_a_malformed_caller_is_refused_with_its_fields_named():
    with pytest.raises(InvalidInput) as caught:
        Caller.from_dict({"name": "x", "role": "god", "org_code": "longgang"})
    assert set(caught.value.details) == {"role", "organization_code", "org_code"}


# --- timestamps ------------------------------------------------------------------------

class _At(Schema):
    at = Timestamp()


def test_every_timestamp_leaves_with_an_offset_and_naive_input_is_refused():
    assert _At().dump({"at": datetime(2026, 3, 1, 9, 0)})["at"] == "2026-03-01T09:00:00+00:00"
    assert load(_At(), {"at": "2026-03-01T17:00:00+08:00"})["at"] == T0
    with pytest.raises(InvalidInput):
        load(_At(), {"at": "2026-03-01T09:00:00"})


@pytest.mark.parametrize("at", ["0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00"])
def test_a_timestamp_with_no_utc_equivalent_is_a_field_error_not_an_overflow(at):
    with pytest.raises(InvalidInput) as refused:
        load(_At(), {"at": at})
    assert "at" in str(refused.value.members()["errors"])


REPORT = {"category": "unpaid_wages", "workers_affected": 3, "amount_owed": 1,
          "description": "三个月未发工资", "credit_code": None, "name": "厂", "address": "南坑",
          "community_code": "longgang.bantian.nankeng"}


@pytest.mark.parametrize("at", ["0001-01-01T00:00:00+14:00", "0001-01-01"])
def test_a_report_expected_before_the_first_utc_moment_is_refused(at):
    with pytest.raises(InvalidInput) as refused:
        load(ReportSchema(), {**REPORT, "expected_at": at})
    assert "expected_at" in str(refused.value.members()["errors"])


@pytest.mark.parametrize("amount", ["1e30", 1e30, "12345678901234567890123456789.5"])
def test_an_amount_past_what_a_decimal_holds_is_a_field_error(amount):
    """The fuzz run's one 500: quantizing 1e30 to the fen raised InvalidOperation."""
    with pytest.raises(InvalidInput) as refused:
        load(ReportSchema(), {**REPORT, "amount_owed": amount})
    assert "amount_owed" in str(refused.value.members()["errors"])


# --- cursors ---------------------------------------------------------------------------

def test_a_cursor_round_trips_its_key_and_garbage_is_a_400():
    key = (T0, "C-1", 7)
    assert decode_cursor(encode_cursor(key), 3) == key
    for garbage in ("!!!", "e30", encode_cursor([1, 2]), "WzFd" * 50):
        with pytest.raises(InvalidInput):
            decode_cursor(garbage, 3)
    assert load(CursorQuery(), {}) == {"cursor": None, "limit": 100}
    with pytest.raises(InvalidInput):
        load(CursorQuery(), {"limit": "501"})


class _Item(Schema):
    id = fields.Integer()


def test_a_page_schema_has_items_and_next_cursor():
    assert page_schema(_Item) is page_schema(_Item)
    assert page_schema(_Item)().dump({"items": [{"id": 1}], "next_cursor": None}) == {
        "items": [{"id": 1}], "next_cursor": None}


@pytest.fixture
def rows(db_url):
    engine = create_engine(db_url)
    metadata = MetaData()
    table = Table("rows", metadata, Column("id", Integer, primary_key=True),
                  Column("group", String(10)))
    metadata.create_all(engine)
    with Session(engine) as session, session.begin():
        session.execute(insert(table), [{"id": i, "group": "ab"[i % 2]} for i in range(1, 12)])
    yield engine, table
    engine.dispose()


@pytest.mark.parametrize("descending", [False, True])
def test_walking_the_pages_sees_every_row_once(rows, descending):
    engine, table = rows
    seen, cursor = [], None
    with Session(engine) as session:
        while True:
            page = keyset_page(session, select(table), (table.c.group, table.c.id), cursor,
                               4, descending=descending)
            seen += [(row["group"], row["id"]) for row in page["items"]]
            cursor = page["next_cursor"]
            if cursor is None:
                break
    assert seen == sorted(seen, reverse=descending) and len(seen) == 11


def test_a_list_in_memory_pages_the_same_way():
    items = [{"code": f"c{i:02}"} for i in range(7)]
    first = sequence_page(items, lambda x: (x["code"],), None, 5)
    second = sequence_page(items, lambda x: (x["code"],), first["next_cursor"], 5)
    assert [x["code"] for x in first["items"] + second["items"]] == sorted(
        x["code"] for x in items)
    assert second["next_cursor"] is None


# --- the registry read model -----------------------------------------------------------

def organization(code, path, name=None):
    return {"code": code, "name": name or code, "kind": "community", "tier": "community",
            "parent_code": path[-2] if len(path) > 1 else None, "path": path,
            "party_organization": {"name": f"{code} 党委", "kind": "committee"}}


def enterprise(credit_code, path, headcount=100):
    return {"credit_code": credit_code, "name": "华为", "community_code": path[-1],
            "path": path, "headcount": headcount, "key_enterprise": False,
            "union_status": "own", "union_code": None, "status": "active"}


@pytest.fixture
def registry(db_url):
    engine = create_engine(db_url)
    metadata = MetaData()
    organizations = Table("organizations", metadata, *organization_columns())
    enterprises = Table("enterprises", metadata, *enterprise_columns(),
                        Column("name_key", String(200)))
    metadata.create_all(engine)
    model = RegistryReadModel(organizations, enterprises,
                              enterprise_values=lambda data: {"name_key": data["name"]})
    yield model, engine
    engine.dispose()


def test_an_older_snapshot_never_replaces_a_newer_one(registry):
    model, engine = registry
    with Session(engine) as session, session.begin():
        assert model.apply_enterprise(session, enterprise("E1", NANKENG, 200),
                                      T0 + timedelta(seconds=5)).old is None
        assert model.apply_enterprise(session, enterprise("E1", NANKENG, 100), T0) is None
        again = model.apply_enterprise(session, enterprise("E1", NANKENG, 300),
                                       T0 + timedelta(seconds=5))
        assert again.old["headcount"] == 200
        assert model.known_enterprise(session, "E1")["headcount"] == 300
        assert model.known_enterprise(session, "E1")["name_key"] == "华为"
        with pytest.raises(NotFound):
            model.known_organization(session, "nowhere")


def test_a_moved_organization_takes_its_subtree_with_it(registry):
    model, engine = registry
    buji = ["longgang", "longgang.buji"]
    with Session(engine) as session, session.begin():
        for path in (NANKENG[:1], NANKENG[:2], NANKENG, buji):
            model.apply_organization(session, organization(path[-1], path), T0)
        model.apply_organization(session, organization("x.park", NANKENG + ["x.park"]), T0)
        model.apply_enterprise(session, enterprise("E1", NANKENG + ["x.park"]), T0)
        change = model.apply_organization(
            session, organization(NANKENG[-1], buji + [NANKENG[-1]]), T0 + timedelta(1))
        assert change.moved
        park = model.known_organization(session, "x.park")
        assert park["path"] == buji + [NANKENG[-1], "x.park"]
        assert model.known_enterprise(session, "E1")["path"] == park["path"]
        inside = session.execute(select(model.enterprises.c.credit_code).where(
            model.under(model.enterprises, buji))).scalars().all()
        assert inside == ["E1"]
        assert model.known_organization(session, NANKENG[-1])["party_name"] == (
            "longgang.bantian.nankeng 党委")


def test_insert_many_stores_awkward_values_as_an_insert_would(db_url, blocking_postgres):
    """On PostgreSQL outside eventlet ``insert_many`` is a COPY (text format): tabs,
    newlines, backslashes, a literal ``\\N``, NULL and JSON null come back as given."""
    from sqlalchemy import JSON, Boolean, DateTime, Text, func

    from shared.db import can_copy, insert_many, make_engine
    from shared.timeutil import as_utc

    table = Table("awkward", MetaData(), Column("id", Integer, primary_key=True),
                  Column("note", Text), Column("flag", Boolean),
                  Column("doc", JSON(none_as_null=True)), Column("kept_null", JSON),
                  Column("at", DateTime(timezone=True)),
                  Column("made_at", DateTime(timezone=True), server_default=func.now()))
    rows = [
        {"id": 1, "note": "tab\there\nnew line\r\\back\\slash \\N 南坑", "flag": True,
         "doc": {"name": "王伟", "title": "a\tb\\c"}, "kept_null": None, "at": T0},
        {"id": 2, "note": None, "flag": False, "doc": None, "kept_null": [1, "二"],
         "at": None},
        {"id": 3, "note": "", "flag": None, "doc": [], "kept_null": {}, "at": T0},
    ]
    engine = make_engine(db_url)
    table.metadata.create_all(engine)
    if engine.dialect.name == "postgresql":
        blocking_postgres()
        assert can_copy()
    try:
        with Session(engine) as session, session.begin():
            insert_many(session, table, rows)
        with engine.connect() as connection:
            stored = [dict(row._mapping) for row in connection.execute(
                select(table).order_by(table.c.id))]
            raw_nulls = connection.execute(
                select(table.c.id).where(table.c.doc.is_(None))).scalars().all()
    finally:
        engine.dispose()
    assert [{**row, "at": row["at"] and as_utc(row["at"])}
            for row in ({k: v for k, v in row.items() if k != "made_at"} for row in stored)
            ] == rows
    assert all(row["made_at"] is not None for row in stored)  # server default applied
    assert raw_nulls == [2]  # none_as_null: an SQL NULL, not JSON null
