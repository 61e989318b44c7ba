"""The disputes migrations: they give the tables the models describe, and upgrading a
database keeps what it holds."""

import json
from datetime import timedelta

from sqlalchemy import create_engine, text

from services.disputes import readmodel
from services.disputes.models import metadata
from services.disputes.service import MIGRATIONS
from shared.db import migrate
from shared.testing import schema_differences
from tests.disputes.conftest import BANTIAN, DISTRICT, FACTORY, NANKENG, at

T0 = at(2025, 3, 1, 2)


def test_the_migrations_match_the_models(db_url):
    assert schema_differences(db_url, metadata, MIGRATIONS) == []


def read_model_at_0005(url):
    """A database at revision 0005 whose registry read model holds 南坑 and a factory."""
    migrate(url, MIGRATIONS, revision="0005")
    engine = create_engine(url)
    with engine.begin() as connection:
        for code, tier, path in ((DISTRICT, "district", [DISTRICT]),
                                 (BANTIAN, "street", [DISTRICT, BANTIAN]),
                                 (NANKENG, "community", [DISTRICT, BANTIAN, NANKENG])):
            connection.execute(text(
                "INSERT INTO organizations (code, name, kind, tier, path, as_of) "
                "VALUES (:code, :name, 'federation', :tier, :path, :as_of)"),
                {"code": code, "name": f"{code} 工会", "tier": tier,
                 "path": json.dumps(path), "as_of": T0})
        connection.execute(text(
            "INSERT INTO enterprises (credit_code, name, name_key, address, community_code, "
            "path, headcount, key_enterprise, status, as_of) VALUES (:code, '南坑五金 制品厂', "
            "'南坑五金制品厂', '坂田南坑村一巷1号', :community, :path, 80, true, 'active', "
            ":as_of)"),
            {"code": FACTORY, "community": NANKENG,
             "path": json.dumps([DISTRICT, BANTIAN, NANKENG]), "as_of": T0})
    engine.dispose()


def test_upgrading_to_the_shared_read_model_keeps_the_rows_and_fills_path_keys(
        db_url, database_factory):
    read_model_at_0005(db_url)
    database = database_factory(db_url, "disputes", MIGRATIONS)  # upgrades to head
    registry = readmodel.registry
    with database.session() as session:
        community = registry.known_organization(session, NANKENG)
        assert (community["path"], community["path_key"], community["parent_code"]) == (
            [DISTRICT, BANTIAN, NANKENG], f"/{DISTRICT}/{BANTIAN}/{NANKENG}/", BANTIAN)
        assert registry.known_organization(session, DISTRICT)["parent_code"] is None
        factory = registry.known_enterprise(session, FACTORY)
        assert (factory["name_key"], factory["address"], factory["key_enterprise"],
                factory["union_status"]) == ("南坑五金制品厂", "坂田南坑村一巷1号", True,
                                             "unknown")
        # a report naming it without its credit code still finds it
        assert readmodel.resolve_enterprise(session, {
            "name": "南坑五金制品厂", "community_code": NANKENG})["credit_code"] == FACTORY


def test_after_upgrading_older_snapshots_are_ignored_and_a_move_re_roots_the_subtree(
        db_url, database_factory):
    read_model_at_0005(db_url)
    database = database_factory(db_url, "disputes", MIGRATIONS)
    registry = readmodel.registry
    moved = [DISTRICT, "longgang.buji", BANTIAN]
    with database.unit_of_work() as uow:
        registry.apply_organization(uow.session, {
            "code": "longgang.buji", "name": "布吉街道总工会", "kind": "street_federation",
            "tier": "street", "parent_code": DISTRICT, "path": moved[:2]}, T0)
        assert registry.apply_organization(uow.session, {  # older than the stored row
            "code": BANTIAN, "name": "旧名", "kind": "street_federation", "tier": "street",
            "parent_code": DISTRICT, "path": [DISTRICT, BANTIAN]},
            T0 - timedelta(days=1)) is None
        change = registry.apply_organization(uow.session, {
            "code": BANTIAN, "name": "坂田街道总工会", "kind": "street_federation",
            "tier": "street", "parent_code": "longgang.buji", "path": moved},
            T0 + timedelta(days=1))
        assert change.moved
    with database.session() as session:
        assert registry.known_organization(session, NANKENG)["path"] == moved + [NANKENG]
        factory = registry.known_enterprise(session, FACTORY)
        assert (factory["path"], factory["path_key"]) == (
            moved + [NANKENG], "/" + "/".join(moved + [NANKENG]) + "/")
