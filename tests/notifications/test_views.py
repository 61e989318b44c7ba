"""The reads (SQLite and PostgreSQL): who may read a case and an inbox, decided from the
read model (the subtree of a notified recipient, or the root of the tree), and the lists
paged by cursor. The gateway passes its user as the caller; see
services/gateway/routes/notifications.py.
"""

from datetime import timedelta

import pytest

from services.notifications import readmodel, views
from shared.caller import Caller
from shared.errors import Forbidden, InvalidInput, NotFound
from shared.paging import encode_cursor
from tests.notifications.conftest import (
    COMMUNITY,
    COMMUNITY_STAFF,
    DISTRICT,
    DISTRICT_STAFF,
    KEY_ENTERPRISE,
    ORGANIZATIONS,
    PATH,
    STREET,
    T0,
    later,
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
    """True if the case's views all answer a viewer at ``scope``; False if all refuse."""
    caller = Caller("看的人", "viewer", scope)
    answers = []
    with database.session() as session:
        for view in (views.case_escalation, views.case_notifications, views.case_audit):
            try:
                view(session, case_id, caller)
                answers.append(True)
            except NotFound:  # nothing to tell apart from a case that does not exist
                answers.append(False)
    assert len(set(answers)) == 1, answers
    return answers[0]


def test_a_routine_case_told_to_nankeng_is_seen_up_its_chain_and_nowhere_else(tree, notifier):
    run(tree, notifier.open_case, opened(grade="routine"), T0)
    assert visible(tree, COMMUNITY)  # the community union was told
    assert visible(tree, STREET) and visible(tree, DISTRICT)  # above it
    assert not visible(tree, ZHANGBEI) and not visible(tree, YUANSHAN)  # another subtree
    assert not visible(tree, FACTORY_UNION)  # below the recipient is not within it
    assert not visible(tree, "longgang.nowhere")  # unknown to the registry


def test_without_a_caller_the_view_is_unfiltered(tree, notifier):
    """The service's own command line reads as nobody in particular."""
    run(tree, notifier.open_case, opened(grade="routine"), T0)
    with tree.session() as session:
        assert views.case_escalation(session, "case-1")["case_id"] == "case-1"


def test_only_the_root_sees_a_case_that_told_nobody(tree, notifier):
    run(tree, notifier.change_status, status_changed(status="rejected"), T0)
    run(tree, notifier.open_case, opened(grade="major"), T0 + timedelta(seconds=1))
    assert visible(tree, DISTRICT)
    assert not visible(tree, COMMUNITY) and not visible(tree, STREET)


def test_a_leader_puts_a_case_in_the_scope_of_its_key_enterprise_s_community(tree):
    leader = {(KEY_ENTERPRISE["credit_code"], "leader")}
    with tree.session() as session:
        for scope in (COMMUNITY, STREET, DISTRICT):
            assert views.in_scope(session, scope, leader)
        assert not views.in_scope(session, ZHANGBEI, leader)
        # an enterprise the registry never told of
        assert not views.in_scope(session, STREET, {("9144NOBODY", "leader")})


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


def test_an_inbox_is_read_from_within_its_organization_s_subtree_only(tree, notifier):
    run(tree, notifier.open_case, opened(grade="routine", key_enterprise=True), T0)
    leader = KEY_ENTERPRISE["credit_code"]
    with tree.session() as session:
        for caller in (COMMUNITY_STAFF, DISTRICT_STAFF, Caller("坂田", "viewer", STREET)):
            assert len(views.inbox(session, COMMUNITY, caller)["items"]) == 1
            assert len(views.inbox(session, leader, caller, recipient_kind="leader")
                       ["items"]) == 1
        for scope in (ZHANGBEI, FACTORY_UNION):
            with pytest.raises(Forbidden, match="outside the subtree") as refused:
                views.inbox(session, COMMUNITY, Caller("别处", "admin", scope))
            assert refused.value.details == {"organization_code": scope}
        with pytest.raises(Forbidden):
            views.inbox(session, leader, Caller("别处", "admin", ZHANGBEI),
                        recipient_kind="leader")


# --- lists by cursor -------------------------------------------------------------------

def walk(read_page, limit):
    """Every item of a list, a page of ``limit`` at a time; and the pages' sizes."""
    items, sizes, cursor = [], [], None
    while True:
        page = read_page(cursor=cursor, limit=limit)
        assert set(page) == {"items", "next_cursor"}
        items += page["items"]
        sizes.append(len(page["items"]))
        cursor = page["next_cursor"]
        if cursor is None:
            return items, sizes


def busy_case(database, notifier):
    """A major case (six recipients at once), reminded, then at the top of the chain."""
    run(database, notifier.open_case, opened(grade="major"), T0)
    for hour in range(1, 4):
        run(database, notifier.fire_due_deadlines, later(hour * 3600), "replica-a")


def test_walking_a_case_s_audit_by_cursor_sees_every_entry_once_in_order(tree, notifier):
    busy_case(tree, notifier)
    with tree.session() as session:
        everything = views.case_audit(session, "case-1", limit=500)
        assert everything["next_cursor"] is None
        items, sizes = walk(lambda **page: views.case_audit(session, "case-1", **page), 7)
    assert items == everything["items"] and len(items) > 20
    assert sizes[:-1] == [7] * (len(sizes) - 1) and 1 <= sizes[-1] <= 7
    assert [e["at"] for e in items] == sorted(e["at"] for e in items)


def test_walking_a_case_s_notifications_and_an_inbox_by_cursor(tree, notifier):
    busy_case(tree, notifier)
    with tree.session() as session:
        told, sizes = walk(lambda **page: views.case_notifications(
            session, "case-1", DISTRICT_STAFF, **page), 4)
        messages, _ = walk(lambda **page: views.inbox(session, COMMUNITY, **page), 1)
    assert sizes == [4, 2]
    assert sorted((n["organization_code"], n["recipient_kind"]) for n in told) == sorted(
        (code, kind) for code in (COMMUNITY, STREET, DISTRICT) for kind in ("union", "party"))
    assert [m["kind"] for m in messages] == ["notice", "reminder", "reminder", "reminder"]
    assert [m["id"] for m in messages] == sorted(m["id"] for m in messages)


def test_an_unacknowledged_inbox_pages_over_what_is_still_open(tree, notifier):
    for n in range(5):
        run(tree, notifier.open_case, opened(f"case-{n}"), T0)
    for n in (1, 3):
        run(tree, notifier.acknowledge, f"case-{n}", COMMUNITY, "union", COMMUNITY_STAFF,
            later(1))
    with tree.session() as session:
        messages, sizes = walk(lambda **page: views.inbox(
            session, COMMUNITY, unacknowledged=True, **page), 2)
    assert [m["case_id"] for m in messages] == ["case-0", "case-2", "case-4"]
    assert sizes == [2, 1]


def test_a_cursor_this_list_did_not_give_out_is_refused(tree, notifier):
    busy_case(tree, notifier)
    with tree.session() as session:
        first = views.case_notifications(session, "case-1", limit=2)
        for cursor in ("garbage!", first["next_cursor"][:-2] + "zz",
                       encode_cursor(["x", 1, 2])):
            for read in (views.case_audit, views.case_notifications):
                with pytest.raises(InvalidInput) as refused:
                    read(session, "case-1", cursor=cursor, limit=2)
                assert refused.value.details == {"cursor": ["invalid cursor"]}
        with pytest.raises(InvalidInput):
            views.inbox(session, COMMUNITY, cursor=first["next_cursor"])


@pytest.mark.parametrize("key", [["x"], [{"a": 1}], [None], [True], [2**63]])
def test_a_cursor_with_values_of_the_wrong_type_is_refused_not_sent_to_the_database(
        tree, notifier, key):
    run(tree, notifier.open_case, opened(grade="routine"), T0)
    with tree.session() as session:
        with pytest.raises(InvalidInput):
            views.case_audit(session, "case-1", cursor=encode_cursor(key))
        with pytest.raises(InvalidInput):
            views.inbox(session, COMMUNITY, cursor=encode_cursor(key))
        with pytest.raises(InvalidInput):
            views.case_notifications(session, "case-1", cursor=encode_cursor(key * 2))
