"""Informants' identities at rest: sealed under DISPUTES_PII_KEY, opened only by the
audited reveal, and sealed by the migration in a database that held them in clear."""

import logging

import pytest
from nameko.testing.services import entrypoint_hook
from sqlalchemy import select, text

from services.disputes import domain, operations
from services.disputes.models import identity_reveals
from services.disputes.service import DisputesService
from shared import pii
from tests.disputes.conftest import (
    DISTRICT_ADMIN,
    KEYS,
    NAME,
    OTHER_KEY,
    PHONE,
    at,
    audit,
    clear_text_database,
    file_report,
    filled,
    officer,
    raw_dump,
    reveal,
)
from tests.disputes.fakes import register

T0 = at(2025, 3, 1, 2)


def test_no_table_holds_a_name_or_phone_in_clear_and_the_reveal_opens_them(database,
                                                                            db_url):
    informant, _ = officer(database, name=NAME, phone=PHONE)
    with database.unit_of_work() as uow:
        tipster, _ = operations.register_informant(
            uow.session, "anonymous", T0, identity={"real_name": "李四", "phone": None},
            keys=KEYS)
    file_report(database, T0, informant=informant)
    file_report(database, T0, informant=tipster)

    dump = raw_dump(db_url)
    for secret in (NAME, PHONE, "李四"):
        assert secret.encode() not in dump
    with database.session() as session:
        stored = session.execute(text("SELECT * FROM identities"))
        assert list(stored.keys()) == ["informant_id", "sealed"]
        sealed = {row.informant_id: bytes(row.sealed) for row in stored}
    assert set(sealed) == {informant, tipster}
    assert all(value in dump for value in sealed.values())  # the dump holds them

    assert reveal(database, informant) == {"informant": informant, "real_name": NAME,
                                           "phone": PHONE}
    assert reveal(database, tipster)["real_name"] == "李四"
    assert [entry["reason"] for entry in audit(database, informant)] == ["支付奖励 #1"]


def test_a_wrong_key_fails_clearly_and_reveals_nothing(sqlite_database):
    informant, _ = officer(sqlite_database, name=NAME, phone=PHONE)
    file_report(sqlite_database, T0, informant=informant)
    wrong = domain.load_keys({domain.ENV: OTHER_KEY})
    with pytest.raises(pii.WrongKey) as error:
        reveal(sqlite_database, informant, keys=wrong)
    assert "DISPUTES_PII_KEY" in str(error.value)
    assert NAME not in str(error.value)
    assert audit(sqlite_database, informant) == []  # the audit row went with the failure
    with sqlite_database.session() as session:
        assert session.execute(select(identity_reveals)).all() == []


def test_a_sealed_identity_copied_onto_another_informant_does_not_open(sqlite_database):
    first, _ = officer(sqlite_database, name=NAME, phone=PHONE)
    second, _ = officer(sqlite_database, name="李四")
    file_report(sqlite_database, T0, informant=second)
    with sqlite_database.unit_of_work() as uow:
        uow.session.execute(text(
            "UPDATE identities SET sealed = (SELECT sealed FROM identities "
            "WHERE informant_id = :first) WHERE informant_id = :second"),
            {"first": first, "second": second})
    with pytest.raises(pii.WrongKey):
        reveal(sqlite_database, second)


def test_sealing_an_identity_without_the_keys_is_refused(sqlite_database):
    with sqlite_database.unit_of_work() as uow, pytest.raises(ValueError):
        operations.register_informant(uow.session, "anonymous", T0,
                                    identity={"real_name": NAME})


def test_the_service_seals_with_the_key_in_its_config_and_reveals_over_rpc(
        container_factory, make_service_config, database_factory, sqlite_url, rabbit_config,
        caplog):
    clear_text_database(sqlite_url)  # the service upgrades it at start, with its key
    container = container_factory(DisputesService, make_service_config(
        sqlite_url, DISPUTES_PII_KEY=OTHER_KEY))
    caplog.set_level(logging.DEBUG)
    container.start()
    db = filled(database_factory(sqlite_url, "disputes", run_migrations=False))
    new = register(container, {
        "organization_code": "longgang.bantian.nankeng", "real_name": "赵六",
        "phone": "13700000000"}, DISTRICT_ADMIN)
    with entrypoint_hook(container, "reveal_identity") as reveal_rpc:
        old = reveal_rpc({"informant": "I-OLDOFFICR", "reason": "支付奖励 #2"},
                         DISTRICT_ADMIN)
        revealed = reveal_rpc({"informant": new["informant"], "reason": "支付奖励 #3"},
                              DISTRICT_ADMIN)
    assert (old["real_name"], old["phone"]) == (NAME, PHONE)
    assert (revealed["real_name"], revealed["phone"]) == ("赵六", "13700000000")
    assert len(audit(db, new["informant"])) == 1
    with pytest.raises(pii.WrongKey):  # the environment's key is not the one that sealed
        reveal(db, "I-OLDOFFICR")
    logged = caplog.text
    for secret in (NAME, PHONE, "赵六", "13700000000"):
        assert secret not in logged
