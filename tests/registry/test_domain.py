"""Registry rules without database or broker: credit codes, the tree, unions, counts, chains."""

from dataclasses import replace

import pytest

from services.registry import domain
from services.registry.domain import Counts, Enterprise, Organization, StatsDeltas
from services.registry.sample import credit_code
from shared.api.registry import code_problem, credit_code_problem

VALID = "91350100M000100Y43"  # the example printed in GB 32100-2015 guides


def org(code, kind, parent=None, party=None, credit=None):
    path = (parent.path if parent else ()) + (code,)
    return Organization(code, code, kind, parent and parent.code, path, party, credit)


DISTRICT = org("longgang", "district_federation")
STREET = org("longgang.bantian", "street_federation", DISTRICT)
COMMUNITY = org("longgang.bantian.nankeng", "community_federation", STREET)
PARK = org("longgang.bantian.tianan", "park_federation", STREET)
INDUSTRY = org("longgang.construction", "industry_union", DISTRICT)


def company(**fields):
    values = {"credit_code": VALID, "name": "深圳市华兴电子有限公司",
              "community_code": COMMUNITY.code, "headcount": 30}
    return Enterprise(**{**values, **fields})


# --- credit codes ----------------------------------------------------------------------

def test_a_valid_credit_code_has_no_problem():
    assert credit_code_problem(VALID) is None


def test_a_mistyped_credit_code_is_caught_by_its_check_digit():
    mistyped = VALID[:10] + "2" + VALID[11:]
    problem = credit_code_problem(mistyped)
    assert "check digit is '3'" in problem and "give '" in problem


@pytest.mark.parametrize("code, reason", [
    (VALID[:-1], "18 characters, this one has 17"),
    (VALID + "0", "this one has 19"),
    ("91350100I000100Y43", "character 'I' at position 9 is not allowed"),
    ("91350100m000100Y43", "character 'm' at position 9"),
])
def test_a_malformed_credit_code_says_what_is_wrong(code, reason):
    assert reason in credit_code_problem(code)


def test_the_sample_generates_distinct_valid_credit_codes():
    codes = [credit_code(n) for n in range(5000)]
    assert len(set(codes)) == 5000
    assert all(credit_code_problem(code) is None for code in codes)


# --- the tree --------------------------------------------------------------------------

STREET_PARTY = {"name": "坂田街道党工委", "kind": "street_working_committee"}
COMMUNITY_PARTY = {"name": "南坑社区综合党委", "kind": "community_party_committee"}


def test_a_street_federation_sits_under_the_district_with_its_working_committee():
    assert domain.placement_problems("street_federation", DISTRICT, STREET_PARTY) == {}


def test_a_community_federation_cannot_sit_directly_under_the_district():
    problems = domain.placement_problems("community_federation", DISTRICT, COMMUNITY_PARTY)
    assert "sits under a street_federation" in problems["parent_code"][0]


def test_a_federation_needs_its_party_organization_of_the_right_kind():
    assert "party_organization" in domain.placement_problems(
        "street_federation", DISTRICT, None)
    wrong = domain.placement_problems("street_federation", DISTRICT, COMMUNITY_PARTY)
    assert "street_working_committee" in wrong["party_organization"][0]


def test_an_enterprise_union_sits_under_a_community_or_park_and_needs_no_party_branch():
    assert domain.placement_problems("enterprise_union", PARK, None) == {}
    assert "parent_code" in domain.placement_problems("enterprise_union", STREET, None)


def test_an_industry_union_sits_under_the_district_at_street_tier():
    assert domain.placement_problems("industry_union", DISTRICT, None) == {}
    assert domain.tier_of("industry_union") == "street"


def test_the_district_federation_has_no_parent():
    party = {"name": "区委", "kind": "district_committee"}
    assert domain.placement_problems("district_federation", None, party) == {}
    assert "parent_code" in domain.placement_problems("district_federation", STREET, party)


def test_an_organization_cannot_move_into_its_own_subtree():
    other_street = org("longgang.longcheng", "street_federation", DISTRICT)
    assert domain.move_problems(replace(COMMUNITY, party_organization=COMMUNITY_PARTY),
                                other_street) == {}
    assert "own subtree" in domain.move_problems(STREET, COMMUNITY)["parent_code"][0]


def test_an_enterprise_union_moves_only_with_its_enterprise():
    union = org("longgang.bantian.nankeng.x", "enterprise_union", COMMUNITY, credit=VALID)
    assert "move_enterprise" in domain.move_problems(union, PARK)["code"][0]


@pytest.mark.parametrize("code", ["Longgang", "-x", "a b", "a_b", "", "a" * 101])
def test_a_bad_organization_code_is_explained(code):
    assert code_problem(code)


# --- enterprises -----------------------------------------------------------------------

def test_an_enterprise_under_25_workers_cannot_have_its_own_union():
    small = company(headcount=24, union_status="own", union_code="longgang.bantian.nankeng.x")
    problems = domain.enterprise_problems(small, COMMUNITY, None)
    assert "under 25 workers (this one has 24)" in problems["union_status"][0]
    assert domain.enterprise_problems(replace(small, headcount=25), COMMUNITY, None) == {}


def test_a_small_enterprise_may_be_covered_by_its_community_federation():
    covered = company(headcount=3, union_status="covered", union_code=COMMUNITY.code)
    assert domain.enterprise_problems(covered, COMMUNITY, COMMUNITY) == {}


def test_only_a_community_or_park_federation_covers_an_enterprise():
    covered = company(union_status="covered", union_code=INDUSTRY.code)
    problems = domain.enterprise_problems(covered, COMMUNITY, INDUSTRY)
    assert "is a industry_union" in problems["union_code"][0]


def test_an_enterprise_sits_in_a_community_or_park_not_a_street():
    problems = domain.enterprise_problems(company(community_code=STREET.code), STREET, None)
    assert "community_federation or park_federation" in problems["community_code"][0]


def test_another_enterprises_union_is_not_an_own_union():
    theirs = org("longgang.bantian.nankeng.y", "enterprise_union", COMMUNITY,
                 credit=credit_code(7))
    own = company(union_status="own", union_code=theirs.code)
    assert "not this enterprise's own union" in domain.enterprise_problems(
        own, COMMUNITY, theirs)["union_code"][0]


def test_only_a_key_enterprise_has_an_assigned_leader():
    led = company(assigned_leader={"name": "王伟"})
    assert "assigned_leader" in domain.enterprise_problems(led, COMMUNITY, None)
    assert domain.enterprise_problems(replace(led, key_enterprise=True), COMMUNITY, None) == {}


def test_a_new_enterprise_takes_defaults_from_what_it_states():
    stated = {"credit_code": VALID, "name": "x", "community_code": COMMUNITY.code}
    big = domain.merge_enterprise(None, {**stated, "headcount": 500, "union_status": "own"})
    assert big.key_enterprise is True
    assert big.union_code == domain.enterprise_union_code(COMMUNITY.code, VALID)
    small = domain.merge_enterprise(None, {**stated, "headcount": 499,
                                           "union_status": "covered"})
    assert (small.key_enterprise, small.union_code) == (False, COMMUNITY.code)


def test_changing_union_status_resets_the_union_code_to_the_new_default():
    own = company(union_status="own", union_code="longgang.bantian.nankeng.custom")
    covered = domain.merge_enterprise(own, {"union_status": "covered"})
    assert covered.union_code == COMMUNITY.code
    assert domain.merge_enterprise(own, {"headcount": 40}).union_code == own.union_code


def test_unflagging_a_key_enterprise_removes_its_leader():
    key = company(headcount=800, key_enterprise=True, assigned_leader={"name": "王伟"})
    assert domain.merge_enterprise(key, {"key_enterprise": False}).assigned_leader is None
    assert domain.merge_enterprise(key, {"headcount": 900}).assigned_leader == {"name": "王伟"}


def test_coverage_by_the_old_community_follows_an_enterprise_that_moves():
    covered = company(union_status="covered", union_code=COMMUNITY.code)
    assert domain.moved_enterprise(covered, PARK.code).union_code == PARK.code
    elsewhere = replace(covered, union_code=PARK.code)
    assert domain.moved_enterprise(elsewhere, "longgang.bantian.gangtou").union_code == PARK.code


# --- counts ----------------------------------------------------------------------------

def test_nankengs_figures_give_an_establishment_rate_of_96_percent():
    assert Counts(227, 10_200, 42, 176).establishment_rate == 0.9604
    assert Counts().establishment_rate == 0.0


def test_a_closed_enterprise_counts_for_nothing():
    assert company(union_status="covered").counts() == Counts(1, 30, 0, 1)
    assert company(status="closed").counts() == Counts()


def test_deltas_add_along_the_path_and_cancel_out():
    deltas = StatsDeltas()
    deltas.add(COMMUNITY.path, Counts(1, 30, 1, 0))
    deltas.remove(COMMUNITY.path, Counts(1, 30, 1, 0))
    deltas.add(PARK.path, Counts(1, 40, 0, 1))
    assert dict(deltas.items()) == {
        "longgang": Counts(1, 40, 0, 1), "longgang.bantian": Counts(1, 40, 0, 1),
        "longgang.bantian.tianan": Counts(1, 40, 0, 1)}


# --- the chain -------------------------------------------------------------------------

def test_a_communitys_chain_runs_up_to_the_district():
    chain = domain.chain_of([DISTRICT, COMMUNITY, STREET])
    assert [item["tier"] for item in chain] == ["community", "street", "district"]
    assert chain[0]["union"] == {"code": COMMUNITY.code, "name": COMMUNITY.code,
                                 "kind": "community_federation"}


def test_an_enterprise_with_its_own_union_starts_its_chain_there():
    union = org("longgang.bantian.nankeng.x", "enterprise_union", COMMUNITY, credit=VALID)
    chain = domain.chain_of([DISTRICT, STREET, COMMUNITY], own_union=union)
    assert [item["union"]["code"] for item in chain] == [
        union.code, COMMUNITY.code, STREET.code, DISTRICT.code]
