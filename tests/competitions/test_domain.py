"""The competition's pure rules: eligibility, conflicts of interest, marks, ranking."""

from datetime import UTC, datetime

import pytest

from services.competitions import domain, policy
from shared.errors import InvalidInput

NOW = datetime(2016, 3, 1, tzinfo=UTC)
RULES = policy.load_rules(policy.default_body())
INNOVATION = policy.group(RULES, "innovation")
PLANT = "91440300MA5DC0001A"
NANKENG_PATH = ["longgang", "longgang.bantian", "longgang.bantian.nankeng"]


def nominee(**changes):
    values = {
        "worker_id": 7, "enterprise_credit_code": PLANT,
        "nominated_by": "longgang.bantian.nankeng",
        "member": {"status": "active", "union_code": "longgang.bantian.nankeng",
                   "enterprise_credit_code": PLANT},
        "enterprise": {"credit_code": PLANT, "status": "active", "union_status": "covered",
                       "union_code": "longgang.bantian.nankeng",
                       "community_code": "longgang.bantian.nankeng"},
        "facts": {"years_on_front_line": 5}, "edition_year": 2016, "now": NOW}
    values.update(changes)
    return domain.Nominee(**values)


def failed(candidate, group="innovation"):
    return [f["rule"] for f in domain.failed_rules(policy.eligibility_rules(RULES, group),
                                                   candidate)]


def test_the_default_rules_are_valid_and_every_group_weighs_100():
    assert [g["code"] for g in RULES["groups"]] == [
        "innovation", "team_management", "talent", "contribution", "frontline"]
    assert RULES["objection_days"] == 7


def test_a_covered_member_nominated_by_her_federation_qualifies():
    assert failed(nominee()) == []


def test_an_enterprise_with_no_union_and_no_cover_fails_the_rule_it_names():
    candidate = nominee(enterprise={"credit_code": PLANT, "status": "active",
                                    "union_status": "none", "union_code": None,
                                    "community_code": "longgang.bantian.nankeng"})
    found = domain.failed_rules(policy.eligibility_rules(RULES, "innovation"), candidate)
    assert [f["rule"] for f in found] == ["enterprise_union"]
    assert "未建工会" in found[0]["message"]


def test_every_failed_rule_is_named_in_order():
    candidate = nominee(member=None, nominated_by="longgang.pingdi",
                        facts={"years_on_front_line": 1})
    assert failed(candidate) == ["active_member", "nominator", "front_line_years"]


def test_group_rules_are_data_age_from_the_birth_year():
    old = nominee(facts={"years_on_front_line": 30, "birth_year": 1950})
    assert failed(old, "frontline") == ["retirement_age"]
    assert failed(nominee(facts={"team_leader": False, "years_on_front_line": 3}),
                  "team_management") == ["team_leader"]


def test_a_recent_major_case_fails_no_major_dispute():
    recent = nominee(major_cases=(datetime(2015, 9, 1, tzinfo=UTC),))
    assert failed(recent) == ["no_major_dispute"]
    assert failed(nominee(major_cases=(datetime(2014, 1, 1, tzinfo=UTC),))) == []


def test_rules_with_weights_off_100_are_refused():
    body = policy.default_body()
    body["groups"][0]["criteria"][0]["weight"] = 50
    with pytest.raises(Exception, match="100"):
        policy.load_rules(body)


# --- conflicts ----------------------------------------------------------------------------

def test_a_judge_from_the_nominees_enterprise_or_community_has_a_conflict():
    her = domain.place_of(PLANT, NANKENG_PATH, "longgang.bantian.nankeng.plant")
    same = domain.place_of(PLANT, NANKENG_PATH)
    union = domain.place_of("longgang.bantian.nankeng.plant",
                            NANKENG_PATH + ["longgang.bantian.nankeng.plant"])
    community = domain.place_of("longgang.bantian.nankeng", NANKENG_PATH)
    neighbour = domain.place_of("91440300MA5DC0009Z", NANKENG_PATH)
    street = domain.place_of("longgang.bantian", NANKENG_PATH[:2])
    assert domain.conflict(same, her, 3) == "same_enterprise"
    assert domain.conflict(union, her, 3) == "same_enterprise"
    assert domain.conflict(community, her, 3) == "judge_above"
    assert domain.conflict(neighbour, her, 3) is None  # a sibling is not "under"
    assert domain.conflict(street, her, 3) is None  # the organisers: below depth 3 only
    assert domain.conflict(street, her, 2) == "judge_above"


# --- marks and ranking --------------------------------------------------------------------

def test_marks_are_checked_against_each_criterions_range():
    marks = {c["code"]: 8 for c in INNOVATION["criteria"]}
    assert domain.weighted_total(INNOVATION["criteria"], marks) == 80.0
    with pytest.raises(InvalidInput) as caught:
        domain.checked_values(INNOVATION["criteria"], {**marks, "achievement": 11,
                                                       "luck": 3})
    assert set(caught.value.details["values"]) == {"achievement", "luck"}


def sheet(contestant, totals, order=None, tie=None):
    """A contestant marked by judges 1.. with the totals given (None: no score)."""
    result = domain.Sheet(contestant, contestant * 10, order or contestant)
    for judge, total in enumerate(totals, start=1):
        if total is not None:
            marks = {c["code"]: total / 10 for c in INNOVATION["criteria"]}
            if tie is not None:
                marks["achievement"] = tie
            result.scores[judge] = (marks, float(total))
    return result


def test_the_trimmed_mean_drops_the_highest_and_lowest_and_says_so():
    sheets = [sheet(1, [90, 70, 80, 85, 75]), sheet(2, [95, 60, 82, 84, 83])]
    ranking = domain.rank(INNOVATION, sheets, [1, 2, 3, 4, 5])
    assert [(e["contestant_id"], e["total"]) for e in ranking] == [(2, 83.0), (1, 80.0)]
    assert "highest [95.0] and lowest [60.0] dropped" in ranking[0]["computation"]
    notes = {line["judge_id"]: line["note"] for line in ranking[0]["judges"]}
    assert notes[1] == "dropped: highest" and notes[2] == "dropped: lowest"


def test_a_missing_score_is_left_out_not_counted_as_zero():
    excluded = sheet(1, [80, None, 80, 80, 80])
    excluded.excluded[2] = "same_enterprise"
    ranking = domain.rank(INNOVATION, [excluded, sheet(2, [79] * 5)], [1, 2, 3, 4, 5])
    assert ranking[0]["contestant_id"] == 1 and ranking[0]["total"] == 80.0
    assert "1 excluded for a conflict of interest" in ranking[0]["computation"]


def test_ties_are_broken_by_the_named_criterion_then_first_places():
    ranking = domain.rank(INNOVATION, [sheet(1, [80, 80, 80], tie=7),
                                       sheet(2, [80, 80, 80], tie=9)], [1, 2, 3])
    assert [e["contestant_id"] for e in ranking] == [2, 1]
    assert "broken by achievement" in ranking[1]["tie_break"]
    # same total, same tie criterion: first places decide
    ranking = domain.rank(INNOVATION, [sheet(1, [70, 90, 80], tie=8),
                                       sheet(2, [90, 80, 70], tie=8),
                                       sheet(3, [85, 85, 85], tie=8)], [1, 2, 3])
    assert ranking[0]["contestant_id"] == 3  # 85 beats 80 on the trimmed mean...
    group = dict(INNOVATION, aggregation={"method": "mean"})
    ranking = domain.rank(group, [sheet(1, [60, 90, 90], tie=8), sheet(2, [90, 80, 70],
                                                                       tie=8)], [1, 2, 3])
    assert [e["contestant_id"] for e in ranking] == [1, 2]
    assert "first places (2 over 1)" in ranking[1]["tie_break"]


def test_z_scores_weigh_a_harsh_and_a_lenient_judge_the_same():
    group = dict(INNOVATION, aggregation={"method": "zscore"})
    # judge 1 is harsh (60s), judge 2 lenient (90s); both prefer 2 over 1 over 3
    sheets = [sheet(1, [62, 91]), sheet(2, [64, 95]), sheet(3, [60, 90])]
    ranking = domain.rank(group, sheets, [1, 2])
    assert [e["contestant_id"] for e in ranking] == [2, 1, 3]
    assert "z-score" in ranking[0]["computation"]


def test_an_upheld_objection_moves_everyone_below_up_one_place():
    ranking = [{"nomination_id": n, "value": 90 - n} for n in (1, 2, 3, 4)]
    assert domain.winners(ranking, 2) == [(1, 1), (2, 2)]
    assert domain.winners(ranking, 2, {1}) == [(2, 1), (3, 2)]


def test_rounds_open_in_order_and_a_notice_closes_after_its_period():
    assert domain.open_problem("district_final", "planned",
                               [{"stage": "street_final", "status": "open"}])
    assert domain.open_problem("district_final", "planned",
                               [{"stage": "street_final", "status": "closed"}]) is None
    ends = domain.notice_end(NOW, 7)
    assert domain.close_problem("public_notice", "open", NOW, ends, 0)
    assert "objection" in domain.close_problem("public_notice", "open", ends, ends, 1)
    assert domain.close_problem("public_notice", "open", ends, ends, 0) is None
