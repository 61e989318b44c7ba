"""The membership API through the real gateway and the real membership service: tokens
and roles, personal data only for staff over the member, cards, merchants, join rates,
and a clear 4xx for bad input."""

from datetime import datetime

import pytest
import requests

from services.gateway.service import GatewayService
from shared.paging import encode_cursor
from tests.conftest import gateway_tokens
from tests.membership.conftest import (
    GANGTOU,
    HUAWEI,
    NANKENG,
    OTHER,
    SMALL,
    STREET,
    id_number,
)
from tests.shared.problems import error_fields, problem

V1 = "/api/v1"
PEOPLE = {"nankeng_staff": ("staff", NANKENG), "nankeng_viewer": ("viewer", NANKENG),
          "gangtou_staff": ("staff", GANGTOU), "street_staff": ("staff", STREET)}


@pytest.fixture
def make_api(container_factory, make_service_config, running_membership, tmp_path):
    """``make_api(membership_database_url, **membership_config)``: membership and the
    gateway started, and ``call(method, path, person=None, **requests_kwargs)`` with that
    person's token."""

    def make(membership_url, **membership_config):
        running_membership(membership_url, **membership_config)
        config = make_service_config(f"sqlite:///{tmp_path}/gateway.db")
        gateway = container_factory(GatewayService, config)
        gateway.start()
        tokens = gateway_tokens(config["DATABASE_URL"], PEOPLE)
        base = f"http://{config['WEB_SERVER_ADDRESS']}{V1}"

        def call(method, path, person=None, headers=None, **kwargs):
            headers = dict(headers or {})
            if person:
                headers["Authorization"] = f"Bearer {tokens[person]}"
            return requests.request(method, base + path, headers=headers, timeout=30,
                                    **kwargs)

        return call

    return make


@pytest.fixture
def api(make_api, tmp_path):
    return make_api(f"sqlite:///{tmp_path}/membership.db")


def application(seq, credit_code=SMALL):
    return {"name": "陈七", "id_number": id_number(seq), "phone": "13600136000",
            "enterprise_credit_code": credit_code}


def test_staff_admit_a_member_whose_card_a_merchant_can_check(api):
    applied = api("POST", "/memberships", "nankeng_staff", json=application(1))
    assert applied.status_code == 201, applied.text
    assert applied.headers["Cache-Control"] == "no-store"
    membership_id = applied.json()["membership_id"]
    assert api("POST", f"/memberships/{membership_id}/approve", "nankeng_viewer").status_code \
        == 403
    assert api("POST", f"/memberships/{membership_id}/approve", "gangtou_staff").status_code \
        == 403
    approved = api("POST", f"/memberships/{membership_id}/approve", "nankeng_staff").json()
    card = approved["card"]["number"]
    worker = approved["worker_id"]

    member = api("GET", f"/members/{worker}", "nankeng_viewer").json()
    assert member["id_number"].count("*") == 11 and member["phone"] == "136****6000"
    assert api("GET", f"/members/{worker}/personal-data", "nankeng_viewer").status_code == 403
    assert api("GET", f"/members/{worker}/personal-data", "gangtou_staff").status_code == 403
    clear = api("GET", f"/members/{worker}/personal-data", "nankeng_staff").json()
    assert clear["id_number"] == id_number(1)

    assert api("POST", "/cards/check", json={"card_number": card}).status_code == 401
    assert api("POST", "/cards/check", "nankeng_viewer",
               json={"card_number": card}).json() == {"card": "valid"}
    merchant = api("POST", "/merchants", "nankeng_staff", json={
        "name": "南坑爱心超市", "organization_code": NANKENG,
        "rule": {"kind": "cost_plus", "markup_fen": 100}})
    assert merchant.status_code == 201, merchant.text
    check = api("POST", f"/merchants/{merchant.json()['merchant_id']}/purchase-checks",
                "nankeng_viewer", json={"card_number": card, "price_fen": 1500,
                                        "cost_fen": 1000})
    assert check.json() == {"card": "valid", "discount_applied": True, "price_fen": 1500,
                            "pay_fen": 1100}
    assert [m["name"] for m in api("GET", f"/merchants?code={NANKENG}").json()["items"]] == [
        "南坑爱心超市"]

    rate = api("GET", f"/organizations/{NANKENG}/join-rate").json()
    assert (rate["members"], rate["workers"]) == (1, 1020)
    below = api("GET", f"/organizations/{STREET}/join-rates").json()
    assert ([r["code"] for r in below["items"]], below["next_cursor"]) == ([GANGTOU, NANKENG],
                                                                          None)

    request = api("POST", "/service-requests", "nankeng_staff", json={
        "worker_id": worker, "kind": "legal_consultation", "summary": "拖欠工资"})
    assert request.status_code == 201, request.text
    listed = api("GET", f"/service-requests?code={NANKENG}", "nankeng_viewer").json()
    assert [r["kind"] for r in listed["items"]] == ["legal_consultation"]
    assert listed["next_cursor"] is None
    resolved = api("PATCH", f"/service-requests/{request.json()['request_id']}",
                   "nankeng_staff", json={"status": "resolved", "note": "已调解"})
    assert resolved.json()["status"] == "resolved"


def test_a_worker_applies_online_once(api):
    first = api("POST", "/applications", json=application(2, HUAWEI))
    assert first.status_code == 201, first.text
    again = api("POST", "/applications", json=application(2, HUAWEI))
    assert again.status_code == 409
    assert "membership_id" not in again.text  # says nothing about the existing membership


def test_an_application_retried_with_its_idempotency_key_gets_the_first_answer(api):
    key = {"Idempotency-Key": "5e0c1b7a9d2f4e6a8b3c5d7e9f1a2b3c"}
    first = api("POST", "/applications", json=application(4, HUAWEI), headers=key)
    retried = api("POST", "/applications", json=application(4, HUAWEI), headers=key)
    assert first.status_code == retried.status_code == 201, retried.text
    assert retried.json() == first.json()  # not the 409 a second application gets
    reused = api("POST", "/applications", json=application(5, HUAWEI), headers=key)
    assert reused.status_code == 422 and problem(reused)["code"] == "IDEMPOTENCY_KEY_REUSED"
    # staff keys are each user's own: another's same key is another request
    staff_key = {"Idempotency-Key": "paper-0001"}
    paper = api("POST", "/memberships", "nankeng_staff", json=application(6),
                headers=staff_key)
    assert paper.status_code == 201, paper.text
    assert api("POST", "/memberships", "nankeng_staff", json=application(6),
               headers=staff_key).json() == paper.json()
    other = api("POST", "/memberships", "street_staff", json=application(7),
                headers=staff_key)
    assert other.status_code == 201 and other.json() != paper.json()


@pytest.mark.parametrize("method, path, body, status, field", [
    ("POST", "/applications", {"name": "x", "id_number": "440307199001011235",
                               "phone": None, "enterprise_credit_code": SMALL}, 400,
     "id_number"),
    ("POST", "/applications", {"name": "x", "id_number": id_number(3), "phone": "5551234",
                               "enterprise_credit_code": SMALL}, 400, "phone"),
    ("POST", "/applications", {"name": "x", "id_number": id_number(3), "phone": None,
                               "enterprise_credit_code": "91440300NOTKNOWN1X"}, 404, None),
    ("POST", "/memberships/999/approve", None, 404, None),
    ("GET", "/organizations/longgang.nowhere/join-rate", None, 404, None),
    ("GET", "/members?code=" + NANKENG + "&limit=0", None, 400, "limit"),
    ("GET", "/members?code=" + NANKENG + "&cursor=abc", None, 400, "cursor"),
    # a cursor of the right shape with a key no row can have: 400, not 500
    ("GET", "/members?code=" + NANKENG + "&cursor=" + encode_cursor([2**63]), None, 400,
     "cursor"),
    ("GET", "/service-requests?code=" + NANKENG + "&cursor=" + encode_cursor(["x"]), None,
     400, "cursor"),
    ("GET", "/service-requests?code=" + NANKENG + "&cursor=abc", None, 400, "cursor"),
    ("GET", "/service-requests?code=" + NANKENG + "&cursor=" + "W" * 1001, None, 400,
     "cursor"),
    ("GET", "/service-requests?code=" + NANKENG + "&limit=501", None, 400, "limit"),
    ("GET", "/service-requests?code=" + NANKENG + "&limit=0", None, 400, "limit"),
    ("GET", "/merchants?cursor=e30", None, 400, "cursor"),
    ("GET", "/organizations/longgang.bantian/join-rates?limit=x", None, 400, "limit"),
])
def test_bad_input_gets_a_clear_4xx(api, method, path, body, status, field):
    person = None if path.startswith(("/applications", "/organizations")) else "nankeng_staff"
    response = api(method, path, person, json=body)
    assert response.status_code == status, response.text
    error = problem(response)
    if field:
        assert field in error_fields(error)
    assert id_number(3) not in response.text


def admitted(api, seq) -> dict:
    """A new active member at the small 南坑 enterprise: the approved membership, with
    its worker id and card."""
    applied = api("POST", "/memberships", "nankeng_staff", json=application(seq))
    assert applied.status_code == 201, applied.text
    approved = api("POST", f"/memberships/{applied.json()['membership_id']}/approve",
                   "nankeng_staff")
    assert approved.status_code == 200, approved.text
    return approved.json()


def test_a_member_is_transferred_only_by_staff_over_both_enterprises(api):
    member = admitted(api, 7)
    path = f"/memberships/{member['membership_id']}/transfer"
    for person in ("gangtou_staff", "nankeng_staff"):  # the receiving side, the member's
        refused = api("POST", path, person, json={"enterprise_credit_code": OTHER})
        assert refused.status_code == 403, refused.text
    moved = api("POST", path, "street_staff", json={"enterprise_credit_code": OTHER})
    assert moved.status_code == 200, moved.text
    assert moved.json()["union_code"] == GANGTOU


def pages_of(api, path, person, key) -> list[list]:
    """The ``key`` of every item on every page of ``path`` (2 a page), cursor by cursor."""
    pages, cursor = [], None
    while True:
        page = api("GET", f"{path}&limit=2" + (f"&cursor={cursor}" if cursor else ""), person)
        assert page.status_code == 200, page.text
        assert set(page.json()) == {"items", "next_cursor"}
        pages.append([item[key] for item in page.json()["items"]])
        cursor = page.json()["next_cursor"]
        if cursor is None:
            return pages
        assert len(pages) < 10, "the cursor does not move forward"


def test_staff_page_through_every_service_request_and_member_once(make_api, db_url):
    api = make_api(db_url)
    members = [admitted(api, seq) for seq in (4, 6, 7)]
    worker = members[0]["worker_id"]
    submitted = []
    for number in range(5):
        answer = api("POST", "/service-requests", "nankeng_staff", json={
            "worker_id": worker, "kind": "hardship_aid", "summary": f"第{number}件"})
        assert answer.status_code == 201, answer.text
        submitted.append(answer.json()["request_id"])

    assert pages_of(api, f"/service-requests?code={NANKENG}", "nankeng_viewer",
                    "request_id") == [submitted[0:2], submitted[2:4], submitted[4:5]]
    ids = [member["membership_id"] for member in members]
    assert pages_of(api, f"/members?code={NANKENG}", "nankeng_viewer", "membership_id") == [
        ids[0:2], ids[2:3]]
    # without a limit, the default page (100) holds them all and is the last
    whole = api("GET", f"/service-requests?code={NANKENG}", "nankeng_viewer").json()
    assert ([item["request_id"] for item in whole["items"]], whole["next_cursor"]) == (
        submitted, None)
    listed = api("GET", f"/members?code={NANKENG}", "nankeng_viewer").json()["items"][0]
    assert "name" not in listed  # personal data: one member's record has it, a list not
    assert datetime.fromisoformat(listed["applied_at"]).tzinfo is not None  # with an offset


def test_card_checks_past_the_limit_are_a_429_and_another_caller_is_counted_apart(
        make_api, db_url):
    api = make_api(db_url, MEMBERSHIP_RATE_LIMITS={"card_check": (3, 3600)})
    card = admitted(api, 5)["card"]["number"]
    merchant = api("POST", "/merchants", "nankeng_staff", json={
        "name": "南坑书店", "organization_code": NANKENG,
        "rule": {"kind": "percent_off", "percent_off": 10}}).json()["merchant_id"]

    def check(person):
        return api("POST", "/cards/check", person, json={"card_number": card})

    def purchase(person):
        return api("POST", f"/merchants/{merchant}/purchase-checks", person,
                   json={"card_number": card, "price_fen": 1000})

    # a purchase check tells as much about the card, so it counts against the same limit
    assert [check("nankeng_viewer").json(), purchase("nankeng_viewer").status_code,
            check("nankeng_viewer").json()] == [{"card": "valid"}, 200, {"card": "valid"}]
    for over in (check("nankeng_viewer"), purchase("nankeng_viewer")):
        assert over.status_code == 429, over.text
        error = problem(over)
        assert error["code"] == "TOO_MANY_REQUESTS"
        assert "at most 3 per 1 h" in error["detail"]
        assert error["scope"] == "caller"
        # the first check leaves the hour-long window in just under an hour
        assert over.headers["Retry-After"] == str(error["retry_after"])
        assert 3500 < int(over.headers["Retry-After"]) <= 3601
        assert card not in over.text
    assert check("nankeng_staff").json() == {"card": "valid"}  # another user, other counts
    assert check(None).status_code == 401
