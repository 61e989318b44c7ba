"""Organizations and their stages, against a real database (SQLite and PostgreSQL)."""

from datetime import timedelta

import pytest

from services.incubation import operations, views
from services.incubation.models import organizations
from shared.errors import Conflict, Forbidden, InvalidInput
from shared.testing import outbox_envelopes
from tests.incubation.conftest import (
    BANTIAN,
    BANTIAN_STAFF,
    FACTORY,
    GANGTOU,
    HUB_STAFF,
    LONGCHENG_STAFF,
    NANKENG,
    PLAN,
    ZHANGBEI,
    activity,
    application,
    assessment,
    graded,
    in_days,
    incubating,
    outbox,
    own_account,
    read,
    social_credit_code,
    today,
    transition,
    write,
)


def test_an_application_is_placed_at_its_home_and_serves_its_places(db):
    created = write(db, operations.add_organization,
                    application(places=[GANGTOU, FACTORY.lower()]), BANTIAN_STAFF)
    assert created["stage"] == "applied"
    assert created["home"] == {"code": NANKENG, "path": ["longgang", BANTIAN, NANKENG]}
    assert created["places"] == [NANKENG, GANGTOU, FACTORY]
    assert created["account_code"] == f"so:{created['id']}"
    assert [change["to_stage"] for change in created["history"]] == ["applied"]
    [(kind, data)] = outbox(db)
    assert (kind, data["stage"], data["home_path"][-1]) == ("organization_added", "applied",
                                                            NANKENG)


def test_staff_outside_the_home_places_subtree_cannot_record_it(db):
    with pytest.raises(Forbidden):
        write(db, operations.add_organization, application(), LONGCHENG_STAFF)
    assert outbox(db) == []


def test_staff_make_an_organization_serve_places_of_their_own_subtree_only(db):
    with pytest.raises(Forbidden):
        write(db, operations.add_organization, application(places=[ZHANGBEI]), BANTIAN_STAFF)
    created = write(db, operations.add_organization, application(), BANTIAN_STAFF)
    with pytest.raises(Forbidden):
        write(db, operations.update_organization, created["id"],
              {"places": [GANGTOU, ZHANGBEI]}, BANTIAN_STAFF)
    served = write(db, operations.update_organization, created["id"],
                   {"places": [ZHANGBEI]}, HUB_STAFF)  # the district's staff may
    assert served["places"] == [NANKENG, ZHANGBEI]
    kept = write(db, operations.update_organization, created["id"],  # kept, not added
                 {"places": [ZHANGBEI, GANGTOU]}, BANTIAN_STAFF)
    assert kept["places"] == [NANKENG, ZHANGBEI, GANGTOU]


def test_a_home_or_place_the_registry_does_not_know_is_a_400_naming_the_field(db):
    with pytest.raises(InvalidInput) as unknown:
        write(db, operations.add_organization, application(home="longgang.nowhere"),
              HUB_STAFF)
    assert "home_code" in unknown.value.details
    with pytest.raises(InvalidInput) as place:
        write(db, operations.add_organization, application(places=["longgang.nowhere"]),
              HUB_STAFF)
    assert "places" in place.value.details


def test_names_credit_codes_and_the_hub_are_unique(db):
    write(db, operations.add_organization, application(credit_code=social_credit_code(1)),
          HUB_STAFF)
    with pytest.raises(Conflict):
        write(db, operations.add_organization, application(), HUB_STAFF)
    with pytest.raises(Conflict):
        write(db, operations.add_organization,
              application(name="另一家", credit_code=social_credit_code(1)), HUB_STAFF)
    hub = write(db, operations.add_organization, application(name="联合会", hub=True,
                                                             home="longgang"), HUB_STAFF)
    assert (hub["stage"], hub["history"]) == (None, [])
    with pytest.raises(Conflict, match="hub"):
        write(db, operations.add_organization, application(name="第二个", hub=True), HUB_STAFF)


def test_each_stage_change_keeps_its_reason_actor_and_day(db):
    created = write(db, operations.add_organization,
                    application(applied_on=today() - timedelta(days=40)), HUB_STAFF)
    admitted_on = today() - timedelta(days=30)
    write(db, operations.change_stage, created["id"],
          transition("admitted", "评审通过", effective_on=admitted_on), HUB_STAFF)
    after = write(db, operations.change_stage, created["id"],
                  transition("incubating", "签订孵化协议", plan=PLAN), BANTIAN_STAFF)
    assert after["plan"]["mentor"] == "陈导师"
    assert after["incubation_deadline"] == admitted_on.replace(year=admitted_on.year + 2)
    history = [(c["from_stage"], c["to_stage"], c["reason"], c["actor"])
               for c in after["history"]]
    assert history == [(None, "applied", "申请入驻孵化", HUB_STAFF.name),
                       ("applied", "admitted", "评审通过", HUB_STAFF.name),
                       ("admitted", "incubating", "签订孵化协议", BANTIAN_STAFF.name)]
    changed = [data for kind, data in outbox(db) if kind == "organization_stage_changed"]
    assert [(c["from_stage"], c["stage"], c["actor"]) for c in changed] == [
        ("applied", "admitted", HUB_STAFF.name), ("admitted", "incubating",
                                                  BANTIAN_STAFF.name)]


def test_a_skipped_stage_a_missing_plan_and_a_date_out_of_order_are_refused(db):
    created = write(db, operations.add_organization, application(), HUB_STAFF)
    with pytest.raises(Conflict, match="next: admitted"):
        write(db, operations.change_stage, created["id"], transition("graduated"), HUB_STAFF)
    write(db, operations.change_stage, created["id"], transition("admitted"), HUB_STAFF)
    with pytest.raises(InvalidInput) as no_plan:
        write(db, operations.change_stage, created["id"], transition("incubating"), HUB_STAFF)
    assert "plan" in no_plan.value.details
    with pytest.raises(InvalidInput):
        write(db, operations.change_stage, created["id"],
              transition("incubating", plan=PLAN, effective_on=in_days(1)), HUB_STAFF)
    with pytest.raises(InvalidInput):
        write(db, operations.change_stage, created["id"],
              transition("incubating", plan=PLAN, effective_on=today() - timedelta(days=3)),
              HUB_STAFF)


def test_an_organization_is_assessed_only_once_it_holds_a_valid_grade(db):
    organization = incubating(db)
    with pytest.raises(Conflict) as refused:
        write(db, operations.change_stage, organization["id"], transition("assessed"),
              HUB_STAFF)
    assert refused.value.details["rule"] == "assessed.grade"
    write(db, operations.record_assessment, organization["id"], assessment(75), HUB_STAFF)
    assert write(db, operations.change_stage, organization["id"], transition("assessed"),
                 HUB_STAFF)["stage"] == "assessed"


def test_graduation_is_refused_naming_the_rule_until_its_conditions_hold(db):
    organization = graded(db, 75, registered=False)
    write(db, operations.change_stage, organization["id"], transition("assessed"), HUB_STAFF)
    graduate = transition("graduated", "达到出壳条件")

    def refusal():
        with pytest.raises(Conflict) as refused:
            write(db, operations.change_stage, organization["id"], graduate, HUB_STAFF)
        return refused.value.details

    assert refusal() == {"rule": "graduation.registered", "requires": True, "holds": False,
                         "policy_version": 1}
    write(db, operations.update_organization, organization["id"],
          {"credit_code": social_credit_code(7)}, HUB_STAFF)
    assert refusal()["rule"] == "graduation.min_activities"
    write(db, operations.report_activities, [activity(organization["id"])] * 6, HUB_STAFF)
    graduated = write(db, operations.change_stage, organization["id"], graduate, HUB_STAFF)
    assert graduated["stage"] == "graduated" and graduated["activities"] == 6


def test_a_2a_organization_does_not_graduate(db):
    organization = graded(db, 65)
    assert organization["grade"]["grade"] == "2A"
    write(db, operations.change_stage, organization["id"], transition("assessed"), HUB_STAFF)
    with pytest.raises(Conflict) as refused:
        write(db, operations.change_stage, organization["id"], transition("graduated"),
              HUB_STAFF)
    assert (refused.value.details["rule"], refused.value.details["holds"]) == (
        "graduation.min_grade", "2A")


def test_the_reminder_is_raised_once_before_the_deadline_and_once_when_it_passes(db):
    created = write(db, operations.add_organization, application(), HUB_STAFF)
    write(db, operations.change_stage, created["id"],
          transition("admitted", incubation_deadline=in_days(45)), HUB_STAFF)
    assert write(db, operations.remind_deadlines, today()) == 0
    assert write(db, operations.remind_deadlines, in_days(20)) == 1
    assert write(db, operations.remind_deadlines, in_days(21)) == 0
    assert write(db, operations.remind_deadlines, in_days(46)) == 1
    assert write(db, operations.remind_deadlines, in_days(47)) == 0
    raised = [(kind, data["days_left"]) for kind, data in outbox(db)
              if kind.startswith("incubation_deadline")]
    assert raised == [("incubation_deadline_approaching", 25),
                      ("incubation_deadline_passed", -1)]


def test_no_reminder_for_a_graduated_or_exited_organization(db):
    created = write(db, operations.add_organization, application(), HUB_STAFF)
    write(db, operations.change_stage, created["id"],
          transition("admitted", incubation_deadline=in_days(10)), HUB_STAFF)
    write(db, operations.change_stage, created["id"], transition("exited", "主动退出"),
          HUB_STAFF)
    assert write(db, operations.remind_deadlines, in_days(5)) == 0


def test_registration_and_changes_publish_what_changed(db):
    created = write(db, operations.add_organization, application(), HUB_STAFF)
    same = write(db, operations.update_organization, created["id"],
                 {"places": [NANKENG]}, HUB_STAFF)
    assert same["places"] == [NANKENG]
    updated = write(db, operations.update_organization, created["id"], {
        "credit_code": social_credit_code(3), "places": [GANGTOU]}, HUB_STAFF)
    assert updated["credit_code"] == social_credit_code(3)
    assert updated["registered_on"] == today()
    assert updated["places"] == [NANKENG, GANGTOU]  # the home place always serves
    [changed] = [data for kind, data in outbox(db) if kind == "organization_updated"]
    assert changed["changed"] == ["credit_code", "places", "registered_on"]


def test_an_organizations_own_account_reads_its_record_but_not_another_or_its_stage(db):
    mine = write(db, operations.add_organization, application(), HUB_STAFF)
    other = write(db, operations.add_organization, application(name="别家"), HUB_STAFF)
    account = own_account(mine["id"])
    assert read(db, views.get_organization, mine["id"], account)["id"] == mine["id"]
    with pytest.raises(Forbidden):
        read(db, views.get_organization, other["id"], account)
    with pytest.raises(Forbidden):
        write(db, operations.change_stage, mine["id"], transition("admitted"), account)
    with pytest.raises(Forbidden):
        read(db, views.list_organizations, {"code": "longgang", "stage": None, "grade": None,
                                            "cursor": None, "limit": 10}, account)


def test_staff_list_the_organizations_of_their_subtree_a_page_at_a_time(db):
    for number in range(5):
        write(db, operations.add_organization, application(name=f"机构{number}"), HUB_STAFF)
    write(db, operations.add_organization, application(name="嶂背机构",
                                                       home="longgang.longcheng.zhangbei"),
          HUB_STAFF)
    query = {"code": BANTIAN, "stage": None, "grade": None, "cursor": None, "limit": 2}
    seen = []
    while True:
        page = read(db, views.list_organizations, query, BANTIAN_STAFF)
        seen += [item["name"] for item in page["items"]]
        if page["next_cursor"] is None:
            break
        query["cursor"] = page["next_cursor"]
    assert seen == [f"机构{number}" for number in range(5)]
    query = {"code": BANTIAN, "stage": None, "grade": None, "cursor": "!!", "limit": 2}
    with pytest.raises(InvalidInput):
        read(db, views.list_organizations, query, BANTIAN_STAFF)


def test_rolling_back_a_refused_change_leaves_no_row_and_no_event(db):
    created = write(db, operations.add_organization, application(), HUB_STAFF)
    before = len(outbox_envelopes(db))
    with pytest.raises(Conflict):
        write(db, operations.change_stage, created["id"], transition("graduated"), HUB_STAFF)
    assert len(outbox_envelopes(db)) == before
    with db.session() as session:
        assert session.execute(organizations.select()).first().stage == "applied"
