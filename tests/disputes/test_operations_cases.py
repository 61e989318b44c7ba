"""Cases: the standard process (reported -> verified | rejected -> handling -> resolved ->
closed), visits that feed their grading, and the list of them."""

from datetime import timedelta

import pytest

from services.disputes import operations, views
from shared.api import disputes as contract
from shared.errors import Conflict, Forbidden, InvalidInput, NotFound
from shared.schemas import load
from tests.disputes.conftest import (
    BANTIAN_VIEWER,
    DISTRICT_ADMIN,
    FACTORY,
    NANKENG,
    ZB_FACTORY,
    ZHANGBEI_STAFF,
    at,
    file_report,
    move,
    published,
    step_data,
    view,
    walk,
)

T0 = at(2025, 3, 1, 2)


def test_a_case_goes_through_the_standard_process_with_an_event_and_a_line_each(database):
    case_id = file_report(database, T0)["case_id"]
    move(database, case_id, "verified", T0 + timedelta(hours=1), note="走访核实属实")
    move(database, case_id, "handling", T0 + timedelta(hours=2), handled_by_tier="street",
         joint=True, departments=["区人力资源局", "街道劳动办"])
    move(database, case_id, "resolved", T0 + timedelta(days=3), wages_recovered="80000",
         workers_covered=12)
    final = move(database, case_id, "closed", T0 + timedelta(days=4), note="复盘：资金链断裂")
    assert final["status"] == "closed"
    assert (final["handled_by_tier"], final["joint"]) == ("street", True)
    assert (final["wages_recovered"], final["workers_covered"]) == ("80000.00", 12)
    steps = [(line["detail"]["previous_status"], line["detail"]["status"])
             for line in final["timeline"] if line["kind"] == "status"]
    assert steps == [("reported", "verified"), ("verified", "handling"),
                     ("handling", "resolved"), ("resolved", "closed")]
    events = [(e["data"]["previous_status"], e["data"]["status"], e["data"]["handled_by_tier"],
               e["data"]["joint"]) for e in published(database, "case_status_changed")]
    assert events == [("reported", "verified", None, None),
                      ("verified", "handling", "street", True),
                      ("handling", "resolved", "street", True),
                      ("resolved", "closed", "street", True)]


def test_a_rejected_case_is_finished_and_earns_nothing(sqlite_database):
    case_id = file_report(sqlite_database, T0)["case_id"]
    move(sqlite_database, case_id, "rejected", T0, reason="核实不属实")
    with pytest.raises(Conflict) as error:
        move(sqlite_database, case_id, "verified", T0)
    assert error.value.message == "a rejected case cannot become verified; it is finished"
    assert view(sqlite_database, case_id)["rewards"] == []


@pytest.mark.parametrize(("status", "steps_before"), [
    ("handling", []), ("resolved", ["verified"]), ("closed", ["verified"]),
    ("reported", ["verified"]),
])
def test_a_step_out_of_order_is_a_conflict_naming_the_next_steps(sqlite_database, status,
                                                                 steps_before):
    case_id = file_report(sqlite_database, T0)["case_id"]
    for step in steps_before:
        move(sqlite_database, case_id, step, T0)
    with pytest.raises((Conflict, InvalidInput)) as error:
        move(sqlite_database, case_id, status, T0, **{
            "handling": {"handled_by_tier": "street", "joint": False},
            "resolved": {"wages_recovered": "1", "workers_covered": 1},
            "closed": {"note": "x"}, "reported": {}}[status])
    assert error.value.status in (400, 409)


@pytest.mark.parametrize(("status", "data", "field"), [
    ("rejected", {}, "reason"),
    ("handling", {"joint": False}, "handled_by_tier"),
    ("handling", {"handled_by_tier": "province", "joint": False}, "handled_by_tier"),
    ("handling", {"handled_by_tier": "street", "joint": True}, "departments"),
    ("resolved", {"workers_covered": 3}, "wages_recovered"),
    ("closed", {}, "note"),
])
def test_each_step_asks_for_what_it_needs(status, data, field):
    with pytest.raises(InvalidInput) as error:
        step_data(status, data)
    assert field in error.value.details


def test_staff_of_another_community_cannot_touch_the_case_nor_learn_it_exists(
        sqlite_database):
    case_id = file_report(sqlite_database, T0)["case_id"]  # a 南坑 enterprise
    with pytest.raises(NotFound):
        move(sqlite_database, case_id, "verified", T0, actor=ZHANGBEI_STAFF)
    with sqlite_database.session() as session, pytest.raises(NotFound):
        views.case_view(session, case_id, ZHANGBEI_STAFF)
    with sqlite_database.session() as session:
        assert views.list_cases(session, ZHANGBEI_STAFF, {})["items"] == []
        assert [c["id"] for c in views.list_cases(session, BANTIAN_VIEWER, {})["items"]] == [
            case_id]


def test_a_viewer_reads_but_cannot_move_a_case(sqlite_database):
    case_id = file_report(sqlite_database, T0)["case_id"]
    assert view(sqlite_database, case_id, BANTIAN_VIEWER)["id"] == case_id
    with pytest.raises(Forbidden):
        move(sqlite_database, case_id, "verified", T0, actor=BANTIAN_VIEWER)


def test_verified_figures_can_raise_the_grade(sqlite_database):
    case_id = file_report(sqlite_database, T0, workers_affected=12)["case_id"]
    case = move(sqlite_database, case_id, "verified", T0, workers_affected=230,
                amount_owed="2100000")
    assert (case["grade"], case["grade_rule"]) == ("major", "major.workers_100")
    assert published(sqlite_database, "case_regraded")[0]["data"]["previous_grade"] == (
        "serious")


def visit(db, when, actor=ZHANGBEI_STAFF, **data):
    data = load(contract.VisitSchema(), {"credit_code": ZB_FACTORY, "kind": "visit",
                                                "irregular_practice": True,
                                                "findings": "未签劳动合同", **data})
    with db.unit_of_work() as uow:
        return operations.record_visit(uow, data, actor, when)


def test_a_visit_finding_irregular_practice_raises_the_grade_of_open_cases(sqlite_database):
    case_id = file_report(sqlite_database, T0, credit_code=ZB_FACTORY, workers_affected=4,
                          amount_owed="9000")["case_id"]
    assert view(sqlite_database, case_id)["grade"] == "routine"
    result = visit(sqlite_database, T0 + timedelta(days=1), kind="interview")
    assert result["cases"] == [case_id]
    case = view(sqlite_database, case_id)
    assert (case["grade"], case["grade_rule"]) == ("serious", "serious.irregular_visit")
    assert [line["kind"] for line in case["timeline"]] == ["opened", "visit", "regraded"]


def test_earlier_findings_and_disputes_grade_a_new_case(sqlite_database):
    visit(sqlite_database, T0 - timedelta(days=30), kind="visit")
    for days in (200, 100):
        old = file_report(sqlite_database, T0 - timedelta(days=days), credit_code=ZB_FACTORY,
                          workers_affected=2)["case_id"]
        move(sqlite_database, old, "verified", T0 - timedelta(days=days),
             actor=ZHANGBEI_STAFF)
    new = file_report(sqlite_database, T0, credit_code=ZB_FACTORY, category="other",
                      workers_affected=2)["case_id"]
    assert view(sqlite_database, new)["grade_rule"] == "urgent.prior_disputes"


def test_a_visit_to_another_community_is_forbidden_and_a_wrong_case_is_rejected(
        sqlite_database):
    case_id = file_report(sqlite_database, T0)["case_id"]  # 南坑
    with pytest.raises(Forbidden):
        visit(sqlite_database, T0, credit_code=FACTORY)
    with pytest.raises(InvalidInput) as error:
        visit(sqlite_database, T0, case_id=case_id, actor=DISTRICT_ADMIN)
    assert error.value.details == {"case_id": ["not a case of this enterprise"]}


def test_the_grade_is_never_lowered_by_smaller_figures(sqlite_database):
    case_id = file_report(sqlite_database, T0, workers_affected=150)["case_id"]
    file_report(sqlite_database, T0 + timedelta(days=1), workers_affected=2)
    case = move(sqlite_database, case_id, "verified", T0, workers_affected=5)
    assert case["grade"] == "major"
    assert [e["data"]["grade"] for e in published(sqlite_database, "case_status_changed")] == [
        "major"]


def test_the_cases_list_walks_newest_first_page_by_page_and_sees_each_case_once(database):
    opened = {}
    for number, when in enumerate((T0, T0 + timedelta(hours=1), T0 + timedelta(hours=1),
                                   T0 + timedelta(hours=2), T0 + timedelta(days=3))):
        case = file_report(database, when, credit_code=None, name=f"南坑{number}号厂",
                           address="南坑", community_code=NANKENG)
        opened[case["case_id"]] = when
    with database.session() as session:
        seen = [case["id"] for case in walk(lambda cursor: views.list_cases(
            session, BANTIAN_VIEWER, {"cursor": cursor, "limit": 2}), 2)]
        assert views.list_cases(session, BANTIAN_VIEWER, {"status": "verified"}) == {
            "items": [], "next_cursor": None}
    assert seen == sorted(opened, key=lambda case_id: (opened[case_id], case_id),
                          reverse=True)


def test_a_visit_recorded_for_a_time_to_come_is_refused(sqlite_database):
    with pytest.raises(InvalidInput) as error:
        visit(sqlite_database, T0, at=(T0 + timedelta(days=1)).isoformat())
    assert error.value.details == {"at": ["must not be in the future"]}
    recorded = visit(sqlite_database, T0, at=(T0 - timedelta(days=30)).isoformat())
    assert recorded["enterprise"] == "嶂背塑胶厂"


def test_only_the_districts_admins_record_the_past_and_never_a_time_to_come(
        sqlite_database):
    earlier = T0 - timedelta(days=400)
    with sqlite_database.session() as session:
        with pytest.raises(Forbidden):
            operations.recorded_at(session, ZHANGBEI_STAFF, earlier, T0)
        assert operations.recorded_at(session, DISTRICT_ADMIN, earlier, T0) == earlier
        with pytest.raises(InvalidInput):
            operations.recorded_at(session, DISTRICT_ADMIN, T0 + timedelta(hours=1), T0)
        with pytest.raises(InvalidInput):
            operations.recorded_at(session, DISTRICT_ADMIN, at(1999, 12, 1), T0)


def test_the_cases_list_filters_by_the_days_opened_in_china_time(sqlite_database):
    # 2025-03-01 02:00 UTC is 10:00 on 1 March in Shenzhen; 23:30 UTC is 07:30 on the 2nd
    first = file_report(sqlite_database, T0)["case_id"]
    second = file_report(sqlite_database, at(2025, 3, 1, 23, 30), credit_code=ZB_FACTORY,
                         category="closure")["case_id"]

    def listed(**days):
        query = load(contract.CaseQuerySchema(), days)
        with sqlite_database.session() as session:
            return [case["id"] for case in views.list_cases(session, DISTRICT_ADMIN,
                                                             query)["items"]]

    assert listed(opened_from="2025-03-01", opened_to="2025-03-01") == [first]
    assert listed(opened_from="2025-03-02") == [second]
    assert listed(opened_to="2025-03-02") == [second, first]
    assert listed(opened_to="2025-02-28") == []
    with pytest.raises(InvalidInput):
        load(contract.CaseQuerySchema(), {"opened_from": "2025-02-30"})
