"""Grading 1A-5A: computed from the policy, recorded with how, valid for a period, then
lapsing; grades gate what an organization may do."""

from datetime import timedelta
from decimal import Decimal

import pytest

from services.incubation import operations, views
from shared.errors import Conflict, Forbidden, InvalidInput
from tests.incubation.conftest import (
    BANTIAN,
    HUB_STAFF,
    LONGCHENG_STAFF,
    assessment,
    graded,
    incubating,
    outbox,
    own_account,
    read,
    scores,
    social_credit_code,
    today,
    write,
)


def contract(organization_id):
    return {"organization_id": organization_id, "buyer_code": BANTIAN,
            "service": "坂田街道职工法律援助服务", "amount": Decimal("120000.00"),
            "starts_on": today(), "ends_on": today() + timedelta(days=365),
            "deliverables": [{"title": "每季度法律讲座3场",
                              "due_on": today() + timedelta(days=90)}]}


def test_an_assessment_records_the_grade_the_policy_computes_and_how(db):
    organization = incubating(db)
    recorded = write(db, operations.record_assessment, organization["id"], {
        "assessed_on": today(), "evaluator": "广东省社会组织评估中心",
        "assessors": [{"name": "专家甲", "scores": scores(84)},
                      {"name": "专家乙", "scores": scores(80)}]}, HUB_STAFF)
    assert (recorded["total"], recorded["grade"], recorded["band_min"]) == ("82.00", "4A",
                                                                           "80")
    assert recorded["policy_version"] == 1
    assert recorded["valid_until"] == today().replace(year=today().year + 5)
    assert [item["indicator"] for item in recorded["breakdown"]] == [
        "basic_conditions", "internal_governance", "work_performance", "social_evaluation"]
    assert recorded["assessors"][1] == {"name": "专家乙",
                                        "scores": {k: "80" for k in scores(80)}}
    holder = read(db, views.get_organization, organization["id"], HUB_STAFF)
    assert holder["grade"] == {"grade": "4A", "valid_until": recorded["valid_until"],
                               "assessment_id": recorded["id"]}
    [graded_event] = [data for kind, data in outbox(db) if kind == "organization_graded"]
    assert (graded_event["grade"], graded_event["total"]) == ("4A", "82.00")


def test_a_total_below_the_lowest_band_is_recorded_without_a_grade(db):
    organization = incubating(db)
    recorded = write(db, operations.record_assessment, organization["id"], assessment(40),
                     HUB_STAFF)
    assert (recorded["grade"], recorded["band_min"]) == (None, None)
    assert read(db, views.get_organization, organization["id"], HUB_STAFF)["grade"] is None


def test_scores_that_miss_an_indicator_or_the_scale_are_a_400(db):
    organization = incubating(db)
    bad = assessment(80)
    del bad["assessors"][0]["scores"]["social_evaluation"]
    with pytest.raises(InvalidInput) as rejected:
        write(db, operations.record_assessment, organization["id"], bad, HUB_STAFF)
    assert "social_evaluation" in str(rejected.value.details["assessors"])
    with pytest.raises(InvalidInput):
        write(db, operations.record_assessment, organization["id"],
              assessment(80, assessed_on=today() + timedelta(days=1)), HUB_STAFF)


def test_an_older_assessment_entered_late_keeps_the_current_grade(db):
    organization = graded(db, 85)
    write(db, operations.record_assessment, organization["id"],
          assessment(62, assessed_on=today() - timedelta(days=400)), HUB_STAFF)
    holder = read(db, views.get_organization, organization["id"], HUB_STAFF)
    assert holder["grade"]["grade"] == "4A"
    page = read(db, views.list_assessments, organization["id"],
                {"cursor": None, "limit": 10}, HUB_STAFF)
    assert [item["grade"] for item in page["items"]] == ["2A", "4A"]  # newest recorded first


def test_a_grade_lapses_after_its_validity_unless_reassessed(db):
    organization = incubating(db)
    write(db, operations.update_organization, organization["id"],
          {"credit_code": social_credit_code(organization["id"])}, HUB_STAFF)
    old = today() - timedelta(days=5 * 365 + 1)
    write(db, operations.record_assessment, organization["id"], assessment(85, old),
          HUB_STAFF)
    # before the timer runs, the grade already reads as none: in the organization's
    # view, in a list by grade, in the statistics and at a gate
    holder = read(db, views.get_organization, organization["id"], HUB_STAFF)
    assert holder["grade"] is None
    by_grade = read(db, views.list_organizations, {
        "code": BANTIAN, "stage": None, "grade": "4A", "cursor": None, "limit": 10},
        HUB_STAFF)
    assert by_grade["items"] == []
    assert read(db, views.statistics, BANTIAN, "all", HUB_STAFF)[
        "organizations"]["by_grade"] == {}
    with pytest.raises(Conflict) as refused:
        write(db, operations.sign_contract, contract(organization["id"]), HUB_STAFF)
    assert refused.value.details["holds"] is None  # no valid grade
    assert write(db, operations.lapse_grades, today()) == 1
    assert write(db, operations.lapse_grades, today()) == 0
    assert read(db, views.get_organization, organization["id"], HUB_STAFF)["grade"] is None
    [lapsed] = [data for kind, data in outbox(db) if kind == "grade_lapsed"]
    assert (lapsed["organization_id"], lapsed["grade"]) == (organization["id"], "4A")


def test_a_purchased_service_contract_needs_3a_and_the_refusal_names_the_rule(db):
    weak = graded(db, 65, name="二级机构")
    with pytest.raises(Conflict) as refused:
        write(db, operations.sign_contract, contract(weak["id"]), HUB_STAFF)
    assert refused.value.details == {"rule": "gates.purchased_service.min_grade",
                                     "requires": "3A", "holds": "2A", "policy_version": 1}
    assert "gates.purchased_service.min_grade" in str(refused.value)
    unregistered = graded(db, 85, registered=False, name="未登记机构")
    with pytest.raises(Conflict) as unregistered_refusal:
        write(db, operations.sign_contract, contract(unregistered["id"]), HUB_STAFF)
    assert unregistered_refusal.value.details["rule"] == "gates.purchased_service.registered"


def test_a_contract_is_signed_by_the_buyer_and_completed_when_every_deliverable_is_accepted(db):
    strong = graded(db, 78)
    signed = write(db, operations.sign_contract, {
        **contract(strong["id"]), "deliverables": [
            {"title": "法律讲座", "due_on": today() + timedelta(days=90)},
            {"title": "年度服务报告", "due_on": today() + timedelta(days=360)}]}, HUB_STAFF)
    assert (signed["status"], signed["amount"], signed["policy_version"]) == (
        "active", Decimal("120000.00"), 1)
    with pytest.raises(Forbidden):
        write(db, operations.accept_deliverable, signed["id"], {"number": 1, "note": None},
              LONGCHENG_STAFF)
    with pytest.raises(Forbidden):
        write(db, operations.accept_deliverable, signed["id"], {"number": 1, "note": None},
              own_account(strong["id"]))
    first = write(db, operations.accept_deliverable, signed["id"],
                  {"number": 1, "note": "验收合格"}, HUB_STAFF)
    assert first["status"] == "active" and first["deliverables"][0]["accepted_by"]
    with pytest.raises(Conflict):
        write(db, operations.accept_deliverable, signed["id"], {"number": 1, "note": None},
              HUB_STAFF)
    done = write(db, operations.accept_deliverable, signed["id"], {"number": 2, "note": None},
                 HUB_STAFF)
    assert done["status"] == "completed"
    events = [(kind, data.get("contract_completed")) for kind, data in outbox(db)
              if kind in ("contract_signed", "deliverable_accepted")]
    assert events == [("contract_signed", None), ("deliverable_accepted", False),
                      ("deliverable_accepted", True)]
    mine = read(db, views.list_contracts, {"organization_id": strong["id"], "cursor": None,
                                           "limit": 10}, own_account(strong["id"]))
    assert [item["id"] for item in mine["items"]] == [signed["id"]]
