"""Membership use cases on a real database (SQLite and PostgreSQL where it matters):
applications and status rules, one union at a time, transfers with history, an enterprise
moving or closing, personal data, the members list."""

import json

import pytest
from sqlalchemy import text

from services.membership import operations, views
from shared.caller import Caller
from shared.errors import Conflict, Forbidden, InvalidInput
from shared.testing import outbox_envelopes as events
from tests.membership.conftest import (
    ADMIN,
    DISTRICT,
    GANGTOU,
    GANGTOU_STAFF,
    HUAWEI,
    HUAWEI_UNION,
    NANKENG,
    NANKENG_STAFF,
    NANKENG_VIEWER,
    OTHER,
    SMALL,
    STREET,
    application,
    enterprise,
    id_number,
    join,
    rate,
    walk,
)

STREET_STAFF = Caller("坂田街道总工会", "staff", STREET)


def test_an_approved_application_makes_an_active_member_with_a_valid_card(district, keys):
    with district.unit_of_work() as uow:
        applied = operations.apply(uow, keys, application(), NANKENG_STAFF, "staff")
    assert applied["status"] == "pending" and applied["union_code"] == HUAWEI_UNION
    assert rate(district, NANKENG) == (0, 1020)  # pending is not a member yet

    with district.unit_of_work() as uow:
        approved = operations.approve(uow, keys, applied["membership_id"], NANKENG_STAFF)
    assert approved["status"] == "active"
    number = approved["card"]["number"]
    with district.session() as session:
        assert views.card_verdict(session, keys, number) == "valid"
    for code in (DISTRICT, STREET, NANKENG, HUAWEI_UNION):
        assert rate(district, code)[0] == 1
    assert rate(district, GANGTOU) == (0, 300)
    assert rate(district, HUAWEI) == (1, 1000)  # one enterprise

    sent = events(district)
    assert [e["type"] for e in sent] == ["membership_applied", "membership_approved",
                                         "card_issued"]
    everything = json.dumps(sent, ensure_ascii=False)
    for secret in (id_number(1), "13800138000", "李四", number):
        assert secret not in everything


def test_a_worker_belongs_to_one_union_at_a_time_and_a_transfer_keeps_history(district, keys):
    first = join(district, keys)
    with pytest.raises(Conflict, match="one union at a time"):
        with district.unit_of_work() as uow:
            operations.apply(uow, keys, application(), NANKENG_STAFF, "staff")

    with district.unit_of_work() as uow:
        moved = operations.transfer(uow, first["membership_id"], OTHER, STREET_STAFF)
    assert moved["status"] == "active" and moved["union_code"] == GANGTOU
    assert moved["previous_membership_id"] == first["membership_id"]
    assert rate(district, NANKENG)[0] == 0 and rate(district, HUAWEI_UNION)[0] == 0
    assert rate(district, GANGTOU)[0] == 1 and rate(district, STREET)[0] == 1

    with district.session() as session:
        record = views.member(session, keys, first["worker_id"], ADMIN)
        assert views.card_verdict(session, keys, first["card"]["number"]) == "valid"
    assert [m["status"] for m in record["memberships"]] == ["transferred", "active"]
    assert record["memberships"][0]["reason"] == f"transferred to {GANGTOU}"
    with pytest.raises(Conflict, match="a transferred membership cannot transfer"):
        with district.unit_of_work() as uow:
            operations.transfer(uow, first["membership_id"], SMALL, NANKENG_STAFF)


def test_a_transfer_needs_both_enterprises_in_the_callers_subtree(district, keys):
    member = join(district, keys)
    before = len(events(district))
    for caller in (GANGTOU_STAFF, NANKENG_STAFF):  # the receiving side, the member's side
        with pytest.raises(Forbidden), district.unit_of_work() as uow:
            operations.transfer(uow, member["membership_id"], OTHER, caller)
    assert len(events(district)) == before
    assert rate(district, NANKENG)[0] == 1 and rate(district, GANGTOU)[0] == 0


def test_rejecting_leaving_and_lapsing_end_memberships_with_a_reason(sqlite_district, keys):
    db = sqlite_district
    with db.unit_of_work() as uow:
        pending = operations.apply(uow, keys, application(2), NANKENG_STAFF, "staff")
    with db.unit_of_work() as uow:
        rejected = operations.end(uow, pending["membership_id"], "reject", "资料不全",
                                  NANKENG_STAFF)
    assert (rejected["status"], rejected["reason"]) == ("rejected", "资料不全")

    member = join(db, keys, 2)  # may apply again after a rejection
    with pytest.raises(InvalidInput, match="needs a reason"):
        with db.unit_of_work() as uow:
            operations.end(uow, member["membership_id"], "leave", " ", NANKENG_STAFF)
    with db.unit_of_work() as uow:
        left = operations.end(uow, member["membership_id"], "leave", "本人申请退会", NANKENG_STAFF)
    assert left["status"] == "left" and rate(db, NANKENG)[0] == 0
    with db.session() as session:
        assert views.card_verdict(session, keys, member["card"]["number"]) == "expired"

    lapsing = join(db, keys, 3)
    with db.unit_of_work() as uow:
        operations.end(uow, lapsing["membership_id"], "lapse", "连续六个月未缴会费", NANKENG_STAFF)
    assert [e["type"] for e in events(db)][-3:] == ["membership_approved", "card_issued",
                                                    "membership_lapsed"]


def test_staff_act_only_within_their_subtree_and_viewers_not_at_all(sqlite_district, keys):
    db = sqlite_district
    with db.unit_of_work() as uow:
        pending = operations.apply(uow, keys, application(4), NANKENG_STAFF, "staff")
    for caller, message in ((GANGTOU_STAFF, "outside the subtree"),
                            (NANKENG_VIEWER, "may not write")):
        with pytest.raises(Forbidden, match=message):
            with db.unit_of_work() as uow:
                operations.approve(uow, keys, pending["membership_id"], caller)
        with pytest.raises(Forbidden):
            with db.unit_of_work() as uow:
                operations.apply(uow, keys, application(5), caller, "staff")
    with db.session() as session:
        listed = views.list_members(session, NANKENG_STAFF, NANKENG, None, None, 10)
        assert [m["membership_id"] for m in listed["items"]] == [pending["membership_id"]]
        assert views.list_members(session, ADMIN, GANGTOU, None, None, 10)["items"] == []
        with pytest.raises(Forbidden):
            views.list_members(session, GANGTOU_STAFF, NANKENG, None, None, 10)


def test_personal_data_is_sealed_at_rest_and_readable_only_by_staff_over_the_member(
        district, keys):
    member = join(district, keys, 7, phone="13912345678")
    with district.session() as session:
        dump = " ".join(str(row) for table in ("workers", "memberships", "cards", "outbox")
                        for row in session.execute(text(f"SELECT * FROM {table}")))
        assert id_number(7) not in dump and "13912345678" not in dump
        assert member["card"]["number"] not in dump

        clear = views.personal_data(session, keys, member["worker_id"], NANKENG_STAFF)
        assert (clear["id_number"], clear["phone"]) == (id_number(7), "13912345678")
        record = views.member(session, keys, member["worker_id"], NANKENG_VIEWER)
        assert record["id_number"] == id_number(7)[:3] + "*" * 11 + id_number(7)[-4:]
        assert record["phone"] == "139****5678"
        with pytest.raises(Forbidden, match="may not read personal data"):
            views.personal_data(session, keys, member["worker_id"], NANKENG_VIEWER)
        with pytest.raises(Forbidden, match="outside the subtree"):
            views.personal_data(session, keys, member["worker_id"], GANGTOU_STAFF)


def test_an_enterprise_moving_to_another_community_moves_its_members_statistics(district,
                                                                                 keys):
    join(district, keys, 1, SMALL)
    join(district, keys, 2, SMALL)
    assert rate(district, NANKENG) == (2, 1020)
    with district.unit_of_work() as uow:
        operations.enterprise_snapshot(uow, enterprise(SMALL, community=GANGTOU, headcount=25,
                                                from_community_code=NANKENG))
    assert rate(district, NANKENG) == (0, 1000)
    assert rate(district, GANGTOU) == (2, 325)
    assert rate(district, STREET) == (2, 1325)
    assert rate(district, SMALL) == (2, 25)


def test_an_enterprise_closing_lapses_its_memberships_with_the_reason(district, keys):
    member = join(district, keys, 1, SMALL)
    with district.unit_of_work() as uow:
        pending = operations.apply(uow, keys, application(2, SMALL), NANKENG_STAFF, "staff")
    closed = enterprise(SMALL, status="closed", reason="注销")
    with district.unit_of_work() as uow:
        assert operations.enterprise_snapshot(uow, closed) == {"lapsed": 1, "rejected": 1}
    with district.unit_of_work() as uow:  # the same snapshot again changes nothing
        assert operations.enterprise_snapshot(uow, closed) is None
    assert rate(district, NANKENG) == (0, 1000)
    with district.session() as session:
        history = views.member(session, keys, member["worker_id"], ADMIN)["memberships"]
        assert (history[0]["status"], history[0]["reason"]) == ("lapsed",
                                                                "enterprise closed: 注销")
        again = views.member(session, keys, pending["worker_id"], ADMIN)["memberships"]
        assert again[0]["status"] == "rejected"
    assert events(district)[-1]["type"] == "memberships_lapsed"
    with pytest.raises(Conflict, match="closed"):
        with district.unit_of_work() as uow:
            operations.apply(uow, keys, application(3, SMALL), NANKENG_STAFF, "staff")


def test_members_page_on_the_same_cursor(district, keys):
    members = [join(district, keys, seq, SMALL)["membership_id"] for seq in range(1, 6)]
    pages = walk(district, lambda session, cursor: views.list_members(
        session, ADMIN, NANKENG, None, cursor, 2))
    assert [[item["membership_id"] for item in page] for page in pages] == [
        members[0:2], members[2:4], members[4:5]]
