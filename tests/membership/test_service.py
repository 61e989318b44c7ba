"""MembershipService on the real broker: the registry's events feed its read model, RPC
entrypoints apply the rules, and what it publishes carries no personal data."""

import json
from datetime import datetime

import pytest
from nameko.testing.services import entrypoint_waiter

from services.membership.service import MembershipService
from shared.errors import Conflict, InvalidInput
from shared.testing import call, publish_events
from tests.membership.conftest import (
    ENTERPRISES,
    GANGTOU,
    NANKENG,
    NANKENG_STAFF,
    SMALL,
    TEST_KEY,
    TREE,
    enterprise,
    id_number,
)

STAFF = NANKENG_STAFF.as_dict()  # the caller as it crosses RPC

HANDLERS = {"organization_registered": "handle_organization_registered",
            "enterprise_registered": "handle_enterprise_registered",
            "enterprise_moved": "handle_enterprise_moved",
            "enterprise_closed": "handle_enterprise_closed"}


@pytest.fixture
def config(service_config):
    return dict(service_config, MEMBERSHIP_PII_KEY=TEST_KEY)


@pytest.fixture
def membership(container_factory, config):
    container = container_factory(MembershipService, config)
    container.start()
    return container


@pytest.fixture
def published(event_tap):
    """Everything membership publishes, as a plain AMQP client bound to its exchange sees."""
    return event_tap("membership").take


def registry_event(container, uri, type_, data):
    with entrypoint_waiter(container, HANDLERS[type_], timeout=10):
        publish_events(uri, "registry", type_, data)


def load_tree(container, uri):
    for data in TREE:
        registry_event(container, uri, "organization_registered", data)
    for data in ENTERPRISES:
        registry_event(container, uri, "enterprise_registered", data)


def test_registry_events_and_a_membership_make_the_join_rate(membership, config, published):
    uri = config["AMQP_URI"]
    load_tree(membership, uri)
    assert call(membership, "join_rate", NANKENG)["workers"] == 1020

    application = {"name": "李四", "id_number": id_number(1), "phone": "13800138000",
                   "enterprise_credit_code": SMALL}
    applied = call(membership, "enter_application", application, STAFF)
    approved = call(membership, "approve", applied["membership_id"], STAFF)
    assert approved["status"] == "active"
    for at in (approved["applied_at"], approved["decided_at"]):  # RFC 3339 with an offset
        assert datetime.fromisoformat(at).tzinfo is not None, at
    number = approved["card"]["number"]
    assert call(membership, "check_card", {"card_number": number}, STAFF) == {
        "card": "valid"}
    with pytest.raises(InvalidInput, match="the caller"):  # checks are counted by caller
        call(membership, "check_card", {"card_number": number}, None)
    assert call(membership, "join_rate", NANKENG) == {
        "code": NANKENG, "members": 1, "workers": 1020, "join_rate": 0.001,
        "join_rate_percent": 0}
    with pytest.raises(Conflict):
        call(membership, "apply_online", application)

    sent = published(3)
    assert [body["type"] for body in sent] == ["membership_applied", "membership_approved",
                                               "card_issued"]
    assert all(body["source"] == "gonghui/membership" for body in sent)
    wire = json.dumps(sent, ensure_ascii=False)
    for secret in (id_number(1), "13800138000", "李四", number):
        assert secret not in wire


def test_an_enterprise_moving_then_closing_moves_then_lapses_its_members(membership,
                                                                         config):
    uri = config["AMQP_URI"]
    load_tree(membership, uri)
    applied = call(membership, "apply_online", {
        "name": "王五", "id_number": id_number(2), "phone": None,
        "enterprise_credit_code": SMALL})
    assert applied["channel"] == "online"
    call(membership, "approve", applied["membership_id"], STAFF)

    registry_event(membership, uri, "enterprise_moved", enterprise(
        SMALL, community=GANGTOU, headcount=20, union_code=GANGTOU, from_community_code=NANKENG,
        from_path=["longgang", "longgang.bantian", NANKENG]))
    assert call(membership, "join_rate", NANKENG)["members"] == 0
    assert call(membership, "join_rate", GANGTOU) == {
        "code": GANGTOU, "members": 1, "workers": 320, "join_rate": 0.0031,
        "join_rate_percent": 0}

    registry_event(membership, uri, "enterprise_closed", enterprise(
        SMALL, community=GANGTOU, headcount=20, union_code=GANGTOU, status="closed",
        reason="破产清算"))
    assert call(membership, "join_rate", GANGTOU) == {
        "code": GANGTOU, "members": 0, "workers": 300, "join_rate": 0.0,
        "join_rate_percent": 0}
    record = call(membership, "member", applied["worker_id"], STAFF |
                  {"organization_code": GANGTOU})
    assert record["memberships"][0]["status"] == "lapsed"
    assert record["memberships"][0]["reason"] == "enterprise closed: 破产清算"


@pytest.mark.parametrize("method, args, field", [
    ("apply_online", ({"name": "李四", "id_number": "440307199001011234", "phone": None,
                       "enterprise_credit_code": SMALL},), "id_number"),
    ("apply_online", ({"name": "李四", "id_number": id_number(3), "phone": "110",
                       "enterprise_credit_code": SMALL},), "phone"),
    ("apply_online", ("not an object",), "_schema"),
    ("reject", (1, {"reason": ""}, STAFF), "reason"),
    ("check_purchase", (1, {"card_number": "1", "price_fen": "12"}, STAFF), "price_fen"),
    ("check_card", ({"card_number": "1"}, STAFF | {"role": "god"}), "role"),
    ("check_card", ({"card_number": "1"}, {"name": "x", "role": "staff", "org_code": NANKENG}),
     "organization_code"),
    ("register_merchant", ({"name": "x", "organization_code": NANKENG,
                            "rule": {"kind": "gift"}}, STAFF), "rule"),
    ("approve", ("1; drop table", STAFF), "membership_id"),
    # the caller is shared.caller's {name, role, organization_code}, nothing else
    ("approve", (1, {"name": "南坑工联会", "role": "staff", "org_code": NANKENG}),
     "organization_code"),
    ("enter_application", ({}, None), "_schema"),
    ("approve", (2**63, STAFF), "membership_id"),
    ("join_rate", ("x" * 101,), "code"),
])
def test_bad_input_is_refused_with_the_field_named(container_factory, make_service_config,
                                                   sqlite_url, method, args, field):
    container = container_factory(MembershipService, dict(
        make_service_config(sqlite_url), MEMBERSHIP_PII_KEY=TEST_KEY))
    container.start()
    with pytest.raises(InvalidInput) as caught:
        call(container, method, *args)
    assert field in caught.value.details


@pytest.fixture
def sqlite_membership(running_membership, sqlite_url):
    return running_membership(sqlite_url)


def test_every_list_pages_by_cursor_and_a_cursor_it_did_not_give_is_refused(
        sqlite_membership):
    for seq in range(1, 6):
        applied = call(sqlite_membership, "apply_online", {
            "name": "郑一", "id_number": id_number(seq), "phone": None,
            "enterprise_credit_code": SMALL})
        call(sqlite_membership, "submit_service_request", {
            "worker_id": call(sqlite_membership, "approve", applied["membership_id"],
                              STAFF)["worker_id"],
            "kind": "hardship_aid", "summary": f"第{seq}件"}, STAFF)
    for merchant in ("阿强理发店", "南坑书屋", "百姓快餐"):
        call(sqlite_membership, "register_merchant", {
            "name": merchant, "organization_code": NANKENG,
            "rule": {"kind": "percent_off", "percent_off": 10}}, STAFF)
    lists = {  # method -> (arguments before the query, arguments after, key, how many)
        "list_members": ((), (STAFF,), "membership_id", 5, {"code": NANKENG}),
        "service_requests": ((), (STAFF,), "request_id", 5, {"code": NANKENG}),
        "merchants": ((), (), "merchant_id", 3, {}),
        "join_rates_below": (("longgang.bantian",), (), "code", 2, {}),
    }
    for method, (before, after, key, count, query) in lists.items():
        seen, cursor = [], None
        while True:
            page = call(sqlite_membership, method, *before,
                        dict(query, limit=2, **({"cursor": cursor} if cursor else {})),
                        *after)
            assert set(page) == {"items", "next_cursor"}
            seen += [item[key] for item in page["items"]]
            cursor = page["next_cursor"]
            if cursor is None:
                break
        assert len(seen) == len(set(seen)) == count and seen == sorted(seen), method
        with pytest.raises(InvalidInput) as caught:
            call(sqlite_membership, method, *before, dict(query, cursor="e30"), *after)
        assert "cursor" in caught.value.details, method


def test_a_race_for_a_second_current_membership_is_a_409_without_the_values(
        sqlite_membership, monkeypatch):
    from services.membership import views

    application = {"name": "郑一", "id_number": id_number(8), "phone": "13800138008",
                   "enterprise_credit_code": SMALL}
    call(sqlite_membership, "apply_online", application)
    # As if another request had not committed yet when this one looked.
    monkeypatch.setattr(views, "current_membership", lambda session, worker_id: None)
    with pytest.raises(Conflict, match="another request") as caught:
        call(sqlite_membership, "apply_online", application)
    assert caught.value.details is None


def test_personal_data_never_reaches_the_logs(sqlite_membership, caplog):
    import logging

    caplog.set_level(logging.DEBUG)
    good = {"name": "冯二", "id_number": id_number(9), "phone": "13800138009",
            "enterprise_credit_code": SMALL}
    applied = call(sqlite_membership, "apply_online", good)
    call(sqlite_membership, "approve", applied["membership_id"], STAFF)
    wrong = "0" if id_number(9)[17] != "0" else "1"
    bad = dict(good, id_number=id_number(9)[:17] + wrong, phone="1380013800x")
    for attempt in (bad, good):
        with pytest.raises((InvalidInput, Conflict)):
            call(sqlite_membership, "apply_online", attempt)
    assert caplog.records  # something was logged at all
    for secret in (id_number(9), bad["id_number"], "13800138009", "1380013800x"):
        assert secret not in caplog.text
