"""Membership use cases on a real database (SQLite and PostgreSQL where it matters):
status rules, one union at a time, transfers with history, cards, counters, registry
events, personal data."""

import json
from dataclasses import replace

import pytest
from sqlalchemy import text

from services.membership import operations, readmodel, views
from shared.errors import Conflict, Forbidden, InvalidInput, NotFound
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
    enterprise,
    id_number,
    organization,
)


def application(seq=1, credit_code=HUAWEI, phone="13800138000", name="李四"):
    return {"name": name, "id_number": id_number(seq), "phone": phone,
            "enterprise_credit_code": credit_code}


def join(database, keys, seq=1, credit_code=HUAWEI, **extra) -> dict:
    with database.unit_of_work() as uow:
        applied = operations.apply(uow, keys, application(seq, credit_code, **extra), NANKENG_STAFF
                            if credit_code != OTHER else GANGTOU_STAFF, "staff")
    with database.unit_of_work() as uow:
        return operations.approve(uow, keys, applied["membership_id"],
                           NANKENG_STAFF if credit_code != OTHER else GANGTOU_STAFF)


def rate(database, code):
    with database.session() as session:
        rate = views.join_rate(session, code)
        return rate.members, rate.workers


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
        moved = operations.transfer(uow, first["membership_id"], OTHER, GANGTOU_STAFF)
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


def test_an_organization_moving_takes_its_subtree_counters_along(sqlite_district, keys):
    db = sqlite_district
    join(db, keys, 1, OTHER)
    other_street = "longgang.longcheng"
    with db.unit_of_work() as uow:
        readmodel.apply_organization(uow.session, organization(
            other_street, DISTRICT, "street_federation", "street", [DISTRICT, other_street]))
        readmodel.apply_organization(uow.session, organization(
            GANGTOU, other_street, "community_federation", "community",
            [DISTRICT, other_street, GANGTOU]))
    assert rate(db, STREET) == (0, 1020)
    assert rate(db, other_street) == (1, 300)
    assert rate(db, DISTRICT) == (1, 1320)
    with db.session() as session:
        assert readmodel.enterprise(session, OTHER)["path"] == [DISTRICT, other_street,
                                                                  GANGTOU]
        below = views.join_rates_below(session, DISTRICT)
    assert [(r["code"], r["members"]) for r in below["items"]] == [(STREET, 0),
                                                                  (other_street, 1)]


def test_a_repeated_or_updated_snapshot_never_counts_twice(sqlite_district, keys):
    db = sqlite_district
    for _ in range(2):
        with db.unit_of_work() as uow:
            readmodel.apply_enterprise(uow.session, enterprise(SMALL, headcount=40))
    assert rate(db, NANKENG) == (0, 1040)
    with db.session() as session:
        with pytest.raises(NotFound, match="not known to the registry"):
            views.join_rate(session, "longgang.nowhere")


def test_a_lost_card_is_replaced_and_the_old_one_reads_expired(sqlite_district, keys):
    db = sqlite_district
    member = join(db, keys)
    with pytest.raises(Conflict, match="already has a card"):
        with db.unit_of_work() as uow:
            operations.request_card(uow, keys, member["worker_id"], False, NANKENG_STAFF)
    with db.unit_of_work() as uow:
        new = operations.request_card(uow, keys, member["worker_id"], True, NANKENG_STAFF)
    with db.session() as session:
        assert views.card_verdict(session, keys, member["card"]["number"]) == "expired"
        assert views.card_verdict(session, keys, new["number"]) == "valid"
        assert views.card_verdict(session, keys, "1234 5678 9012 3456") == "unknown"
        assert views.card_verdict(session, keys, "not a card") == "unknown"
    assert events(db)[-1]["data"]["replaces_lost_card"] is True


def test_a_merchant_gives_its_discount_only_for_a_valid_card(sqlite_district, keys):
    db = sqlite_district
    card = join(db, keys)["card"]["number"]
    with db.unit_of_work() as uow:
        barber = operations.register_merchant(uow, {
            "name": "南坑理发店", "organization_code": SMALL,
            "rule": {"kind": "percent_off", "percent_off": 20}}, NANKENG_STAFF)
        market = operations.register_merchant(uow, {
            "name": "南坑爱心超市", "organization_code": NANKENG,
            "rule": {"kind": "cost_plus", "markup_fen": 100}}, NANKENG_STAFF)
    with db.session() as session:
        assert views.check_purchase(session, keys, barber["merchant_id"], card, 3000, None) == {
            "card": "valid", "discount_applied": True, "price_fen": 3000, "pay_fen": 2400}
        assert views.check_purchase(session, keys, market["merchant_id"], card, 1500,
                                  1000)["pay_fen"] == 1100
        stranger = views.check_purchase(session, keys, market["merchant_id"],
                                      "4000 0000 0000 0002", 1500, 1000)
        assert stranger == {"card": "unknown", "discount_applied": False, "price_fen": 1500,
                            "pay_fen": 1500}
        assert [m["name"] for m in views.list_merchants(session, NANKENG)["items"]] == [
            "南坑理发店", "南坑爱心超市"]
    with pytest.raises(NotFound, match="not known to the registry"):
        with db.unit_of_work() as uow:
            operations.register_merchant(uow, {"name": "x", "organization_code": "91440300NOPE",
                                        "rule": {"kind": "cost_plus", "markup_fen": 100}},
                                  ADMIN)


def test_member_service_requests_have_a_status_and_a_handling_organization(sqlite_district,
                                                                           keys):
    db = sqlite_district
    member = join(db, keys, 1, SMALL)
    with db.unit_of_work() as uow:
        request = operations.submit_request(uow, {"worker_id": member["worker_id"],
                                           "kind": "hardship_aid", "summary": "家中遭灾",
                                           "handling_organization_code": None}, NANKENG_STAFF)
    assert (request["status"], request["handling_organization_code"]) == ("submitted",
                                                                          NANKENG)
    with db.unit_of_work() as uow:
        request = operations.update_request(uow, request["request_id"], {
            "status": "accepted", "handling_organization_code": STREET,
            "note": "转街道总工会"}, NANKENG_STAFF)
    assert request["handling_organization_code"] == STREET
    with db.unit_of_work() as uow:
        operations.update_request(uow, request["request_id"], {"status": "resolved"},
                           replace(NANKENG_STAFF, organization_code=STREET))
    with pytest.raises(Conflict, match="a resolved request cannot become in_progress"):
        with db.unit_of_work() as uow:
            operations.update_request(uow, request["request_id"], {"status": "in_progress"}, ADMIN)
    with db.session() as session:
        page = views.list_requests(session, ADMIN, STREET, None, "hardship_aid")
    assert [r["status"] for r in page["items"]] == ["resolved"]
    assert page["next_cursor"] is None
    with pytest.raises(Forbidden):
        with db.unit_of_work() as uow:
            operations.submit_request(uow, {"worker_id": member["worker_id"], "kind": "complaint",
                                     "summary": "x"}, GANGTOU_STAFF)
    assert [e["type"] for e in events(db)][-3:] == ["service_request_submitted",
                                                    "service_request_updated",
                                                    "service_request_updated"]



def submit(database, worker_id, summary, handler=None) -> int:
    with database.unit_of_work() as uow:
        return operations.submit_request(uow, {"worker_id": worker_id, "kind": "hardship_aid",
                                        "summary": summary,
                                        "handling_organization_code": handler},
                                  NANKENG_STAFF)["request_id"]


def walk(database, read, between_pages=lambda: None) -> list[list[dict]]:
    """Every page ``read(session, cursor)`` gives, following next_cursor from the first."""
    pages, cursor = [], None
    while True:
        with database.session() as session:
            page = read(session, cursor)
        pages.append(page["items"])
        cursor = page["next_cursor"]
        if cursor is None:
            return pages
        between_pages()
        assert len(pages) < 20, "the cursor does not move forward"


def request_pages(database, limit, between_pages=lambda: None) -> list[list[int]]:
    pages = walk(database, lambda session, cursor: views.list_requests(
        session, ADMIN, NANKENG, None, None, cursor, limit), between_pages)
    return [[item["request_id"] for item in page] for page in pages]


def test_service_requests_page_through_every_request_exactly_once(district, keys):
    worker = join(district, keys, 1, SMALL)["worker_id"]
    ours = [submit(district, worker, f"第{n}件") for n in range(7)]
    submit(district, worker, "街道的", handler=STREET)  # another organization's: not listed

    assert request_pages(district, 3) == [ours[0:3], ours[3:6], ours[6:7]]
    # a last page that is exactly full says so itself: no empty page after it
    assert request_pages(district, 7) == [ours]

    added = []

    def another_arrives():
        if len(added) < 2:
            added.append(submit(district, worker, "新"))

    # requests added while a client walks come at the end, once; none is seen twice
    pages = request_pages(district, 2, another_arrives)
    assert [request_id for page in pages for request_id in page] == ours + added
    assert len(added) == 2


def test_members_page_on_the_same_cursor(district, keys):
    members = [join(district, keys, seq, SMALL)["membership_id"] for seq in range(1, 6)]
    pages = walk(district, lambda session, cursor: views.list_members(
        session, ADMIN, NANKENG, None, cursor, 2))
    assert [[item["membership_id"] for item in page] for page in pages] == [
        members[0:2], members[2:4], members[4:5]]
