"""Changing the union tree through the registry's entrypoints on a real database (SQLite
and PostgreSQL), no broker: registering and moving organizations, enterprise unions,
contacts, who may do what (the caller)."""


import pytest

from services.registry import domain
from services.registry.sample import credit_code
from shared.errors import Conflict, Forbidden, InvalidInput, NotFound
from tests.registry.conftest import (
    ADMIN,
    BANTIAN,
    CHAIR,
    DISTRICT,
    GANGTOU,
    LONGCHENG,
    NANKENG,
    TIANAN,
    TREE,
    ZHANGBEI,
    caller,
    enterprise,
    outbox,
    party,
    stats,
)


def test_a_second_district_or_a_taken_code_is_a_conflict(tree, registry):
    with pytest.raises(Conflict):
        registry.register_organization({
            "code": "futian", "name": "福田区总工会", "kind": "district_federation",
            "party_organization": party("中共深圳市福田区委", "district_committee")}, ADMIN)
    with pytest.raises(Conflict):
        registry.register_organization({
            "code": NANKENG, "name": "again", "kind": "community_federation",
            "parent_code": BANTIAN,
            "party_organization": party("x", "community_party_committee")}, ADMIN)


def test_a_misplaced_or_unknown_parent_is_named_in_the_details(tree, registry):
    community = {"code": "longgang.x", "name": "x", "kind": "community_federation",
                 "party_organization": party("x", "community_party_committee")}
    with pytest.raises(InvalidInput) as under_district:
        registry.register_organization({**community, "parent_code": DISTRICT}, ADMIN)
    assert "street_federation" in under_district.value.details["parent_code"][0]
    with pytest.raises(InvalidInput) as unknown:
        registry.register_organization({**community, "parent_code": "nowhere"}, ADMIN)
    assert "no organization has the code 'nowhere'" in unknown.value.details["parent_code"][0]
    with pytest.raises(NotFound):
        registry.get_organization("nowhere")


def test_registering_an_enterprise_union_gives_its_enterprise_its_own_union(tree, registry):
    registry.register_enterprise(enterprise(2, headcount=60, union_status="covered"), ADMIN)
    registry.register_enterprise(enterprise(3, headcount=12), ADMIN)
    union = {"code": "longgang.bantian.nankeng.huaxing", "name": "华兴工会",
             "kind": "enterprise_union", "parent_code": NANKENG,
             "enterprise_credit_code": credit_code(2)}
    registry.register_organization(union, ADMIN)
    assert registry.get_enterprise(credit_code(2), ADMIN)["union_code"] == union["code"]
    assert stats(registry, NANKENG) == (2, 72, 1, 0)

    with pytest.raises(InvalidInput) as too_small:  # 12 workers: the <25 rule
        registry.register_organization({
            **union, "code": "longgang.bantian.nankeng.small",
            "enterprise_credit_code": credit_code(3)}, ADMIN)
    assert "under 25 workers" in too_small.value.details["union_status"][0]
    with pytest.raises(NotFound):  # the rejected union was not left behind
        registry.get_organization("longgang.bantian.nankeng.small")


def test_moving_a_community_carries_its_subtree_and_counts_to_the_new_street(tree, registry):
    registry.register_enterprise(enterprise(1, community=GANGTOU, headcount=50,
                                            union_status="own"), ADMIN)
    union_code = domain.enterprise_union_code(GANGTOU, credit_code(1))
    moved = registry.move_organization(GANGTOU, LONGCHENG, ADMIN)
    assert moved["path"] == [DISTRICT, LONGCHENG, GANGTOU]
    assert registry.get_organization(union_code)["path"] == [
        DISTRICT, LONGCHENG, GANGTOU, union_code]
    assert registry.get_enterprise(credit_code(1), ADMIN)["path"] == [
        DISTRICT, LONGCHENG, GANGTOU]
    assert stats(registry, BANTIAN) == (0, 0, 0, 0)
    assert stats(registry, LONGCHENG) == (1, 50, 1, 0)
    assert stats(registry, DISTRICT) == (1, 50, 1, 0)
    with pytest.raises(InvalidInput):  # a street cannot go under its own community
        registry.move_organization(LONGCHENG, GANGTOU, ADMIN)
    with pytest.raises(InvalidInput):
        registry.move_organization(union_code, NANKENG, ADMIN)


def test_a_caller_changes_organizations_only_within_its_subtree(tree, registry):
    bantian_staff, nankeng_viewer = caller(BANTIAN, "staff"), caller(NANKENG, "viewer")
    registry.set_contacts(NANKENG, [CHAIR], bantian_staff)
    registry.move_organization(TIANAN, BANTIAN, bantian_staff)  # already there: no change
    before = len(outbox(tree))
    community = {"code": "longgang.longcheng.x", "name": "x", "kind": "community_federation",
                 "parent_code": LONGCHENG,
                 "party_organization": party("x", "community_party_committee")}
    for refused in (
            lambda: registry.register_organization(community, bantian_staff),
            lambda: registry.update_organization(ZHANGBEI, {"name": "嶂背"}, bantian_staff),
            lambda: registry.set_contacts(ZHANGBEI, [CHAIR], bantian_staff),
            lambda: registry.move_organization(GANGTOU, LONGCHENG, bantian_staff),  # to
            lambda: registry.move_organization(ZHANGBEI, BANTIAN, bantian_staff),  # from
            lambda: registry.update_organization(NANKENG, {"name": "南坑"}, nankeng_viewer),
    ):
        with pytest.raises(Forbidden):
            refused()
    assert len(outbox(tree)) == before  # nothing was written
    assert registry.get_organization(ZHANGBEI)["name"] == "嶂背社区工会联合会"


def test_a_new_organizations_code_lies_under_its_parents_code(tree, registry):
    bantian_staff = caller(BANTIAN, "staff")
    before = len(outbox(tree))
    for code in ("longgang.longcheng.evil2", "longgang.bantianx", "longgang.bantian"):
        with pytest.raises((InvalidInput, Conflict)) as error:
            registry.register_organization({
                "code": code, "name": "x", "kind": "community_federation",
                "parent_code": BANTIAN,
                "party_organization": party("x", "community_party_committee")}, bantian_staff)
        if error.type is InvalidInput:
            assert "longgang.bantian." in error.value.details["code"][0]
    assert len(outbox(tree)) == before
    placed = registry.register_organization({
        "code": "longgang.bantian.xinwei", "name": "新围社区工联会",
        "kind": "community_federation", "parent_code": BANTIAN,
        "party_organization": party("x", "community_party_committee")}, bantian_staff)
    assert placed["path"] == [DISTRICT, BANTIAN, "longgang.bantian.xinwei"]


def test_the_caller_must_be_name_role_and_organization_code(tree, registry):
    for bad in (None, "admin", {"user": "x", "role": "admin", "org_code": DISTRICT},
                {"name": "x", "role": "god", "organization_code": DISTRICT}):
        with pytest.raises(InvalidInput) as rejected:
            registry.set_contacts(NANKENG, [CHAIR], bad)
        assert "caller" in rejected.value.message


def test_the_district_federation_is_registered_by_a_caller_of_its_own_code(db, registry):
    with pytest.raises(Forbidden):
        registry.register_organization(TREE[0], caller("longgang.bantian"))
    assert registry.register_organization(TREE[0], caller(DISTRICT))["path"] == [DISTRICT]


