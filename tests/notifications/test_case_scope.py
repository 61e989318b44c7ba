"""Who may read a case's notifications, decided from the read model (SQLite and
PostgreSQL): the subtree of a notified recipient, or the root of the tree. The gateway
passes the caller's organization as ``scope``; see services/gateway/routes/notifications.py.
"""

from datetime import timedelta
from types import SimpleNamespace

import pytest

from services.notifications import readmodel, views
from shared.errors import Forbidden, InvalidInput
from tests.notifications.conftest import (
    COMMUNITY,
    DISTRICT,
    KEY_ENTERPRISE,
    ORGANIZATIONS,
    PATH,
    STREET,
    T0,
    opened,
    registry_event,
    status_changed,
)

YUANSHAN = "longgang.yuanshan"
ZHANGBEI = "longgang.yuanshan.zhangbei"
FACTORY_UNION = "longgang.bantian.nankeng.u1"  # an enterprise union below 南坑
ELSEWHERE = [
    {"code": YUANSHAN, "name": "园山街道总工会", "kind": "street_federation", "tier": "street",
     "parent_code": DISTRICT, "path": [DISTRICT, YUANSHAN], "party_organization": None},
    {"code": ZHANGBEI, "name": "嶂背社区工联会", "kind": "community_federation",
     "tier": "community", "parent_code": YUANSHAN, "path": [DISTRICT, YUANSHAN, ZHANGBEI],
     "party_organization": None},
    {"code": FACTORY_UNION, "name": "南坑五金厂工会", "kind": "enterprise_union",
     "tier": "enterprise", "parent_code": COMMUNITY, "path": [*PATH, FACTORY_UNION],
     "party_organization": None},
]


@pytest.fixture
def tree(chain):
    """The 南坑 chain with its key enterprise, 园山 street with 嶂背, and a factory union."""
    with chain.unit_of_work() as uow:
        for organization in ELSEWHERE:
            readmodel.apply_organization(uow.session, *registry_event(
                "organization_registered", organization))
    return chain


def move_nankeng_to_yuanshan(database):
    """The registry's one event for the move: 南坑's descendants get none."""
    moved = {**ORGANIZATIONS[2], "parent_code": YUANSHAN,
             "path": [DISTRICT, YUANSHAN, COMMUNITY], "from_parent_code": STREET,
             "to_parent_code": YUANSHAN}
    with database.unit_of_work() as uow:
        readmodel.apply_organization(uow.session, *registry_event(
            "organization_moved", moved, T0 + timedelta(seconds=5)))


def run(database, method, *args):
    with database.unit_of_work() as uow:
        return method(uow, *args)


def visible(database, scope, case_id="case-1"):
    """True if both the case view and its audit answer ``scope``; False if both refuse."""
    answers = []
    with database.session() as session:
        for view in (views.case_view, views.case_audit):
            try:
                view(session, case_id, scope)
                answers.append(True)
            except Forbidden as refused:
                assert refused.details == {"org_code": scope}
                answers.append(False)
    assert answers[0] == answers[1], answers
    return answers[0]


def test_a_routine_case_told_to_nankeng_is_seen_up_its_chain_and_nowhere_else(tree, notifier):
    run(tree, notifier.open_case, opened(grade="routine"), T0)
    assert visible(tree, COMMUNITY)  # the community union was told
    assert visible(tree, STREET) and visible(tree, DISTRICT)  # above it
    assert not visible(tree, ZHANGBEI) and not visible(tree, YUANSHAN)  # another subtree
    assert not visible(tree, FACTORY_UNION)  # below the recipient is not within it
    assert not visible(tree, "longgang.nowhere")  # unknown to the registry


def test_without_scope_the_view_is_unfiltered_and_a_bad_scope_is_rejected(tree, notifier):
    run(tree, notifier.open_case, opened(grade="routine"), T0)
    with tree.session() as session:
        assert views.case_view(session, "case-1")["case_id"] == "case-1"
        for scope in ("", 42, ["longgang"]):
            with pytest.raises(InvalidInput):
                views.case_view(session, "case-1", scope)


def test_only_the_root_sees_a_case_that_told_nobody(tree, notifier):
    run(tree, notifier.change_status, status_changed(status="rejected"), T0)
    run(tree, notifier.open_case, opened(grade="major"), T0 + timedelta(seconds=1))
    assert visible(tree, DISTRICT)
    assert not visible(tree, COMMUNITY) and not visible(tree, STREET)


def test_a_leader_puts_a_case_in_the_scope_of_its_key_enterprise_s_community(tree):
    case = SimpleNamespace(case_id="case-1", enterprise={"path": []})
    leader = {(KEY_ENTERPRISE["credit_code"], "leader")}
    with tree.session() as session:
        for scope in (COMMUNITY, STREET, DISTRICT):
            views.require_in_scope(session, case, leader, scope)
        with pytest.raises(Forbidden):
            views.require_in_scope(session, case, leader, ZHANGBEI)
        with pytest.raises(Forbidden):  # an enterprise the registry never told of
            views.require_in_scope(session, case, {("9144NOBODY", "leader")}, STREET)


def test_paths_follow_a_move_of_an_ancestor_whose_descendants_got_no_event(tree):
    move_nankeng_to_yuanshan(tree)
    with tree.session() as session:
        organizations, enterprises = readmodel.current_paths(
            session, {COMMUNITY, FACTORY_UNION}, {KEY_ENTERPRISE["credit_code"]})
    assert organizations == {COMMUNITY: [DISTRICT, YUANSHAN, COMMUNITY],
                             FACTORY_UNION: [DISTRICT, YUANSHAN, COMMUNITY, FACTORY_UNION]}
    assert enterprises == {KEY_ENTERPRISE["credit_code"]: [DISTRICT, YUANSHAN, COMMUNITY]}


def test_a_case_moved_with_its_community_is_seen_from_the_new_street(tree, notifier):
    run(tree, notifier.open_case, opened(grade="routine"), T0)
    move_nankeng_to_yuanshan(tree)
    assert visible(tree, YUANSHAN) and not visible(tree, STREET)


def test_codes_the_registry_has_not_told_of_yet_sit_where_the_case_s_path_puts_them(database):
    with database.session() as session:
        organizations, _ = readmodel.current_paths(
            session, {STREET, DISTRICT, "longgang.nowhere"}, fallback=PATH)
    assert organizations == {STREET: [DISTRICT, STREET], DISTRICT: [DISTRICT]}


def test_before_the_registry_has_spoken_the_case_s_path_decides(database, notifier):
    run(database, notifier.open_case, opened(grade="routine"), T0)
    assert visible(database, COMMUNITY) and visible(database, STREET)
    assert visible(database, DISTRICT)  # the first code of every path: the root
    assert not visible(database, ZHANGBEI)
