"""Reports from information officers become graded cases; the same risk merges."""

from datetime import timedelta

import pytest

from services.disputes import operations
from shared.api import disputes as contract
from shared.errors import InvalidInput, NotFound, TooManyRequests
from shared.schemas import load
from tests.disputes.conftest import (
    BANTIAN,
    DISTRICT,
    FACTORY,
    KEY_PLANT,
    NANKENG,
    ZHANGBEI,
    at,
    file_report,
    move,
    published,
    report_data,
    view,
)

T0 = at(2025, 3, 1, 2)


def test_a_report_about_a_registered_enterprise_opens_a_graded_case(database):
    result = file_report(database, T0, workers_affected=40, amount_owed="350000")
    assert result["merged"] is False
    [opened] = published(database, "case_opened")
    assert opened["data"] == {
        "case_id": result["case_id"], "grade": "urgent", "grade_rule": "urgent.workers_30",
        "category": "unpaid_wages", "workers_affected": 40, "amount_owed": "350000.00",
        "expected_at": None, "reported_at": "2025-03-01T02:00:00+00:00",
        "enterprise": {"credit_code": FACTORY, "name": "南坑五金制品厂",
                       "address": "坂田南坑村一巷1号", "community_code": NANKENG,
                       "path": [DISTRICT, BANTIAN, NANKENG], "key_enterprise": False},
    }
    case = view(database, result["case_id"])
    assert (case["status"], case["grade"], case["reports"]) == ("reported", "urgent", 1)
    assert case["timeline"][0]["kind"] == "opened"
    assert case["timeline"][0]["detail"]["rule"] == "urgent.workers_30"


def test_a_key_enterprise_is_graded_by_the_key_enterprise_rule(database):
    result = file_report(database, T0, credit_code=KEY_PLANT, workers_affected=3)
    assert view(database, result["case_id"])["grade_rule"] == "urgent.key_enterprise"


def test_an_enterprise_not_yet_registered_is_named_by_name_address_and_community(
        sqlite_database):
    result = file_report(sqlite_database, T0, credit_code=None, name="无名小作坊",
                         address="嶂背一村3栋", community_code=ZHANGBEI)
    enterprise = view(sqlite_database, result["case_id"])["enterprise"]
    assert enterprise["credit_code"] is None
    assert enterprise["path"] == [DISTRICT, "longgang.longcheng", ZHANGBEI]


def test_a_registered_enterprise_named_without_its_credit_code_is_still_recognised(
        sqlite_database):
    result = file_report(sqlite_database, T0, credit_code=None, name=" 南坑五金 制品厂",
                         address="南坑", community_code=NANKENG)
    assert view(sqlite_database, result["case_id"])["enterprise"]["credit_code"] == FACTORY


def test_a_report_in_an_unknown_community_is_rejected_with_the_reason(sqlite_database):
    with pytest.raises(InvalidInput) as error:
        file_report(sqlite_database, T0, credit_code=None, name="某厂", address="某地",
                    community_code="longgang.nowhere")
    assert error.value.details == {"community_code": ["unknown community or park"]}
    assert published(sqlite_database) == []


def test_an_unregistered_credit_code_without_a_name_is_not_found(sqlite_database):
    with pytest.raises(NotFound) as error:
        file_report(sqlite_database, T0, credit_code="91440300MA5DXXXX9X")
    assert "give its name, address and community" in error.value.message


@pytest.mark.parametrize(("field", "value", "complaint"), [
    ("category", "alien_invasion", "Must be one of"),
    ("workers_affected", -3, "greater than or equal to 0"),
    ("workers_affected", "many", "Not a valid integer"),
    ("amount_owed", "12.345", "at most 2 decimal places"),
    ("amount_owed", "1e15", "less than or equal to"),
    ("credit_code", "12345", "18-character unified social credit code"),
    ("expected_at", "next week", "date (YYYY-MM-DD) or an ISO datetime"),
    ("description", "", "Length must be between 1 and 5000"),
    ("colour", "red", "Unknown field"),
])
def test_every_rejected_report_field_explains_itself(field, value, complaint):
    with pytest.raises(InvalidInput) as error:
        report_data(**{field: value})
    assert complaint.lower() in str(error.value.details[field]).lower()


def test_a_report_without_credit_code_must_give_name_address_and_community():
    with pytest.raises(InvalidInput) as error:
        report_data(credit_code=None, name="某厂")
    assert set(error.value.details) == {"address", "community_code"}


def test_a_second_report_of_the_same_risk_joins_the_case_and_both_are_credited(database):
    first = file_report(database, T0)
    second = file_report(database, T0 + timedelta(days=3), workers_affected=20)
    assert second == dict(second, case_id=first["case_id"], merged=True)
    case = view(database, first["case_id"])
    assert case["reports"] == 2
    assert case["workers_affected"] == 20  # the larger figure stands
    assert [r["informant"] for r in case["report_list"]] == [first["informant"],
                                                             second["informant"]]
    [merged] = published(database, "report_merged")
    assert merged["data"] == {"case_id": first["case_id"], "report_pseudonym":
                              second["report"], "reports_in_case": 2}


def test_a_merged_report_with_bigger_figures_raises_the_grade(database):
    first = file_report(database, T0, workers_affected=12)
    file_report(database, T0 + timedelta(days=1), workers_affected=150)
    [regraded] = published(database, "case_regraded")
    assert regraded["data"]["case_id"] == first["case_id"]
    assert (regraded["data"]["previous_grade"], regraded["data"]["grade"],
            regraded["data"]["grade_rule"]) == ("serious", "major", "major.workers_100")


def test_a_report_outside_the_merge_window_opens_a_new_case(sqlite_database):
    first = file_report(sqlite_database, T0)
    inside = file_report(sqlite_database, T0 + timedelta(days=30))
    later = file_report(sqlite_database, T0 + timedelta(days=61))  # 31 days after the last
    assert inside["case_id"] == first["case_id"]
    assert later["case_id"] != first["case_id"]


def test_another_category_at_the_same_enterprise_is_another_case(sqlite_database):
    wages = file_report(sqlite_database, T0)
    closure = file_report(sqlite_database, T0, category="closure")
    assert wages["case_id"] != closure["case_id"]


def test_a_report_after_the_case_was_resolved_opens_a_new_case(sqlite_database):
    first = file_report(sqlite_database, T0)
    move(sqlite_database, first["case_id"], "verified", T0)
    move(sqlite_database, first["case_id"], "handling", T0, handled_by_tier="community",
         joint=False)
    again = file_report(sqlite_database, T0 + timedelta(days=1))
    assert again["case_id"] == first["case_id"]  # still being handled: same dispute
    move(sqlite_database, first["case_id"], "resolved", T0, wages_recovered="86000",
         workers_covered=12)
    recurred = file_report(sqlite_database, T0 + timedelta(days=2))
    assert recurred["case_id"] != first["case_id"]


def test_a_report_with_an_expected_date_is_graded_on_how_soon_the_risk_comes(
        sqlite_database):
    result = file_report(sqlite_database, T0, category="relocation", workers_affected=5,
                         expected_at="2025-03-05")
    case = view(sqlite_database, result["case_id"])
    assert case["grade_rule"] == "urgent.imminent_closure"
    assert case["expected_at"] == at(2025, 3, 4, 16)  # midnight in China time


def test_rate_limits_answer_429_with_when_to_come_back(sqlite_database):
    limits = [("officer", "officer:I-X", 2, 3600)]
    with sqlite_database.unit_of_work() as uow:
        operations.check_rate(uow.session, limits, T0)
        operations.check_rate(uow.session, limits, T0 + timedelta(minutes=10))
    with sqlite_database.unit_of_work() as uow, pytest.raises(
            TooManyRequests) as error:
        operations.check_rate(uow.session, limits, T0 + timedelta(minutes=20))
    assert error.value.status == 429
    assert error.value.details == {"scope": "officer", "limit": 2, "window_seconds": 3600,
                                   "retry_after": 2401}
    assert "at most 2 per 1 h" in error.value.message
    with sqlite_database.unit_of_work() as uow:  # the first hit has left the window
        operations.check_rate(uow.session, limits, T0 + timedelta(minutes=61))


def test_schemas_turn_a_date_into_midnight_china_time():
    data = load(contract.VisitSchema(), {
        "credit_code": FACTORY, "kind": "visit", "irregular_practice": False,
        "findings": "正常", "at": "2015-01-01"})
    assert data["at"] == at(2014, 12, 31, 16)
