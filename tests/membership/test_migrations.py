"""The migrations build exactly the tables models.py describes, on both backends, and
0003 carries a database of the earlier read model over with its counters right."""

import json
from datetime import UTC, datetime

from sqlalchemy import create_engine, select, text

from services.membership import readmodel, views
from services.membership.models import metadata, org_stats
from services.membership.service import MIGRATIONS
from shared.db import migrate
from shared.testing import schema_differences
from tests.membership.conftest import (
    ADMIN,
    DISTRICT,
    GANGTOU,
    HUAWEI,
    HUAWEI_UNION,
    NANKENG,
    OTHER,
    SMALL,
    STREET,
    organization,
)


def test_the_migrations_match_the_models(db_url):
    assert schema_differences(db_url, metadata, MIGRATIONS) == []


def _old_rows(connection):
    """Rows as revision 0002 kept them: path as JSON text, path_key "a/b/c/" (no leading
    slash), counters for 3 active members (2 at HUAWEI, 1 at OTHER)."""
    def key(path):
        return "/".join(path) + "/"

    nankeng, gangtou = [DISTRICT, STREET, NANKENG], [DISTRICT, STREET, GANGTOU]
    for code, parent, path in ((DISTRICT, None, [DISTRICT]), (STREET, DISTRICT, [DISTRICT, STREET]),
                               (NANKENG, STREET, nankeng), (GANGTOU, STREET, gangtou),
                               (HUAWEI_UNION, NANKENG, [*nankeng, HUAWEI_UNION])):
        connection.execute(text(
            "INSERT INTO organizations (code, name, kind, tier, parent_code, path, path_key) "
            "VALUES (:code, :code, 'community_federation', 'community', :parent, :path, "
            ":key)"), {"code": code, "parent": parent, "path": json.dumps(path),
                       "key": key(path)})
    for credit_code, path, headcount, union in ((HUAWEI, nankeng, 1000, HUAWEI_UNION),
                                                (SMALL, nankeng, 20, NANKENG),
                                                (OTHER, gangtou, 300, GANGTOU)):
        connection.execute(text(
            "INSERT INTO enterprises (credit_code, name, community_code, path, path_key, "
            "headcount, union_status, union_code, status) VALUES (:credit_code, '企业', "
            ":community, :path, :key, :headcount, 'own', :union, 'active')"),
            {"credit_code": credit_code, "community": path[-1], "path": json.dumps(path),
             "key": key(path), "headcount": headcount, "union": union})
    for worker_id, credit_code, union in ((1, HUAWEI, HUAWEI_UNION), (2, HUAWEI, HUAWEI_UNION),
                                          (3, OTHER, GANGTOU)):
        connection.execute(text(
            "INSERT INTO memberships (worker_id, union_code, enterprise_credit_code, status, "
            "channel) VALUES (:worker_id, :union, :credit_code, 'active', 'import')"),
            {"worker_id": worker_id, "union": union, "credit_code": credit_code})
    for code, members, workers in ((DISTRICT, 3, 1320), (STREET, 3, 1320), (NANKENG, 2, 1020),
                                   (HUAWEI_UNION, 2, 1000), (GANGTOU, 1, 300)):
        connection.execute(text("INSERT INTO org_stats (code, members, workers) VALUES "
                                "(:code, :members, :workers)"),
                           {"code": code, "members": members, "workers": workers})


def _counters(session) -> dict:
    return {row.code: (row.members, row.workers) for row in session.execute(select(org_stats))}


def test_0003_moves_the_registry_rows_to_the_kits_read_model_and_keeps_the_counters(
        db_url, database_factory):
    migrate(db_url, MIGRATIONS, revision="0002")
    engine = create_engine(db_url)
    with engine.begin() as connection:
        _old_rows(connection)
    engine.dispose()

    database = database_factory(db_url, "membership", MIGRATIONS)  # migrates to the head
    with database.session() as session:
        stored = readmodel.enterprise(session, HUAWEI)
        assert stored["path"] == [DISTRICT, STREET, NANKENG]
        assert stored["path_key"] == f"/{DISTRICT}/{STREET}/{NANKENG}/"
        assert (stored["key_enterprise"], stored["as_of"]) == (False, None)
        assert readmodel.organization(session, HUAWEI_UNION)["path_key"] == (
            f"/{DISTRICT}/{STREET}/{NANKENG}/{HUAWEI_UNION}/")
        before = _counters(session)
        assert views.join_rate(session, NANKENG).as_dict()["members"] == 2
        members = views.list_members(session, ADMIN, STREET, None)["items"]
        assert len(members) == 3  # the subtree is found by the new path_key
    with database.unit_of_work() as uow:
        readmodel.rebuild_counters(uow.session)
    with database.session() as session:
        assert _counters(session) == before  # what the counters said was right

    # Snapshots after the migration: the stored rows have no time, so any snapshot
    # replaces them, and a move re-roots and recounts the subtree found by path_key.
    longcheng = "longgang.longcheng"
    later = datetime(2026, 3, 1, tzinfo=UTC)
    with database.unit_of_work() as uow:
        readmodel.apply_organization(uow.session, organization(
            longcheng, DISTRICT, "street_federation", "street", [DISTRICT, longcheng]), later)
        readmodel.apply_organization(uow.session, organization(
            GANGTOU, longcheng, "community_federation", "community",
            [DISTRICT, longcheng, GANGTOU]), later)
    with database.session() as session:
        assert readmodel.enterprise(session, OTHER)["path"] == [DISTRICT, longcheng, GANGTOU]
        assert views.join_rate(session, STREET).as_dict()["members"] == 2
        assert views.join_rate(session, longcheng).as_dict()["members"] == 1
        moved = _counters(session)
    with database.unit_of_work() as uow:
        readmodel.rebuild_counters(uow.session)
    with database.session() as session:
        assert {code: counts for code, counts in _counters(session).items() if any(counts)} \
            == {code: counts for code, counts in moved.items() if any(counts)}
