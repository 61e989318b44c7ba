"""The disputes migrations: they give the tables the models describe, and upgrading a
database keeps what it holds."""

import json
from datetime import timedelta

from alembic import command
from alembic.config import Config
from sqlalchemy import create_engine, text

from services.disputes import domain, readmodel
from services.disputes.models import metadata
from services.disputes.service import MIGRATIONS
from shared.db import migrate
from shared.testing import schema_differences
from tests.disputes.conftest import (
    BANTIAN,
    DISTRICT,
    DISTRICT_ADMIN,
    FACTORY,
    NAME,
    NANKENG,
    OTHER_KEY,
    PHONE,
    TEST_KEY,
    at,
    audit,
    clear_text_database,
    raw_dump,
    reveal,
)

T0 = at(2025, 3, 1, 2)


def test_the_migrations_match_the_models(db_url):
    assert schema_differences(db_url, metadata, MIGRATIONS) == []


def test_upgrading_a_database_with_clear_identities_seals_them_under_the_key(
        db_url, database_factory, monkeypatch):
    clear_text_database(db_url)
    assert NAME.encode() in raw_dump(db_url)
    monkeypatch.setenv(domain.ENV, OTHER_KEY)  # the config's key must win
    migrate(db_url, MIGRATIONS, settings={domain.ENV: TEST_KEY})  # as the service does

    dump = raw_dump(db_url)
    assert NAME.encode() not in dump and PHONE.encode() not in dump
    assert "李四".encode() not in dump
    db = database_factory(db_url, "disputes", MIGRATIONS)
    assert reveal(db, "I-OLDOFFICR") == {"informant": "I-OLDOFFICR", "real_name": NAME,
                                         "phone": PHONE}
    assert reveal(db, "I-OLDANONYM")["phone"] is None
    assert [entry["requested_by"] for entry in audit(db, "I-OLDOFFICR")] == [
        DISTRICT_ADMIN.name]


def test_downgrading_puts_the_identities_back_in_clear(sqlite_url):
    clear_text_database(sqlite_url)
    migrate(sqlite_url, MIGRATIONS)  # the environment's key (the autouse fixture)
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", sqlite_url)
    config.attributes["configure_logger"] = False
    command.downgrade(config, "0002")
    engine = create_engine(sqlite_url)
    with engine.connect() as connection:
        rows = connection.execute(text(
            "SELECT informant_id, real_name, phone FROM identities ORDER BY 1")).all()
    engine.dispose()
    assert [tuple(row) for row in rows] == [("I-OLDANONYM", "李四", None),
                                           ("I-OLDOFFICR", NAME, PHONE)]


def test_enterprises_stored_before_the_name_key_are_found_by_name_after_upgrading(
        db_url, database_factory):
    migrate(db_url, MIGRATIONS, revision="0003")
    engine = create_engine(db_url)
    with engine.begin() as connection:
        connection.execute(text(
            "INSERT INTO enterprises (credit_code, name, address, community_code, path, "
            "headcount, key_enterprise, status) VALUES (:code, :name, '南坑', :community, "
            ":path, 80, false, 'active')"),
            {"code": FACTORY, "name": "南坑五金 制品厂", "community": NANKENG,
             "path": f'["{DISTRICT}", "{BANTIAN}", "{NANKENG}"]'})
    engine.dispose()
    database = database_factory(db_url, "disputes", MIGRATIONS)  # upgrades to head
    with database.session() as session:
        found = readmodel.resolve_enterprise(
            session, {"name": "南坑五金制品厂", "community_code": NANKENG})
    assert found["credit_code"] == FACTORY


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
