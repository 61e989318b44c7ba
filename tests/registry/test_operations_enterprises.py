"""Changing enterprises through the registry's entrypoints on a real database (SQLite and
PostgreSQL), no broker: registration, updates, moves, closing, the counts kept
incrementally, the events written to the outbox, who may do what (the caller)."""

import random

import pytest

from services.registry import domain, views
from services.registry.sample import credit_code
from shared.errors import Conflict, Forbidden, InvalidInput, NotFound
from shared.events import parse_envelope
from tests.registry.conftest import (
    ADMIN,
    BANTIAN,
    DISTRICT,
    GANGTOU,
    LEADER,
    LONGCHENG,
    NANKENG,
    TIANAN,
    ZHANGBEI,
    caller,
    enterprise,
    outbox,
    stats,
)


def test_an_enterprise_with_its_own_union_gets_it_as_an_organization_that_moves_with_it(
        tree, registry):
    created = registry.register_enterprise(enterprise(1, headcount=80, union_status="own"),
                                           ADMIN)
    union_code = domain.enterprise_union_code(NANKENG, credit_code(1))
    assert created["union_code"] == union_code
    union = registry.get_organization(union_code)
    assert (union["kind"], union["tier"], union["enterprise_credit_code"]) == (
        "enterprise_union", "enterprise", credit_code(1))
    assert union["path"] == [DISTRICT, BANTIAN, NANKENG, union_code]

    moved = registry.move_enterprise(credit_code(1), ZHANGBEI, ADMIN)
    assert moved["path"] == [DISTRICT, LONGCHENG, ZHANGBEI]
    assert registry.get_organization(union_code)["path"] == [
        DISTRICT, LONGCHENG, ZHANGBEI, union_code]
    assert [kind for kind, _ in outbox(tree)][-2:] == ["enterprise_moved", "organization_moved"]


def test_statistics_follow_registration_update_move_and_close(tree, registry):
    registry.register_enterprise(enterprise(1, headcount=40, union_status="own"), ADMIN)
    registry.register_enterprise(enterprise(2, headcount=10, union_status="covered"), ADMIN)
    registry.register_enterprise(enterprise(3, community=ZHANGBEI, headcount=7), ADMIN)
    assert stats(registry, NANKENG) == (2, 50, 1, 1)
    assert stats(registry, DISTRICT) == (3, 57, 1, 1)
    assert registry.statistics(DISTRICT)["establishment_rate"] == 0.6667

    registry.update_enterprise(credit_code(2), {"headcount": 30}, ADMIN)
    registry.move_enterprise(credit_code(2), GANGTOU, ADMIN)
    assert stats(registry, NANKENG) == (1, 40, 1, 0)
    assert stats(registry, GANGTOU) == (1, 30, 0, 1)
    assert stats(registry, BANTIAN) == (2, 70, 1, 1)

    registry.close_enterprise(credit_code(1), "搬迁", ADMIN)
    assert stats(registry, BANTIAN) == (1, 30, 0, 1)
    assert stats(registry, DISTRICT) == (2, 37, 0, 1)


def test_the_kept_counts_equal_a_full_recount_after_random_changes(tree, registry):
    rng = random.Random(7)
    communities = [NANKENG, GANGTOU, TIANAN, ZHANGBEI]
    registered, rejected = [], 0
    for _ in range(150):
        action = rng.random()
        try:
            if action < 0.4 or not registered:
                number = len(registered) + rejected + 100
                registry.register_enterprise(enterprise(
                    number, community=rng.choice(communities), headcount=rng.randint(1, 90),
                    union_status=rng.choice(["own", "covered", "none"])), ADMIN)
                registered.append(credit_code(number))
            elif action < 0.6:
                registry.update_enterprise(rng.choice(registered), {
                    "headcount": rng.randint(1, 90),
                    "union_status": rng.choice(["own", "covered", "none"])}, ADMIN)
            elif action < 0.75:
                registry.move_enterprise(rng.choice(registered), rng.choice(communities),
                                         ADMIN)
            elif action < 0.85:
                registry.close_enterprise(rng.choice(registered), "停业", ADMIN)
            else:
                registry.move_organization(rng.choice([GANGTOU, TIANAN]),
                                           rng.choice([BANTIAN, LONGCHENG]), ADMIN)
        except (InvalidInput, Conflict):
            rejected += 1  # e.g. own union under 25 workers, a closed enterprise: no effect
    with tree.session() as session:
        assert views.stored_counts(session) == views.recount(session)
    assert 0 < rejected < 100 and len(registered) > 20


def test_every_change_publishes_a_valid_snapshot_and_a_no_op_publishes_nothing(tree, registry):
    registry.register_enterprise(enterprise(1, headcount=30), ADMIN)
    registry.update_enterprise(credit_code(1), {"headcount": 31}, ADMIN)
    registry.update_organization(NANKENG, {"name": "南坑社区工联会"}, ADMIN)
    registry.set_contacts(NANKENG, [
        {"name": "李", "role": "主席", "webhook_url": "https://hooks.example.org/nk"}], ADMIN)
    before = len(outbox(tree))
    registry.update_enterprise(credit_code(1), {"headcount": 31, "name": "企业1"}, ADMIN)
    registry.update_organization(NANKENG, {"name": "南坑社区工联会"}, ADMIN)
    registry.set_contacts(NANKENG, [
        {"name": "李", "role": "主席", "webhook_url": "https://hooks.example.org/nk"}], ADMIN)
    registry.move_enterprise(credit_code(1), NANKENG, ADMIN)
    registry.move_organization(NANKENG, BANTIAN, ADMIN)
    registry.close_enterprise(credit_code(1), "停业", ADMIN)
    registry.close_enterprise(credit_code(1), "停业", ADMIN)  # a retry
    events = outbox(tree)
    assert [kind for kind, _ in events[before:]] == ["enterprise_closed"]
    for body in outbox(tree, envelopes=True):
        parse_envelope(body, "registry", body["type"])  # the contract accepts each one
    updated = [data for kind, data in events if kind == "enterprise_updated"][0]
    assert (updated["changed"], updated["previous"]) == (["headcount"], {"headcount": 30})
    assert [data for kind, data in events if kind == "organization_updated"][0][
        "changed"] == ["name"]


def test_a_closed_enterprise_cannot_change(tree, registry):
    registry.register_enterprise(enterprise(1), ADMIN)
    registry.close_enterprise(credit_code(1), "注销", ADMIN)
    with pytest.raises(Conflict):
        registry.update_enterprise(credit_code(1), {"headcount": 3}, ADMIN)
    assert registry.get_enterprise(credit_code(1), ADMIN)["closed_reason"] == "注销"


def test_bad_enterprise_input_is_rejected_with_field_details(tree, registry):
    bad_check = credit_code(1)[:-1] + ("0" if credit_code(1)[-1] != "0" else "1")
    with pytest.raises(InvalidInput) as mistyped:
        registry.register_enterprise({**enterprise(1), "credit_code": bad_check}, ADMIN)
    assert "check digit" in mistyped.value.details["credit_code"][0]
    with pytest.raises(InvalidInput) as garbage:
        registry.register_enterprise({
            **enterprise(2), "headcount": "many", "colour": "red", "union_status": "maybe"}, ADMIN)
    assert set(garbage.value.details) == {"headcount", "colour", "union_status"}
    with pytest.raises(InvalidInput) as street:
        registry.register_enterprise(enterprise(3, community=BANTIAN), ADMIN)
    assert "community_code" in street.value.details
    with pytest.raises(InvalidInput) as leader:
        registry.register_enterprise(enterprise(4, assigned_leader=LEADER), ADMIN)
    assert "assigned_leader" in leader.value.details
    with pytest.raises(Conflict):
        registry.register_enterprise(enterprise(5), ADMIN)
        registry.register_enterprise(enterprise(5), ADMIN)
    with pytest.raises(NotFound):
        registry.get_enterprise(credit_code(6), ADMIN)


def test_an_enterprise_keeps_one_own_union_when_it_leaves_and_rejoins_it(tree, registry):
    registry.register_enterprise(enterprise(1, headcount=60, union_status="own"), ADMIN)
    union_code = domain.enterprise_union_code(NANKENG, credit_code(1))
    registry.update_enterprise(credit_code(1), {"union_status": "covered"}, ADMIN)
    registry.move_enterprise(credit_code(1), ZHANGBEI, ADMIN)
    with pytest.raises(InvalidInput) as second_union:  # the default code would be a new one
        registry.update_enterprise(credit_code(1), {"union_status": "own"}, ADMIN)
    assert union_code in second_union.value.details["union_code"][0]
    registry.update_enterprise(credit_code(1), {"union_status": "own", "union_code": union_code},
                               ADMIN)
    assert registry.get_organization(union_code)["parent_code"] == ZHANGBEI
    with pytest.raises(Conflict):
        registry.register_organization({
            "code": "longgang.longcheng.zhangbei.again", "name": "又一个工会",
            "kind": "enterprise_union", "parent_code": ZHANGBEI,
            "enterprise_credit_code": credit_code(1)}, ADMIN)


def test_an_enterprise_is_put_under_a_union_only_of_the_callers_subtree(tree, registry):
    registry.register_enterprise(enterprise(1, headcount=60, union_status="covered"), ADMIN)
    bantian_staff = caller(BANTIAN, "staff")
    before = len(outbox(tree))
    with pytest.raises(Forbidden):  # another street's federation takes it in
        registry.update_enterprise(credit_code(1), {"union_code": ZHANGBEI}, bantian_staff)
    with pytest.raises(Forbidden):
        registry.register_enterprise(enterprise(2, union_status="covered",
                                                union_code=ZHANGBEI), bantian_staff)
    with pytest.raises(InvalidInput) as error:  # an own union placed under another street
        registry.update_enterprise(credit_code(1), {
            "union_status": "own", "union_code": "longgang.longcheng.evil"}, bantian_staff)
    assert "union_code" in error.value.details
    assert len(outbox(tree)) == before
    assert registry.get_enterprise(credit_code(1), ADMIN)["union_code"] == NANKENG
    # the district may place it with a federation anywhere; a street edit of another
    # field does not undo that nor needs that federation's scope
    registry.update_enterprise(credit_code(1), {"union_code": ZHANGBEI}, ADMIN)
    assert registry.update_enterprise(credit_code(1), {"headcount": 61},
                                      bantian_staff)["union_code"] == ZHANGBEI


def test_a_caller_touches_enterprises_only_within_its_subtree(tree, registry):
    registry.register_enterprise(enterprise(1), ADMIN)
    registry.register_enterprise(enterprise(2, community=GANGTOU), ADMIN)
    nankeng_staff, viewer = caller(NANKENG, "staff"), caller(NANKENG, "viewer")
    assert registry.update_enterprise(credit_code(1), {"headcount": 31},
                                      nankeng_staff)["headcount"] == 31
    assert registry.get_enterprise(credit_code(1), viewer)["headcount"] == 31
    before = len(outbox(tree))
    for refused in (
            lambda: registry.register_enterprise(enterprise(3, community=GANGTOU),
                                                 nankeng_staff),
            lambda: registry.update_enterprise(credit_code(2), {"headcount": 1},
                                               nankeng_staff),
            lambda: registry.move_enterprise(credit_code(1), GANGTOU, nankeng_staff),  # to
            lambda: registry.move_enterprise(credit_code(2), NANKENG, nankeng_staff),  # from
            lambda: registry.close_enterprise(credit_code(2), "搬迁", nankeng_staff),
            lambda: registry.update_enterprise(credit_code(1), {"headcount": 1}, viewer),
            lambda: registry.get_enterprise(credit_code(2), viewer),
            lambda: registry.chain(credit_code=credit_code(2), caller=viewer),
            lambda: registry.list_enterprises(BANTIAN, viewer),
    ):
        with pytest.raises(Forbidden):
            refused()
    assert len(outbox(tree)) == before
    report = registry.import_enterprises([enterprise(4), enterprise(5, community=GANGTOU),
                                          {"credit_code": credit_code(2), "headcount": 9}],
                                         nankeng_staff)
    assert (report["created"], report["rejected"]) == (1, 2)
    assert [error["row"] for error in report["errors"]] == [2, 3]
    assert all("outside the subtree of organization longgang.bantian.nankeng" in error["reason"]
               for error in report["errors"])
