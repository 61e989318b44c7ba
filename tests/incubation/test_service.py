"""The incubation service on the real broker: its RPC API (contract in, contract out,
errors as the kit's types), its events on ``incubation.events``, the registry's and
membership's events it consumes, and its timer (SQLite and PostgreSQL)."""

from datetime import timedelta

import pytest

from services.incubation.service import IncubationService
from shared.errors import Conflict, Forbidden, InvalidInput, NotFound
from shared.events import parse_envelope
from shared.testing import call, eventually, publish_events
from shared.timeutil import now_utc
from tests.incubation.conftest import (
    DISTRICT,
    FACTORY,
    HUB_STAFF,
    LONGCHENG_STAFF,
    NANKENG,
    ORGANIZATIONS,
    PLAN,
    member_event,
    social_credit_code,
)

STAFF = HUB_STAFF.as_dict()


def new_organization(**extra):
    return {"name": "龙岗区彩虹职工法律服务中心", "service_kind": "legal_aid",
            "home_code": NANKENG, "contacts": [{"name": "李晓红", "phone": "0755-28900001"}],
            **extra}


def scores(value):
    return {name: value for name in ("basic_conditions", "internal_governance",
                                     "work_performance", "social_evaluation")}


@pytest.fixture
def incubation(running_incubation, db_url):
    return running_incubation(db_url)


def test_the_rpc_api_takes_an_organization_from_application_to_a_grade(incubation):
    created = call(incubation, "add_organization", new_organization(), STAFF)
    assert (created["stage"], created["account_code"]) == ("applied", f"so:{created['id']}")
    assert created["created_at"].endswith("+00:00")
    call(incubation, "change_stage", created["id"], {"stage": "admitted", "reason": "评审通过"},
         STAFF)
    plan = {**PLAN, "milestones": [{**PLAN["milestones"][0], "due_on": "2030-06-30"}]}
    incubating = call(incubation, "change_stage", created["id"],
                      {"stage": "incubating", "reason": "签订孵化协议", "plan": plan}, STAFF)
    assert incubating["plan"]["milestones"][0]["due_on"] == "2030-06-30"
    assert [c["to_stage"] for c in incubating["history"]] == ["applied", "admitted",
                                                             "incubating"]
    graded = call(incubation, "record_assessment", created["id"], {
        "assessed_on": now_utc().date().isoformat(), "evaluator": "广东省社会组织评估中心",
        "assessors": [{"name": "专家组", "scores": scores(75)}]}, STAFF)
    assert (graded["grade"], graded["total"]) == ("3A", "75.00")
    listed = call(incubation, "list_organizations", {"code": DISTRICT, "grade": "3A"}, STAFF)
    assert [item["id"] for item in listed["items"]] == [created["id"]]
    assert listed["next_cursor"] is None
    policies = call(incubation, "policies", {"limit": 1})
    assert ([p["kind"] for p in policies["items"]], bool(policies["next_cursor"])) == (
        ["grading"], True)


def test_errors_reach_the_caller_as_the_kits_error_types(incubation):
    with pytest.raises(InvalidInput) as bad:
        call(incubation, "add_organization", {"name": "", "service_kind": "magic"}, STAFF)
    assert {"name", "service_kind", "home_code"} <= set(bad.value.details)
    with pytest.raises(InvalidInput):
        call(incubation, "add_organization", new_organization(), {"name": "nobody"})
    with pytest.raises(InvalidInput):
        call(incubation, "get_organization", "seventeen", STAFF)
    with pytest.raises(NotFound):
        call(incubation, "get_organization", 999, STAFF)
    created = call(incubation, "add_organization", new_organization(), STAFF)
    with pytest.raises(Forbidden):
        call(incubation, "get_organization", created["id"], LONGCHENG_STAFF.as_dict())
    with pytest.raises(Conflict) as skipped:
        call(incubation, "change_stage", created["id"], {"stage": "graduated",
                                                         "reason": "跳过"}, STAFF)
    assert skipped.value.details["stage"] == "applied"
    with pytest.raises(InvalidInput):
        call(incubation, "statistics", {"code": DISTRICT, "period": "last year"}, STAFF)
    for bad, field in (({"from": "2015-06-30", "to": "2015-03-01"}, "from"),
                       ({"from": "2015-02-30"}, "from"),
                       ({"period": "2015", "to": "2015-03-01"}, "period")):
        with pytest.raises(InvalidInput) as refused:
            call(incubation, "statistics", {"code": DISTRICT, **bad}, STAFF)
        assert field in refused.value.details
    ranged = call(incubation, "statistics", {"code": DISTRICT, "from": "2015-03-01"}, STAFF)
    assert ranged["period"] == "2015-03-01/.."
    with pytest.raises(InvalidInput):
        call(incubation, "add_organization",
             new_organization(credit_code="52440307MJL0000010"), STAFF)  # wrong check digit


def test_changes_come_out_on_the_broker_as_valid_envelopes(incubation, event_tap):
    events = event_tap("incubation")
    created = call(incubation, "add_organization",
                   new_organization(credit_code=social_credit_code(5)), STAFF)
    call(incubation, "change_stage", created["id"], {"stage": "admitted", "reason": "评审通过"},
         STAFF)
    bodies = events.take(2)
    assert [body["type"] for body in bodies] == ["organization_added",
                                                 "organization_stage_changed"]
    for body in bodies:
        parse_envelope(body, "incubation", body["type"])
    assert bodies[1]["data"]["incubation_deadline"]  # the period started
    assert events.drain() == []


def test_registry_events_keep_the_places_current(container_factory, service_config,
                                                 rabbit_config):
    incubation = container_factory(IncubationService, service_config)
    incubation.start()
    with pytest.raises(InvalidInput):
        call(incubation, "add_organization", new_organization(), STAFF)
    publish_events(rabbit_config["AMQP_URI"], "registry", "organization_registered",
                   *ORGANIZATIONS)

    def placed():
        try:
            return call(incubation, "add_organization", new_organization(), STAFF)
        except InvalidInput:
            return None

    created = eventually(placed)
    assert created["home"]["path"] == [DISTRICT, "longgang.bantian", NANKENG]
    call(incubation, "change_stage", created["id"], {"stage": "admitted", "reason": "评审通过"},
         STAFF)
    call(incubation, "report_activity", {
        "organization_id": created["id"], "kind": "legal_aid", "title": "劳动法律讲座",
        "held_on": now_utc().date().isoformat(), "place_code": NANKENG, "hours": "2",
        "participants": 40, "beneficiaries": [{"ref": "NK-1"}]}, STAFF)
    nankeng = next(item for item in ORGANIZATIONS if item["code"] == NANKENG)
    publish_events(rabbit_config["AMQP_URI"], "registry", "organization_moved", {
        **nankeng, "parent_code": "longgang.longcheng", "from_parent_code": "longgang.bantian",
        "to_parent_code": "longgang.longcheng",
        "path": [DISTRICT, "longgang.longcheng", NANKENG]})
    eventually(lambda: call(incubation, "get_organization", created["id"], STAFF)["home"][
        "path"][1] == "longgang.longcheng")
    # the community's kept statistics moved with it
    longcheng = call(incubation, "statistics", {"code": "longgang.longcheng"}, STAFF)
    assert (longcheng["activities"]["participants"],
            longcheng["activities"]["workers_reached"]) == (40, 1)
    bantian = call(incubation, "statistics", {"code": "longgang.bantian"}, STAFF)
    assert bantian["activities"]["activities"] == 0


def test_members_from_membership_are_linked_as_beneficiaries(incubation, rabbit_config):
    created = call(incubation, "add_organization", new_organization(), STAFF)
    call(incubation, "change_stage", created["id"], {"stage": "admitted", "reason": "评审通过"},
         STAFF)
    report = {"organization_id": created["id"], "kind": "legal_aid", "title": "劳动法律讲座",
              "held_on": now_utc().date().isoformat(), "place_code": FACTORY, "hours": "2",
              "participants": 40, "beneficiaries": [{"worker_id": 1043}, {"ref": "NK-1"}]}
    with pytest.raises(InvalidInput):
        call(incubation, "report_activity", report, STAFF)
    publish_events(rabbit_config["AMQP_URI"], "membership", "membership_approved",
                   member_event(1043))

    def reported():
        try:
            return call(incubation, "report_activity", report, STAFF)
        except InvalidInput:
            return None

    activity = eventually(reported)
    assert (activity["beneficiaries"], activity["members"]) == (2, 1)
    figures = call(incubation, "statistics", {"code": NANKENG}, STAFF)
    assert figures["activities"]["workers_reached"] == 2


def test_members_of_membership_s_bulk_import_are_linked_as_beneficiaries(incubation, rabbit_config):
    created = call(incubation, "add_organization", new_organization(), STAFF)
    call(incubation, "change_stage", created["id"], {"stage": "admitted", "reason": "评审通过"},
         STAFF)
    batch = {"import_id": 1, "batch": 1, "enterprises": {FACTORY: {
        "union_code": NANKENG, "organization_path": [DISTRICT, "longgang.bantian", NANKENG],
        "members": [[2001, 9001], [2002, 9002]]}}}
    publish_events(rabbit_config["AMQP_URI"], "membership", "member_batch_imported", batch)
    report = {"organization_id": created["id"], "kind": "legal_aid", "title": "劳动法律讲座",
              "held_on": now_utc().date().isoformat(), "place_code": FACTORY, "hours": "2",
              "participants": 40, "beneficiaries": [{"worker_id": 2001}, {"worker_id": 2002}]}

    def reported():
        try:
            return call(incubation, "report_activity", report, STAFF)
        except InvalidInput:
            return None

    assert eventually(reported)["members"] == 2
    figures = call(incubation, "statistics", {"code": NANKENG}, STAFF)
    assert figures["activities"]["workers_reached"] == 2


def test_a_members_service_request_from_membership_can_be_referred(incubation, rabbit_config):
    publish_events(rabbit_config["AMQP_URI"], "membership", "service_request_submitted", {
        "request_id": 8, "worker_id": 70, "kind": "legal_consultation", "status": "submitted",
        "handling_organization_code": NANKENG})
    created = call(incubation, "add_organization", new_organization(), STAFF)
    for stage in ("admitted", "incubating"):
        call(incubation, "change_stage", created["id"], {
            "stage": stage, "reason": "按规定办理",
            "plan": {**PLAN, "milestones": [{"title": "登记", "due_on": "2030-01-01"}]}},
            STAFF)
    found = eventually(lambda: _candidates(incubation))
    assert [item["organization_id"] for item in found["candidates"]] == [created["id"]]
    referral = call(incubation, "refer_request", 8, {"organization_id": created["id"]}, STAFF)
    assert referral["status"] == "referred"


def _candidates(incubation):
    try:
        return call(incubation, "referral_candidates", 8, STAFF)
    except NotFound:
        return None


def test_the_timer_raises_the_deadline_reminder_once(incubation, event_tap):
    created = call(incubation, "add_organization", new_organization(), STAFF)
    soon = (now_utc() + timedelta(days=10)).date().isoformat()
    call(incubation, "change_stage", created["id"], {
        "stage": "admitted", "reason": "评审通过", "incubation_deadline": soon}, STAFF)
    events = event_tap("incubation")
    call(incubation, "watch_deadlines")
    call(incubation, "watch_deadlines")
    # The admission's own stage_changed may still be on its way from the outbox: look past it.
    seen = events.take(3, timeout=3)
    [reminder] = [body for body in seen if body["type"].startswith("incubation_")]
    assert (reminder["type"], reminder["data"]["incubation_deadline"]) == (
        "incubation_deadline_approaching", soon)
    assert not [body for body in events.take(1, timeout=0.5)
                if body["type"].startswith("incubation_")]
