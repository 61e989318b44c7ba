"""What disputes keeps of other services' events: the registry's tree (applied in any
order, an older snapshot never replacing a newer) and notifications' acknowledgements."""

from datetime import timedelta

from services.disputes import readmodel
from tests.disputes.conftest import (
    BANTIAN,
    DISTRICT,
    ENTERPRISES,
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
