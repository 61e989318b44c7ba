"""The registry's use cases on a real database (SQLite and PostgreSQL), no broker: the tree,
enterprises, counts kept incrementally, chains, events written to the outbox."""

import random

import pytest

from services.registry import domain, operations, views
from services.registry.sample import credit_code
from shared.errors import Conflict, InvalidInput, NotFound
from shared.events import parse_envelope
from tests.registry.conftest import (
    BANTIAN,
    CONSTRUCTION,
    DISTRICT,
    GANGTOU,
    LONGCHENG,
    NANKENG,
    TIANAN,
    ZHANGBEI,
    enterprise,
    outbox,
    party,
    read,
    write,
)

LEADER = {"name": "王伟", "title": "坂田街道办事处副主任", "phone": "13800000000"}


def stats(db, code):
    figures = read(db, views.statistics, code)
    return (figures["enterprises"], figures["workers"], figures["own_union"],
            figures["covered"])


def test_an_organization_shows_its_path_tier_and_contacts(tree):
    nankeng = read(tree, views.get_organization, NANKENG)
    assert nankeng["path"] == [DISTRICT, BANTIAN, NANKENG]
    assert (nankeng["tier"], nankeng["parent_code"]) == ("community", BANTIAN)
    assert nankeng["contacts"][0]["email"] == "nk@example.org"
    children = read(tree, views.list_children, BANTIAN)
    assert [child["code"] for child in children] == [GANGTOU, NANKENG, TIANAN]
    assert read(tree, views.get_organization, CONSTRUCTION)["tier"] == "street"


def test_a_second_district_or_a_taken_code_is_a_conflict(tree):
    with pytest.raises(Conflict):
        write(tree, operations.register_organization, {
            "code": "futian", "name": "福田区总工会", "kind": "district_federation",
            "party_organization": party("中共深圳市福田区委", "district_committee")})
    with pytest.raises(Conflict):
        write(tree, operations.register_organization, {
            "code": NANKENG, "name": "again", "kind": "community_federation",
            "parent_code": BANTIAN,
            "party_organization": party("x", "community_party_committee")})


def test_a_misplaced_or_unknown_parent_is_named_in_the_details(tree):
    community = {"code": "longgang.x", "name": "x", "kind": "community_federation",
                 "party_organization": party("x", "community_party_committee")}
    with pytest.raises(InvalidInput) as under_district:
        write(tree, operations.register_organization, {**community, "parent_code": DISTRICT})
    assert "street_federation" in under_district.value.details["parent_code"][0]
    with pytest.raises(InvalidInput) as unknown:
        write(tree, operations.register_organization, {**community, "parent_code": "nowhere"})
    assert "no organization has the code 'nowhere'" in unknown.value.details["parent_code"][0]
    with pytest.raises(NotFound):
        read(tree, views.get_organization, "nowhere")


def test_an_enterprise_with_its_own_union_gets_it_as_an_organization_that_moves_with_it(tree):
    created = write(tree, operations.register_enterprise,
                    enterprise(1, headcount=80, union_status="own"))
    union_code = domain.enterprise_union_code(NANKENG, credit_code(1))
    assert created["union_code"] == union_code
    union = read(tree, views.get_organization, union_code)
    assert (union["kind"], union["tier"], union["enterprise_credit_code"]) == (
        "enterprise_union", "enterprise", credit_code(1))
    assert union["path"] == [DISTRICT, BANTIAN, NANKENG, union_code]

    moved = write(tree, operations.move_enterprise, credit_code(1), ZHANGBEI)
    assert moved["path"] == [DISTRICT, LONGCHENG, ZHANGBEI]
    assert read(tree, views.get_organization, union_code)["path"] == [
        DISTRICT, LONGCHENG, ZHANGBEI, union_code]
    assert [kind for kind, _ in outbox(tree)][-2:] == ["enterprise_moved", "organization_moved"]


def test_registering_an_enterprise_union_gives_its_enterprise_its_own_union(tree):
    write(tree, operations.register_enterprise, enterprise(2, headcount=60,
                                                           union_status="covered"))
    write(tree, operations.register_enterprise, enterprise(3, headcount=12))
    union = {"code": "longgang.bantian.nankeng.huaxing", "name": "华兴工会",
             "kind": "enterprise_union", "parent_code": NANKENG,
             "enterprise_credit_code": credit_code(2)}
    write(tree, operations.register_organization, union)
    assert read(tree, views.get_enterprise, credit_code(2))["union_code"] == union["code"]
    assert stats(tree, NANKENG) == (2, 72, 1, 0)

    with pytest.raises(InvalidInput) as too_small:  # 12 workers: the <25 rule
        write(tree, operations.register_organization, {
            **union, "code": "longgang.bantian.nankeng.small",
            "enterprise_credit_code": credit_code(3)})
    assert "under 25 workers" in too_small.value.details["union_status"][0]
    with pytest.raises(NotFound):  # the rejected union was not left behind
        read(tree, views.get_organization, "longgang.bantian.nankeng.small")


def test_statistics_follow_registration_update_move_and_close(tree):
    write(tree, operations.register_enterprise, enterprise(1, headcount=40,
                                                           union_status="own"))
    write(tree, operations.register_enterprise, enterprise(2, headcount=10,
                                                           union_status="covered"))
    write(tree, operations.register_enterprise, enterprise(3, community=ZHANGBEI,
                                                           headcount=7))
    assert stats(tree, NANKENG) == (2, 50, 1, 1)
    assert stats(tree, DISTRICT) == (3, 57, 1, 1)
    assert read(tree, views.statistics, DISTRICT)["establishment_rate"] == 0.6667

    write(tree, operations.update_enterprise, credit_code(2), {"headcount": 30})
    write(tree, operations.move_enterprise, credit_code(2), GANGTOU)
    assert stats(tree, NANKENG) == (1, 40, 1, 0)
    assert stats(tree, GANGTOU) == (1, 30, 0, 1)
    assert stats(tree, BANTIAN) == (2, 70, 1, 1)

    write(tree, operations.close_enterprise, credit_code(1), "搬迁")
    assert stats(tree, BANTIAN) == (1, 30, 0, 1)
    assert stats(tree, DISTRICT) == (2, 37, 0, 1)


def test_moving_a_community_carries_its_subtree_and_counts_to_the_new_street(tree):
    write(tree, operations.register_enterprise, enterprise(1, community=GANGTOU,
                                                           headcount=50,
                                                           union_status="own"))
    union_code = domain.enterprise_union_code(GANGTOU, credit_code(1))
    moved = write(tree, operations.move_organization, GANGTOU, LONGCHENG)
    assert moved["path"] == [DISTRICT, LONGCHENG, GANGTOU]
    assert read(tree, views.get_organization, union_code)["path"] == [
        DISTRICT, LONGCHENG, GANGTOU, union_code]
    assert read(tree, views.get_enterprise, credit_code(1))["path"] == [
        DISTRICT, LONGCHENG, GANGTOU]
    assert stats(tree, BANTIAN) == (0, 0, 0, 0)
    assert stats(tree, LONGCHENG) == (1, 50, 1, 0)
    assert stats(tree, DISTRICT) == (1, 50, 1, 0)
    with pytest.raises(InvalidInput):  # a street cannot go under its own community
        write(tree, operations.move_organization, LONGCHENG, GANGTOU)
    with pytest.raises(InvalidInput):
        write(tree, operations.move_organization, union_code, NANKENG)


def test_the_kept_counts_equal_a_full_recount_after_random_changes(tree):
    rng = random.Random(7)
    communities = [NANKENG, GANGTOU, TIANAN, ZHANGBEI]
    registered, rejected = [], 0
    for _ in range(150):
        action = rng.random()
        try:
            if action < 0.4 or not registered:
                number = len(registered) + rejected + 100
                write(tree, operations.register_enterprise, enterprise(
                    number, community=rng.choice(communities), headcount=rng.randint(1, 90),
                    union_status=rng.choice(["own", "covered", "none"])))
                registered.append(credit_code(number))
            elif action < 0.6:
                write(tree, operations.update_enterprise, rng.choice(registered), {
                    "headcount": rng.randint(1, 90),
                    "union_status": rng.choice(["own", "covered", "none"])})
            elif action < 0.75:
                write(tree, operations.move_enterprise, rng.choice(registered),
                      rng.choice(communities))
            elif action < 0.85:
                write(tree, operations.close_enterprise, rng.choice(registered), "停业")
            else:
                write(tree, operations.move_organization, rng.choice([GANGTOU, TIANAN]),
                      rng.choice([BANTIAN, LONGCHENG]))
        except (InvalidInput, Conflict):
            rejected += 1  # e.g. own union under 25 workers, a closed enterprise: no effect
    with tree.session() as session:
        assert views.stored_counts(session) == views.recount(session)
    assert 0 < rejected < 100 and len(registered) > 20


def test_a_key_enterprises_chain_starts_at_its_own_union_and_names_its_leader(tree):
    write(tree, operations.register_enterprise, enterprise(
        1, headcount=800, union_status="own", assigned_leader=LEADER))
    union_code = domain.enterprise_union_code(NANKENG, credit_code(1))
    chain = read(tree, views.chain, credit_code=credit_code(1))
    assert [item["union"]["code"] for item in chain["chain"]] == [
        union_code, NANKENG, BANTIAN, DISTRICT]
    assert [item["tier"] for item in chain["chain"]] == [
        "enterprise", "community", "street", "district"]
    assert chain["assigned_leader"] == LEADER
    assert chain["enterprise"]["key_enterprise"] is True
    assert chain["chain"][1]["party_organization"]["kind"] == "community_party_committee"
    assert chain["chain"][3]["contacts"][0]["role"] == "主席"
    by_union = read(tree, views.chain, code=union_code)
    assert by_union["chain"] == chain["chain"] and by_union["assigned_leader"] == LEADER


def test_a_covered_enterprise_and_a_community_chain_from_their_community(tree):
    write(tree, operations.register_enterprise, enterprise(2, union_status="covered"))
    chain = read(tree, views.chain, credit_code=credit_code(2))
    assert [item["union"]["code"] for item in chain["chain"]] == [NANKENG, BANTIAN, DISTRICT]
    assert chain["assigned_leader"] is None
    community = read(tree, views.chain, code=NANKENG)
    assert community["chain"] == chain["chain"] and community["enterprise"] is None
    industry = read(tree, views.chain, code=CONSTRUCTION)
    assert [item["union"]["code"] for item in industry["chain"]] == [CONSTRUCTION, DISTRICT]
    with pytest.raises(InvalidInput):
        read(tree, views.chain, code=NANKENG, credit_code=credit_code(2))


def test_every_change_publishes_a_valid_snapshot_and_a_no_op_publishes_nothing(tree):
    write(tree, operations.register_enterprise, enterprise(1, headcount=30))
    write(tree, operations.update_enterprise, credit_code(1), {"headcount": 31})
    write(tree, operations.update_organization, NANKENG, {"name": "南坑社区工联会"})
    write(tree, operations.set_contacts, NANKENG, [
        {"name": "李", "role": "主席", "webhook_url": "https://hooks.example.org/nk"}])
    before = len(outbox(tree))
    write(tree, operations.update_enterprise, credit_code(1), {"headcount": 31, "name": "企业1"})
    write(tree, operations.update_organization, NANKENG, {"name": "南坑社区工联会"})
    write(tree, operations.set_contacts, NANKENG, [
        {"name": "李", "role": "主席", "webhook_url": "https://hooks.example.org/nk"}])
    write(tree, operations.move_enterprise, credit_code(1), NANKENG)
    write(tree, operations.move_organization, NANKENG, BANTIAN)
    write(tree, operations.close_enterprise, credit_code(1), "停业")
    write(tree, operations.close_enterprise, credit_code(1), "停业")  # a retry
    events = outbox(tree)
    assert [kind for kind, _ in events[before:]] == ["enterprise_closed"]
    for body in outbox(tree, envelopes=True):
        parse_envelope(body, "registry", body["type"])  # the contract accepts each one
    updated = [data for kind, data in events if kind == "enterprise_updated"][0]
    assert (updated["changed"], updated["previous"]) == (["headcount"], {"headcount": 30})
    assert [data for kind, data in events if kind == "organization_updated"][0][
        "changed"] == ["name"]


def test_a_closed_enterprise_cannot_change(tree):
    write(tree, operations.register_enterprise, enterprise(1))
    write(tree, operations.close_enterprise, credit_code(1), "注销")
    with pytest.raises(Conflict):
        write(tree, operations.update_enterprise, credit_code(1), {"headcount": 3})
    assert read(tree, views.get_enterprise, credit_code(1))["closed_reason"] == "注销"


def test_bad_enterprise_input_is_rejected_with_field_details(tree):
    bad_check = credit_code(1)[:-1] + ("0" if credit_code(1)[-1] != "0" else "1")
    with pytest.raises(InvalidInput) as mistyped:
        write(tree, operations.register_enterprise, {**enterprise(1), "credit_code": bad_check})
    assert "check digit" in mistyped.value.details["credit_code"][0]
    with pytest.raises(InvalidInput) as garbage:
        write(tree, operations.register_enterprise, {
            **enterprise(2), "headcount": "many", "colour": "red", "union_status": "maybe"})
    assert set(garbage.value.details) == {"headcount", "colour", "union_status"}
    with pytest.raises(InvalidInput) as street:
        write(tree, operations.register_enterprise, enterprise(3, community=BANTIAN))
    assert "community_code" in street.value.details
    with pytest.raises(InvalidInput) as leader:
        write(tree, operations.register_enterprise, enterprise(4, assigned_leader=LEADER))
    assert "assigned_leader" in leader.value.details
    with pytest.raises(Conflict):
        write(tree, operations.register_enterprise, enterprise(5))
        write(tree, operations.register_enterprise, enterprise(5))
    with pytest.raises(NotFound):
        read(tree, views.get_enterprise, credit_code(6))


def test_enterprises_of_a_subtree_come_in_pages_by_community(tree):
    for number, community in enumerate([NANKENG, NANKENG, GANGTOU, ZHANGBEI, TIANAN]):
        write(tree, operations.register_enterprise, enterprise(number, community=community))
    write(tree, operations.close_enterprise, credit_code(1), "注销")
    first = read(tree, views.list_enterprises, BANTIAN, 2, 0)
    second = read(tree, views.list_enterprises, BANTIAN, 2, 2)
    assert first["total"] == second["total"] == 3
    assert [e["community_code"] for e in first["items"] + second["items"]] == [
        GANGTOU, NANKENG, TIANAN]
    assert first["items"][1]["path"] == [DISTRICT, BANTIAN, NANKENG]
    everything = read(tree, views.list_enterprises, BANTIAN, include_closed=True)
    assert [e["credit_code"] for e in everything["items"]] == [
        credit_code(2), *sorted([credit_code(0), credit_code(1)]), credit_code(4)]
    assert everything["total"] == 4
    assert read(tree, views.list_enterprises, DISTRICT)["total"] == 4
    assert read(tree, views.list_enterprises, CONSTRUCTION)["items"] == []
    with pytest.raises(InvalidInput):
        read(tree, views.list_enterprises, BANTIAN, 0)


def test_an_enterprise_keeps_one_own_union_when_it_leaves_and_rejoins_it(tree):
    write(tree, operations.register_enterprise, enterprise(1, headcount=60, union_status="own"))
    union_code = domain.enterprise_union_code(NANKENG, credit_code(1))
    write(tree, operations.update_enterprise, credit_code(1), {"union_status": "covered"})
    write(tree, operations.move_enterprise, credit_code(1), ZHANGBEI)
    with pytest.raises(InvalidInput) as second_union:  # the default code would be a new one
        write(tree, operations.update_enterprise, credit_code(1), {"union_status": "own"})
    assert union_code in second_union.value.details["union_code"][0]
    write(tree, operations.update_enterprise, credit_code(1),
          {"union_status": "own", "union_code": union_code})
    assert read(tree, views.get_organization, union_code)["parent_code"] == ZHANGBEI
    with pytest.raises(Conflict):
        write(tree, operations.register_organization, {
            "code": "longgang.longcheng.zhangbei.again", "name": "又一个工会",
            "kind": "enterprise_union", "parent_code": ZHANGBEI,
            "enterprise_credit_code": credit_code(1)})
