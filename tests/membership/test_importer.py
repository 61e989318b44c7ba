"""Bulk import: good rows become active members in one batch transaction each, bad rows
are reported line by line without their personal data, counters follow."""

import csv
import json

import pytest
from sqlalchemy import func, select, text

from services.membership import importer, views
from services.membership.models import memberships, workers
from shared.db import can_copy, outbox_table
from shared.errors import InvalidInput
from shared.events import parse_envelope
from tests.membership.conftest import (
    GANGTOU,
    HUAWEI,
    HUAWEI_UNION,
    NANKENG,
    OTHER,
    SMALL,
    id_number,
    write_csv,
)


def test_an_import_reports_each_bad_row_and_imports_the_rest(district, keys, tmp_path):
    bad_check = id_number(9)[:17] + ("0" if id_number(9)[17] != "0" else "1")
    rows = [
        ("张三", id_number(1), "13800138000", HUAWEI),
        ("李四", id_number(2), "", SMALL),
        ("王五", id_number(3), "13800138001", OTHER),
        ("赵六", bad_check, "13800138002", HUAWEI),  # line 5
        ("钱七", id_number(4), "12345", HUAWEI),  # line 6
        ("孙八", id_number(5), "13800138003", "91440300UNKNOWN00X"),  # line 7
        ("周九", id_number(1), "13800138004", SMALL),  # line 8: same person as line 2
        ("", id_number(6), "13800138005", SMALL),  # line 9
        ("吴十", id_number(7)),  # line 10: short row
    ]
    source = write_csv(tmp_path / "members.csv", rows)
    report = tmp_path / "errors.csv"
    result = importer.import_file(district, keys, source, report, batch_size=4,
                                  progress=False)
    assert result.as_dict() | {"import_id": 0} == {
        "import_id": 0, "rows": 9, "imported": 3, "rejected": 6, "batches": 1}
    with open(report, encoding="utf-8") as handle:
        lines = list(csv.reader(handle))
    assert lines[0] == ["line", "field", "message"]
    assert [(int(line), field) for line, field, _ in lines[1:]] == [
        (5, "id_number"), (6, "phone"), (7, "enterprise_credit_code"), (8, "id_number"),
        (9, "name"), (10, "row")]
    assert "same ID number as line 2" in lines[4][2]
    text = report.read_text(encoding="utf-8")
    for secret in (bad_check, id_number(1), "12345"):
        assert secret not in text

    def rate(code):
        with district.session() as session:
            return views.join_rate(session, code).members

    assert (rate(NANKENG), rate(HUAWEI_UNION), rate(GANGTOU)) == (2, 1, 1)
    with district.session() as session:
        statuses = session.execute(select(memberships.c.status, memberships.c.channel)).all()
        assert set(statuses) == {("active", "import")}
        bodies = [json.loads(b) for b in session.execute(select(outbox_table.c.body)).scalars()]
    assert [b["type"] for b in bodies] == ["members_imported", "member_batch_imported"]
    assert bodies[0]["data"]["counts"] == {HUAWEI_UNION: 1, GANGTOU: 1, NANKENG: 1}
    # the batch by member: ids and places, for other services' member read models
    with district.session() as session:
        made = {row.enterprise_credit_code: [[row.worker_id, row.id]] for row in
                session.execute(select(memberships))}
    placed = bodies[1]["data"]["enterprises"]
    assert {code: item["members"] for code, item in placed.items()} == made
    assert placed[HUAWEI]["union_code"] == HUAWEI_UNION
    assert placed[HUAWEI]["organization_path"][-1] == NANKENG
    parse_envelope(bodies[1], "membership", "member_batch_imported")
    dumped = json.dumps(bodies, ensure_ascii=False)
    for secret in ("13800138000", "张三", id_number(1)):
        assert secret not in dumped


def test_importing_the_same_members_again_imports_none_twice(sqlite_district, keys,
                                                               tmp_path):
    source = write_csv(tmp_path / "m.csv", [("张三", id_number(1), "", HUAWEI),
                                            ("李四", id_number(2), "", SMALL)])
    importer.import_file(sqlite_district, keys, source, None, progress=False)
    again = importer.import_file(sqlite_district, keys, source, tmp_path / "e.csv",
                                 progress=False)
    assert (again.imported, again.rejected) == (0, 2)
    assert "already a member" in again.errors[0][2]
    with sqlite_district.session() as session:
        assert session.execute(select(func.count()).select_from(memberships)).scalar() == 2
        assert views.join_rate(session, NANKENG).members == 2


def test_a_file_without_the_needed_columns_is_refused_before_any_row(sqlite_district, keys,
                                                                      tmp_path):
    source = write_csv(tmp_path / "m.csv", [("张三", id_number(1))], header=("name", "id"))
    with pytest.raises(InvalidInput, match="lacks column"):
        importer.import_file(sqlite_district, keys, source, None, progress=False)


def test_rows_checked_in_a_forked_process_give_the_same_result(sqlite_district, keys,
                                                                tmp_path):
    rows = [("张三", id_number(1), "", HUAWEI), ("李四", id_number(1), "", SMALL),
            ("王五", "123", "", SMALL), ("赵六", id_number(2), "", OTHER)]
    source = write_csv(tmp_path / "m.csv", rows)
    result = importer.import_file(sqlite_district, keys, source, None, batch_size=1,
                                  progress=False, checker_process=True)
    assert (result.rows, result.imported, result.rejected) == (4, 2, 2)
    assert [error[:2] for error in result.errors] == [(3, "id_number"), (4, "id_number")]


def session_sealed(database, name):
    with database.session() as session:
        return session.execute(select(workers.c.sealed).where(workers.c.name == name)).scalar()


@pytest.fixture
def postgres_url(postgres_databases):
    """An empty PostgreSQL database: COPY is PostgreSQL's."""
    url = postgres_databases.create()
    yield url
    postgres_databases.drop(url)


@pytest.mark.postgres
def test_postgresql_loads_an_empty_database_at_once_then_finds_known_workers(
        postgres_url, keys, tmp_path, blocking_postgres, database_factory):
    from services.membership.service import MIGRATIONS
    from tests.membership.conftest import load_registry

    database = database_factory(postgres_url, "membership", MIGRATIONS)
    blocking_postgres()
    assert can_copy()
    load_registry(database)
    first = write_csv(tmp_path / "a.csv", [("张三", id_number(1), "", HUAWEI),
                                           ("李\\四", id_number(2), "13800138000", SMALL)])
    loaded = importer.import_file(database, keys, first, None, progress=False,
                                  initial_load=True)
    assert loaded.imported == 2 and any("indexes" in phase for phase in loaded.seconds)
    with database.session() as session:  # the indexes are back, exactly as migrated
        indexes = set(session.execute(text(
            "SELECT indexname FROM pg_indexes WHERE tablename IN ('workers', "
            "'memberships')")).scalars())
    assert indexes == {"workers_pkey", "workers_id_hash_key", "memberships_pkey",
                       "ix_memberships_worker", "ix_memberships_enterprise_status",
                       "uq_memberships_current_worker"}
    second = write_csv(tmp_path / "b.csv", [("张三", id_number(1), "", HUAWEI),
                                            ("王五", id_number(3), "", OTHER)])
    again = importer.import_file(database, keys, second, None, progress=False,
                                 initial_load=True)  # not empty now: batch by batch
    assert (again.imported, again.rejected) == (1, 1)
    assert "already a member" in again.errors[0][2]
    with database.session() as session:
        assert views.join_rate(session, NANKENG).members == 2
        assert views.join_rate(session, GANGTOU).members == 1
        total = session.execute(select(func.count()).select_from(memberships)).scalar()
        names = set(session.execute(select(workers.c.name)).scalars())
    assert total == 3
    assert names == {"张三", "李\\四", "王五"}  # a backslash survives COPY's text format
    clear = keys.unseal(session_sealed(database, "李\\四"))
    assert clear == {"id_number": id_number(2), "phone": "13800138000"}
