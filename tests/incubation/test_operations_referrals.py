"""Members' service requests referred to a qualified organization serving the member's
place and the request's kind; the organization serves or declines."""

import json
from datetime import UTC, datetime

import pytest

from services.incubation import operations, readmodel, views
from shared.errors import Conflict, Forbidden, NotFound
from shared.testing import outbox_envelopes
from tests.incubation.conftest import (
    BANTIAN_STAFF,
    GANGTOU,
    HUB_STAFF,
    LONGCHENG_STAFF,
    ZHANGBEI,
    application,
    incubating,
    member_event,
    outbox,
    own_account,
    read,
    write,
)


def request(db, request_id=8, kind="legal_consultation", status="submitted", worker_id=70):
    with db.unit_of_work() as uow:
        readmodel.memberships.apply_membership(uow.session, member_event(worker_id), None)
        readmodel.apply_service_request(uow.session, {
            "request_id": request_id, "worker_id": worker_id, "kind": kind, "status": status,
            "handling_organization_code": "longgang.bantian.nankeng"},
            datetime.now(UTC))


def refer(db, request_id, organization_id, caller=BANTIAN_STAFF):
    return write(db, operations.refer_request, request_id,
                 {"organization_id": organization_id, "note": "工伤赔偿咨询"}, caller)


def test_candidates_are_of_the_right_kind_serving_the_members_place_and_qualified(db):
    request(db)
    lawyers = incubating(db, name="法律服务中心")
    incubating(db, name="心理驿站", kind="counselling")
    incubating(db, name="嶂背法律站", home=ZHANGBEI)
    write(db, operations.add_organization, application(name="刚申请的法律站"), HUB_STAFF)
    found = read(db, views.referral_candidates, 8, BANTIAN_STAFF)
    assert found["service_kinds"] == ["legal_aid"]
    assert found["place"][-1] == "91440300MA5DA0001X"
    assert [item["organization_id"] for item in found["candidates"]] == [lawyers["id"]]
    with pytest.raises(Forbidden):
        read(db, views.referral_candidates, 8, LONGCHENG_STAFF)
    with pytest.raises(NotFound):
        read(db, views.referral_candidates, 9, BANTIAN_STAFF)


def test_a_referral_travels_as_an_event_and_the_organization_concludes_it(db):
    request(db)
    lawyers = incubating(db, name="法律服务中心")
    referral = refer(db, 8, lawyers["id"])
    assert (referral["status"], referral["organization_name"]) == ("referred", "法律服务中心")
    with pytest.raises(Conflict):
        refer(db, 8, lawyers["id"])  # one open referral per request
    account = own_account(lawyers["id"])
    assert read(db, views.get_referral, referral["id"], account)["request_id"] == 8
    with pytest.raises(Forbidden):
        write(db, operations.conclude_referral, referral["id"],
              {"outcome": "served", "note": None}, own_account(lawyers["id"] + 1))
    served = write(db, operations.conclude_referral, referral["id"],
                   {"outcome": "served", "note": "已安排律师面谈"}, account)
    assert (served["status"], served["concluded_by"]) == ("served", account.name)
    with pytest.raises(Conflict):
        write(db, operations.conclude_referral, referral["id"],
              {"outcome": "declined", "note": None}, account)
    events = [(kind, data["request_id"], data.get("outcome")) for kind, data in outbox(db)
              if kind in ("request_referred", "referral_concluded")]
    assert events == [("request_referred", 8, None), ("referral_concluded", 8, "served")]
    page = read(db, views.list_referrals, {"organization_id": lawyers["id"], "cursor": None,
                                           "limit": 10}, account)
    assert [item["status"] for item in page["items"]] == ["served"]


def test_the_notes_on_a_members_request_stay_in_incubation_and_out_of_every_event(db):
    request(db)
    lawyers = incubating(db, name="法律服务中心")
    account = own_account(lawyers["id"])
    referral = write(db, operations.refer_request, 8,
                     {"organization_id": lawyers["id"], "note": "REFERRAL-NOTE-7Q 工伤"},
                     BANTIAN_STAFF)
    write(db, operations.conclude_referral, referral["id"],
          {"outcome": "served", "note": "OUTCOME-NOTE-9Z 律师"}, account)
    kept = read(db, views.get_referral, referral["id"], account)
    assert (kept["note"], kept["outcome_note"]) == ("REFERRAL-NOTE-7Q 工伤",
                                                    "OUTCOME-NOTE-9Z 律师")
    envelopes = outbox_envelopes(db)
    assert {"request_referred", "referral_concluded"} <= {body["type"] for body in envelopes}
    for body in envelopes:
        text = json.dumps(body, ensure_ascii=False, default=str)
        assert "NOTE-7Q" not in text and "NOTE-9Z" not in text, body["type"]
        assert "note" not in body["data"] and "outcome_note" not in body["data"]


def test_a_referral_outside_the_rules_is_refused_naming_the_rule(db):
    request(db)
    counsellors = incubating(db, name="心理驿站", kind="counselling")
    elsewhere = incubating(db, name="嶂背法律站", home=ZHANGBEI)
    applied = write(db, operations.add_organization, application(name="刚申请的法律站"),
                    HUB_STAFF)
    rules = {}
    for organization in (counsellors, elsewhere, applied):
        with pytest.raises(Conflict) as refused:
            refer(db, 8, organization["id"])
        rules[organization["name"]] = refused.value.details["rule"]
    assert rules == {"心理驿站": "referral_kinds.legal_consultation",
                     "嶂背法律站": "referral.place",
                     "刚申请的法律站": "gates.referral.stages"}


def test_a_closed_request_is_not_referred_and_staff_elsewhere_cannot_refer(db):
    request(db, request_id=8, status="resolved")
    request(db, request_id=9, worker_id=71)
    lawyers = incubating(db, name="法律服务中心", places=[GANGTOU])
    with pytest.raises(Conflict):
        refer(db, 8, lawyers["id"])
    with pytest.raises(Forbidden):
        refer(db, 9, lawyers["id"], LONGCHENG_STAFF)
