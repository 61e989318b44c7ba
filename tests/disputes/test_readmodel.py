"""What disputes keeps of other services' events: the registry's tree (applied in any
order, an older snapshot never replacing a newer) and notifications' acknowledgements."""

from datetime import timedelta

import pytest

from services.disputes import readmodel
from shared.errors import InvalidInput
from tests.disputes.conftest import (
    BANTIAN,
    DISTRICT,
    ENTERPRISES,
    FACTORY,
    KEY_PLANT,
    NANKENG,
    at,
    file_report,
    view,
)

T0 = at(2025, 3, 1, 2)


def test_an_older_registry_snapshot_arriving_late_changes_nothing(sqlite_database):
    newer = dict(ENTERPRISES[0], key_enterprise=True)
    with sqlite_database.unit_of_work() as uow:
        readmodel.registry.apply_enterprise(uow.session, newer, at(2025, 3, 2))
        readmodel.registry.apply_enterprise(uow.session, ENTERPRISES[0],
                                            at(2025, 3, 1))  # late, stale
        readmodel.registry.apply_organization(uow.session, {
            "code": NANKENG, "name": "南坑社区工联会（新）", "kind": "community_federation",
            "tier": "community", "path": ["longgang", "longgang.bantian", NANKENG]},
            at(2025, 3, 2))
        readmodel.registry.apply_organization(uow.session, {
            "code": NANKENG, "name": "旧名", "kind": "community_federation",
            "tier": "community", "path": ["longgang", "longgang.bantian", NANKENG]},
            at(2025, 3, 1))
        assert readmodel.registry.known_organization(uow.session, NANKENG)["name"] == (
            "南坑社区工联会（新）")
    case_id = file_report(sqlite_database, T0, workers_affected=2)["case_id"]
    assert view(sqlite_database, case_id)["grade_rule"] == "urgent.key_enterprise"


def test_a_bulk_import_batch_inserts_new_rows_and_upserts_known_ones(database):
    """``apply_enterprises`` (``enterprise_batch_imported``): what each row's own event
    would have done, an older snapshot still losing to a newer stored one."""
    new = dict(ENTERPRISES[0], credit_code="91440300MA5DA0009Q", name="新厂")
    with database.unit_of_work() as uow:
        readmodel.registry.apply_enterprise(uow.session, ENTERPRISES[1], at(2025, 3, 3))
    batch = [dict(new, headcount=10), dict(ENTERPRISES[0], headcount=99), ENTERPRISES[1],
             dict(new, headcount=12)]  # the same one twice: the last snapshot counts
    with database.unit_of_work() as uow:
        changes = readmodel.registry.apply_enterprises(uow.session, batch, at(2025, 3, 2))
    assert [(c.new["credit_code"], c.old is None, c.new["headcount"]) for c in changes] == [
        (new["credit_code"], True, 12), (FACTORY, False, 99)]  # KEY_PLANT's is older
    with database.session() as session:
        assert readmodel.registry.enterprise(session, new["credit_code"])["name_key"]
        assert readmodel.registry.enterprise(session, FACTORY)["headcount"] == 99
        assert readmodel.registry.enterprise(session, KEY_PLANT)["headcount"] == 900


def test_an_acknowledgement_from_notifications_is_a_line_in_the_timeline(sqlite_database):
    case_id = file_report(sqlite_database, T0)["case_id"]
    with sqlite_database.unit_of_work() as uow:
        assert readmodel.apply_acknowledgement(uow.session, {
            "case_id": case_id, "organization_code": NANKENG, "by": "李主席",
            "at": T0 + timedelta(minutes=5)})
        assert not readmodel.apply_acknowledgement(uow.session, {
            "case_id": "unknown", "organization_code": NANKENG, "by": "x", "at": T0})
    last = view(sqlite_database, case_id)["timeline"][-1]
    assert (last["kind"], last["actor"], last["detail"]) == (
        "acknowledged", "李主席", {"organization_code": NANKENG})


def test_a_street_moved_in_the_registry_takes_its_communities_and_enterprises_along(
        database):
    moved = [DISTRICT, "longgang.buji", BANTIAN]
    with database.unit_of_work() as uow:
        registry = readmodel.registry
        registry.apply_organization(uow.session, {
            "code": "longgang.buji", "name": "布吉街道总工会", "kind": "street_federation",
            "tier": "street", "parent_code": DISTRICT, "path": moved[:2]}, T0)
        registry.apply_organization(uow.session, {
            "code": BANTIAN, "name": "坂田街道总工会", "kind": "street_federation",
            "tier": "street", "parent_code": "longgang.buji", "path": moved}, T0)
    case = view(database, file_report(database, T0)["case_id"])
    assert case["enterprise"]["path"] == moved + [NANKENG]
    unregistered = file_report(database, T0, credit_code=None, name="无名小作坊",
                               address="南坑", community_code=NANKENG)
    assert view(database, unregistered["case_id"])["enterprise"]["path"] == moved + [NANKENG]


def test_a_moved_community_places_reports_by_its_new_path_within_the_cache_time(
        sqlite_database, monkeypatch):
    names = iter(("无名小作坊", "街角五金厂", "小布料厂"))

    def path_of_a_report():  # each of another workshop: no merging into one case
        case_id = file_report(sqlite_database, T0, credit_code=None, name=next(names),
                              address="南坑", community_code=NANKENG)["case_id"]
        return view(sqlite_database, case_id)["enterprise"]["path"]

    assert path_of_a_report() == [DISTRICT, BANTIAN, NANKENG]
    moved = [DISTRICT, "longgang.buji", BANTIAN, NANKENG]
    with sqlite_database.unit_of_work() as uow:  # as another replica applies the event
        readmodel.registry.apply_organization(uow.session, {
            "code": "longgang.buji", "name": "布吉街道总工会", "kind": "street_federation",
            "tier": "street", "parent_code": DISTRICT, "path": moved[:2]}, T0)
        readmodel.registry.apply_organization(uow.session, {
            "code": BANTIAN, "name": "坂田街道总工会", "kind": "street_federation",
            "tier": "street", "parent_code": "longgang.buji", "path": moved[:3]}, T0)
    assert path_of_a_report() == [DISTRICT, BANTIAN, NANKENG]  # kept a few seconds
    monkeypatch.setattr(readmodel, "COMMUNITY_SECONDS", 0.0)
    assert path_of_a_report() == moved


def test_a_community_not_known_yet_is_not_remembered_as_unknown(sqlite_database):
    newcomer = {"credit_code": None, "name": "新厂", "address": "新社区",
                "community_code": "longgang.bantian.xinshe"}
    with pytest.raises(InvalidInput):
        file_report(sqlite_database, T0, **newcomer)
    with sqlite_database.unit_of_work() as uow:
        readmodel.registry.apply_organization(uow.session, {
            "code": "longgang.bantian.xinshe", "name": "新社社区工联会",
            "kind": "community_federation", "tier": "community", "parent_code": BANTIAN,
            "path": [DISTRICT, BANTIAN, "longgang.bantian.xinshe"]}, T0)
    case_id = file_report(sqlite_database, T0, **newcomer)["case_id"]
    assert view(sqlite_database, case_id)["enterprise"]["path"][-1] == (
        "longgang.bantian.xinshe")
