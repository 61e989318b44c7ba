"""What incubation keeps of the registry and of membership, from their events: newest
snapshot wins, a moved place takes its organizations along, members and their requests."""

from datetime import UTC, datetime

import pytest

from services.incubation import operations, readmodel, views
from tests.incubation.conftest import (
    BANTIAN,
    DISTRICT,
    FACTORY,
    HUB_STAFF,
    LONGCHENG,
    NANKENG,
    ORGANIZATIONS,
    application,
    member_event,
    read,
    write,
)


def at(hour) -> datetime:
    return datetime(2026, 11, 21, hour, tzinfo=UTC)


def apply(db, function, data, as_of=None):
    with db.unit_of_work() as uow:
        function(uow.session, data, as_of)


def test_a_moved_community_takes_the_organizations_based_there_along(db):
    organization = write(db, operations.add_organization, application(), HUB_STAFF)
    nankeng = next(item for item in ORGANIZATIONS if item["code"] == NANKENG)
    apply(db, readmodel.apply_organization,
          {**nankeng, "parent_code": LONGCHENG, "path": [DISTRICT, LONGCHENG, NANKENG]},
          at(10))
    moved = read(db, views.get_organization, organization["id"], HUB_STAFF)
    assert moved["home"]["path"] == [DISTRICT, LONGCHENG, NANKENG]
    with db.session() as session:
        assert readmodel.place(session, NANKENG)["path"][1] == LONGCHENG
    # an older snapshot arriving late changes nothing
    apply(db, readmodel.apply_organization, nankeng, at(9))
    assert read(db, views.get_organization, organization["id"],
                HUB_STAFF)["home"]["path"][1] == LONGCHENG


@pytest.mark.parametrize("applied", ["alone", "in an import batch"])
def test_a_moved_enterprise_rehomes_the_organizations_based_at_it(db, applied):
    apply_enterprise = readmodel.apply_enterprise if applied == "alone" else (
        lambda session, data, as_of: readmodel.apply_enterprises(session, [data], as_of))
    organization = write(db, operations.add_organization, application(home=FACTORY),
                         HUB_STAFF)
    assert organization["home"]["path"] == [DISTRICT, BANTIAN, NANKENG]
    with db.session() as session:
        enterprise = readmodel.registry.enterprise(session, FACTORY)
    apply(db, apply_enterprise, {
        **enterprise, "community_code": "longgang.longcheng.zhangbei",
        "path": [DISTRICT, LONGCHENG, "longgang.longcheng.zhangbei"]}, at(10))
    assert read(db, views.get_organization, organization["id"],
                HUB_STAFF)["home"]["path"][1] == LONGCHENG


def test_a_place_is_an_organization_by_code_or_an_enterprise_by_credit_code(db):
    with db.session() as session:
        assert readmodel.place(session, NANKENG)["kind"] == "organization"
        assert readmodel.place(session, FACTORY.lower())["code"] == FACTORY
        assert readmodel.place(session, "longgang.nowhere") is None


def test_members_keep_their_newest_membership_and_lapse_with_their_enterprise(db):
    apply(db, readmodel.memberships.apply_membership, member_event(7, "pending"), at(8))
    apply(db, readmodel.memberships.apply_membership, member_event(7, "active"), at(9))
    apply(db, readmodel.memberships.apply_membership, member_event(7, "pending"), at(8))  # late
    with db.session() as session:
        assert readmodel.memberships.member(session, 7)["status"] == "active"
    apply(db, readmodel.memberships.apply_lapsed, {
        "enterprise_credit_code": FACTORY, "organization_path": [DISTRICT, BANTIAN, NANKENG],
        "reason": "企业停业", "lapsed": 1, "rejected": 0}, at(10))
    with db.session() as session:
        assert readmodel.memberships.member(session, 7)["status"] == "lapsed"
        assert readmodel.members_known(session, [7, 8]) == {7: "lapsed"}


def test_a_requests_place_is_its_members_or_else_its_handling_unions(db):
    request = {"request_id": 5, "worker_id": 70, "kind": "legal_consultation",
               "status": "submitted", "handling_organization_code": NANKENG}
    apply(db, readmodel.apply_service_request, request, at(9))
    with db.session() as session:
        stored = readmodel.service_request(session, 5)
        assert readmodel.request_place(session, stored) == [DISTRICT, BANTIAN, NANKENG]
    apply(db, readmodel.memberships.apply_membership, member_event(70), at(9))
    apply(db, readmodel.apply_service_request, {**request, "status": "accepted"}, at(10))
    apply(db, readmodel.apply_service_request, request, at(8))  # an older copy
    with db.session() as session:
        stored = readmodel.service_request(session, 5)
        assert stored["status"] == "accepted"
        assert readmodel.request_place(session, stored) == [DISTRICT, BANTIAN, NANKENG,
                                                            FACTORY]


def imported_batch(*worker_ids, credit_code=FACTORY):
    return {"import_id": 3, "batch": 1, "enterprises": {credit_code: {
        "union_code": NANKENG, "organization_path": [DISTRICT, BANTIAN, NANKENG],
        "members": [[worker_id, worker_id + 5000] for worker_id in worker_ids]}}}


def test_members_of_a_bulk_import_are_known_by_id_and_place(db):
    apply(db, readmodel.memberships.apply_membership, member_event(2, "left"), at(11))
    apply(db, readmodel.memberships.apply_imported, imported_batch(1, 2, 3), at(10))
    apply(db, readmodel.memberships.apply_imported, imported_batch(1, 2, 3), at(10))  # again
    with db.session() as session:
        assert readmodel.members_known(session, [1, 2, 3, 4]) == {
            1: "active", 2: "left", 3: "active"}  # 2's later departure stands
        assert readmodel.memberships.member(session, 3)["path"] == [DISTRICT, BANTIAN,
                                                                    NANKENG]
        assert readmodel.memberships.member(session, 3)["membership_id"] == 5003
