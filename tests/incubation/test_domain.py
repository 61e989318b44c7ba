"""The pure rules of incubation: stages, grades, conditions, money, periods, reach."""

from datetime import date
from decimal import Decimal

import pytest

from services.incubation import domain, policy
from shared.caller import READ, WRITE, Caller
from shared.errors import Forbidden

GRADING = policy.in_force("grading", date(2015, 1, 1))
RULES = policy.in_force("rules", date(2015, 1, 1))


def facts(stage="incubating", grade=None, registered=True, activities=0):
    return domain.Facts(stage=stage, grade=grade, registered=registered, activities=activities)


def sheet(basic, governance, performance, evaluation):
    return {"basic_conditions": basic, "internal_governance": governance,
            "work_performance": performance, "social_evaluation": evaluation}


# --- stages -------------------------------------------------------------------------------

def test_stages_run_from_application_to_graduation_and_exit_is_always_open_until_the_end():
    path = ["applied", "admitted", "incubating", "assessed", "graduated"]
    for current, target in zip(path, path[1:], strict=False):
        assert domain.transition_problem(current, target) is None
    for current in path[:-1]:
        assert domain.transition_problem(current, "exited") is None
    assert domain.transition_problem("assessed", "incubating") is None  # more incubation


def test_a_stage_cannot_be_skipped_and_graduated_or_exited_is_final():
    assert "next: admitted" in domain.transition_problem("applied", "incubating")
    assert "final" in domain.transition_problem("graduated", "exited")
    assert "final" in domain.transition_problem("exited", "admitted")
    assert "hub" in domain.transition_problem(None, "admitted")


def test_the_incubation_period_ends_months_after_admission_even_from_a_month_end():
    assert domain.incubation_deadline(date(2014, 1, 10), 24) == date(2016, 1, 10)
    assert domain.incubation_deadline(date(2014, 8, 31), 6) == date(2015, 2, 28)


def test_the_deadline_reminder_window_and_a_passed_deadline():
    deadline = date(2016, 1, 10)
    assert domain.deadline_state(deadline, date(2015, 11, 1), 30) is None
    assert domain.deadline_state(deadline, date(2015, 12, 11), 30) == "approaching"
    assert domain.deadline_state(deadline, date(2016, 1, 10), 30) == "approaching"
    assert domain.deadline_state(deadline, date(2016, 1, 11), 30) == "passed"
    assert domain.deadline_state(None, date(2016, 1, 11), 30) is None


# --- grades --------------------------------------------------------------------------------

def test_the_grade_is_the_highest_band_the_weighted_mean_of_the_assessors_reaches():
    result = domain.compute_grade(GRADING, [sheet(90, 80, 84, 80), sheet(80, 82, 86, 82)])
    # means 85, 81, 85, 81; weighted 8.5 + 28.35 + 34 + 12.15 = 83.00
    assert result.total == Decimal("83.00")
    assert (result.grade, result.band_min) == ("4A", Decimal("80"))
    performance = next(item for item in result.breakdown
                       if item["indicator"] == "work_performance")
    assert (performance["mean"], performance["weighted"]) == (Decimal("85.00"),
                                                               Decimal("34.00"))


@pytest.mark.parametrize("score, grade", [(100, "5A"), (90, "5A"), (89.99, "4A"), (75, "3A"),
                                          (60, "2A"), (50, "1A"), (49.99, None), (0, None)])
def test_each_band_starts_at_its_minimum_and_below_the_lowest_there_is_no_grade(score, grade):
    value = Decimal(str(score))
    assert domain.compute_grade(GRADING, [sheet(value, value, value, value)]).grade == grade


def test_scores_must_cover_every_indicator_of_the_policy_and_stay_on_its_scale():
    with pytest.raises(ValueError, match="no score for social_evaluation"):
        domain.compute_grade(GRADING, [{"basic_conditions": 80, "internal_governance": 80,
                                        "work_performance": 80}])
    with pytest.raises(ValueError, match="no indicator charisma"):
        domain.compute_grade(GRADING, [{**sheet(80, 80, 80, 80), "charisma": 99}])
    with pytest.raises(ValueError, match="scores 0 to 100"):
        domain.compute_grade(GRADING, [sheet(80, 80, 101, 80)])
    with pytest.raises(ValueError, match="at least one"):
        domain.compute_grade(GRADING, [])


def test_a_grade_is_valid_for_five_years_then_counts_as_none():
    until = domain.valid_until(date(2015, 11, 20), GRADING["valid_years"])
    assert until == date(2020, 11, 20)
    assert domain.current_grade("4A", until, date(2020, 11, 19)) == "4A"
    assert domain.current_grade("4A", until, date(2020, 11, 20)) is None
    assert domain.valid_until(date(2016, 2, 29), 5) == date(2021, 2, 28)


# --- conditions -----------------------------------------------------------------------------

def test_a_refusal_names_the_rule_and_what_it_requires_and_what_the_organization_holds():
    refusal = domain.refusal("calls.3.eligibility", {"min_grade": "3A"}, facts(grade="2A"))
    assert refusal.rule == "calls.3.eligibility.min_grade"
    assert (refusal.requires, refusal.holds) == ("3A", "2A")
    assert "3A or above" in refusal.message and "2A" in refusal.message
    assert refusal.details(1) == {"rule": "calls.3.eligibility.min_grade", "requires": "3A",
                                  "holds": "2A", "policy_version": 1}
    assert domain.refusal("calls.3.eligibility", {"min_grade": "3A"}, facts(grade="4A")) is None


def test_graduation_needs_registration_a_grade_and_activities_in_that_order():
    conditions = RULES["graduation"]
    assert domain.refusal("graduation", conditions, facts(registered=False)).rule == \
        "graduation.registered"
    assert domain.refusal("graduation", conditions, facts(grade="2A")).rule == \
        "graduation.min_grade"
    lacking = domain.refusal("graduation", conditions, facts(grade="3A", activities=5))
    assert (lacking.rule, lacking.requires, lacking.holds) == (
        "graduation.min_activities", 6, 5)
    assert domain.refusal("graduation", conditions, facts(grade="3A", activities=6)) is None


def test_a_lapsed_or_missing_grade_fails_a_minimum_grade():
    refusal = domain.refusal("gates.purchased_service", {"min_grade": "3A"}, facts(grade=None))
    assert refusal.holds is None and "no valid grade" in refusal.message


def test_stage_conditions_let_the_hub_through_and_no_one_else_outside_them():
    conditions = {"stages": ["incubating", "assessed", "graduated"]}
    assert domain.refusal("gates.referral", conditions, facts(stage=None)) is None
    assert domain.refusal("gates.referral", conditions, facts(stage="applied")).rule == \
        "gates.referral.stages"


def test_facts_count_only_a_grade_still_valid_on_the_day():
    row = {"stage": "assessed", "grade": "3A", "grade_until": date(2020, 1, 1),
           "credit_code": "52440307MJL0000017", "activities": 3}
    assert domain.facts(row, date(2019, 12, 31)).grade == "3A"
    assert domain.facts(row, date(2020, 1, 1)).grade is None


# --- who may ---------------------------------------------------------------------------------

ORGANIZATION = {"id": 17, "home_path": ["longgang", "longgang.bantian",
                                        "longgang.bantian.nankeng"]}


def test_staff_act_on_organizations_based_within_their_subtree_only():
    domain.require_access(Caller("a", "staff", "longgang.bantian"), WRITE, ORGANIZATION)
    with pytest.raises(Forbidden):
        domain.require_access(Caller("b", "staff", "longgang.longcheng"), READ, ORGANIZATION)
    with pytest.raises(Forbidden):
        domain.require_access(Caller("c", "viewer", "longgang"), WRITE, ORGANIZATION)


def test_an_organizations_own_account_reads_its_own_data_and_writes_only_where_allowed():
    own = Caller("机构账号", "staff", "so:17")
    domain.require_access(own, READ, ORGANIZATION)
    domain.require_access(own, WRITE, ORGANIZATION, own_account_may=True)
    with pytest.raises(Forbidden, match="may not"):
        domain.require_access(own, WRITE, ORGANIZATION)  # e.g. changing its own stage
    with pytest.raises(Forbidden, match="only its own"):
        domain.require_access(Caller("别家", "staff", "so:18"), READ, ORGANIZATION)
    with pytest.raises(Forbidden):
        domain.require_access(Caller("只读", "viewer", "so:17"), WRITE, ORGANIZATION,
                              own_account_may=True)


# --- money and the ledger ------------------------------------------------------------------

def test_money_is_whole_fen_inside_and_yuan_with_two_places_outside():
    assert domain.fen(Decimal("300000.00")) == 30_000_000
    assert domain.fen(Decimal("0.015")) == 2
    assert domain.yuan(30_000_001) == Decimal("300000.01")


def test_tranches_must_make_up_the_award_exactly():
    assert domain.even_tranches(30_000_001, 2) == [15_000_001, 15_000_000]
    assert domain.tranche_problem(100, [50, 50]) is None
    assert "add up to 0.90" in domain.tranche_problem(100, [50, 40])
    assert domain.tranche_problem(100, []) and domain.tranche_problem(100, [100, 0])


def test_every_transaction_balances_on_the_funds_side_and_on_the_organizations():
    lines = (domain.budget_lines(3_000_000) + domain.award_lines(300_000)
             + domain.disbursement_lines(150_000))
    for side, accounts in (("fund", domain.FUND_ACCOUNTS),
                           ("organization", domain.ORGANIZATION_ACCOUNTS)):
        sums = {}
        for line in lines:
            if line.side == side:
                sums[line.account] = sums.get(line.account, 0) + line.amount
        assert domain.balances(sums, accounts)["balanced"]
    fund = domain.balances({"source": -3_000_000, "available": 2_700_000,
                            "committed": 150_000, "paid": 150_000}, domain.FUND_ACCOUNTS)
    assert fund["balanced"] and not domain.balances({"source": -1},
                                                    domain.FUND_ACCOUNTS)["balanced"]


# --- periods and workers reached -----------------------------------------------------------

def test_an_activity_counts_in_all_time_its_year_quarter_and_month():
    assert domain.period_keys(date(2015, 8, 9)) == ["all", "2015", "2015-Q3", "2015-08"]
    assert domain.period_range("2015-Q3") == (date(2015, 7, 1), date(2015, 9, 30))
    assert domain.period_range("2016-02") == (date(2016, 2, 1), date(2016, 2, 29))
    assert domain.period_range("all") == (None, None)
    for bad in ("2015-Q5", "2015-13", "15", "last year", ""):
        with pytest.raises(ValueError):
            domain.period_range(bad)


def test_a_worker_counts_once_per_place_and_period_however_often_they_come():
    state = domain.ReachState()
    path = ["longgang", "longgang.bantian"]
    first = domain.reach_changes(state, [(path, date(2015, 3, 2))])
    assert first == {(node, period): 1 for node in path
                     for period in ("all", "2015", "2015-Q1", "2015-03")}
    assert domain.reach_changes(state, [(path, date(2015, 3, 20))]) == {}
    again = domain.reach_changes(state, [(path, date(2015, 2, 1)), (path, date(2016, 7, 1))])
    assert again == {("longgang", "2015-02"): 1, ("longgang.bantian", "2015-02"): 1,
                     **{(node, period): 1 for node in path
                        for period in ("2016", "2016-Q3", "2016-07")}}
    elsewhere = domain.reach_changes(state, [(["longgang", "longgang.longcheng"],
                                              date(2015, 3, 5))])
    assert elsewhere == {("longgang.longcheng", period): 1
                         for period in ("all", "2015", "2015-Q1", "2015-03")}


def test_members_are_the_same_person_everywhere_others_within_their_organization():
    assert domain.worker_key(3, 1043, None) == domain.worker_key(9, 1043, None) == "m1043"
    assert domain.worker_key(3, None, "NK-1") != domain.worker_key(9, None, "NK-1")


def test_an_organization_serves_a_member_whose_place_has_one_of_its_places_on_its_path():
    member = ["longgang", "longgang.bantian", "longgang.bantian.nankeng", "91440300MA5DA0001X"]
    assert domain.serves(["longgang.bantian"], member)
    assert domain.serves(["91440300MA5DA0001X"], member)
    assert not domain.serves(["longgang.longcheng"], member)
    assert domain.kinds_for_request(RULES, "legal_consultation") == ["legal_aid"]
