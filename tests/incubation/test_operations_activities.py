"""Activities and their beneficiaries, members linked, and the statistics of distinct
workers reached per subtree and period."""

from datetime import date, timedelta
from decimal import Decimal

import pytest

from services.incubation import operations, readmodel, views
from shared.errors import Conflict, Forbidden, InvalidInput, NotFound
from shared.timeutil import now_utc
from tests.incubation.conftest import (
    BANTIAN,
    BANTIAN_STAFF,
    DISTRICT,
    DISTRICT_VIEWER,
    FACTORY,
    GANGTOU,
    HUB_STAFF,
    LONGCHENG,
    LONGCHENG_STAFF,
    NANKENG,
    NANKENG_VIEWER,
    ORGANIZATIONS,
    ZHANGBEI,
    activity,
    application,
    incubating,
    member_event,
    outbox,
    own_account,
    read,
    today,
    write,
)

YEAR = today().year - 1  # a whole past year, so every day of it is reportable


def day(month, number=10) -> date:
    return date(YEAR, month, number)


def stats(db, code, period="all", caller=DISTRICT_VIEWER):
    return read(db, views.statistics, code, period, caller)


def members(db, *worker_ids, status="active"):
    with db.unit_of_work() as uow:
        for worker_id in worker_ids:
            readmodel.memberships.apply_membership(uow.session,
                                                   member_event(worker_id, status), None)


def test_an_activity_records_its_head_count_and_named_beneficiaries(db):
    organization = incubating(db)
    members(db, 1043, 1044)
    reported = write(db, operations.report_activity, activity(
        organization["id"], held_on=day(6, 13), beneficiaries=[1043, 1044, "NK-1"],
        participants=120), own_account(organization["id"]))
    assert (reported["participants"], reported["beneficiaries"], reported["members"]) == (
        120, 3, 2)
    assert reported["hours"] == Decimal("2.5")
    assert reported["place_path"] == [DISTRICT, BANTIAN, NANKENG]
    [(kind, data)] = [(k, d) for k, d in outbox(db) if k == "activity_reported"]
    assert (data["beneficiaries"], data["members"]) == (3, 2)
    assert "1043" not in str(data)  # counts travel, not people
    assert read(db, views.get_organization, organization["id"], HUB_STAFF)["activities"] == 1


def test_a_beneficiary_naming_a_worker_membership_has_not_told_of_is_a_400(db):
    organization = incubating(db)
    with pytest.raises(InvalidInput) as unknown:
        write(db, operations.report_activity,
              activity(organization["id"], beneficiaries=["NK-1", 999]), HUB_STAFF)
    assert unknown.value.details == {"beneficiaries": {"1": {"worker_id": [
        "no member 999 is known (yet)"]}}}
    with pytest.raises(InvalidInput):
        write(db, operations.report_activity,
              activity(organization["id"], beneficiaries=["NK-1", "NK-1"]), HUB_STAFF)


def test_only_admitted_organizations_report_at_active_places_within_their_scope(db):
    applied = write(db, operations.add_organization, application(), HUB_STAFF)
    with pytest.raises(Conflict) as early:
        write(db, operations.report_activity, activity(applied["id"]), HUB_STAFF)
    assert early.value.details["rule"] == "activity.stage"
    organization = incubating(db, name="在孵机构")
    with pytest.raises(Forbidden):
        write(db, operations.report_activity, activity(organization["id"]), LONGCHENG_STAFF)
    with pytest.raises(Forbidden):
        write(db, operations.report_activity, activity(organization["id"]),
              own_account(applied["id"]))
    with pytest.raises(InvalidInput):
        write(db, operations.report_activity,
              activity(organization["id"], held_on=today() + timedelta(days=1)), HUB_STAFF)
    with db.unit_of_work() as uow:
        closed = dict(readmodel.registry.enterprise(uow.session, FACTORY), status="closed")
        readmodel.apply_enterprise(uow.session, {**closed, "reason": "停业"}, None)
    with pytest.raises(InvalidInput) as closed_place:
        write(db, operations.report_activity, activity(organization["id"], place=FACTORY),
              HUB_STAFF)
    assert "place_code" in closed_place.value.details


def test_workers_reached_are_distinct_people_not_head_counts(db):
    first = incubating(db, name="甲机构")
    second = incubating(db, name="乙机构", home=ZHANGBEI)
    members(db, 1, 2, 3)
    write(db, operations.report_activities, [
        activity(first["id"], NANKENG, day(3), [1, 2, "A"], participants=50),
        activity(first["id"], GANGTOU, day(3, 20), [1, "A", "B"], participants=30),
        activity(first["id"], NANKENG, day(8), [2, 3], participants=10),
        activity(second["id"], ZHANGBEI, day(8), [1, "A"], kind="counselling",
                 participants=20)], HUB_STAFF)
    # people: members 1, 2, 3 (anywhere), "A" and "B" of 甲, "A" of 乙
    district = stats(db, DISTRICT)
    assert district["activities"] == {
        "activities": 4, "participants": 110, "beneficiaries": 10, "members": 6,
        "hours": Decimal("10.0"), "workers_reached": 6}
    assert stats(db, BANTIAN)["activities"]["workers_reached"] == 5
    assert stats(db, NANKENG)["activities"]["workers_reached"] == 4  # 1, 2, 3, 甲's A
    assert stats(db, GANGTOU)["activities"]["workers_reached"] == 3
    assert stats(db, ZHANGBEI, caller=LONGCHENG_STAFF)["activities"]["workers_reached"] == 2
    assert {row["code"]: row["workers_reached"] for row in district["below"]} == {
        BANTIAN: 5, "longgang.longcheng": 2}
    assert district["by_kind"]["counselling"]["activities"] == 1
    assert district["by_kind"]["legal_aid"]["participants"] == 90
    # distinct people by kind: a worker reached by two kinds counts in each
    assert {kind: figures["workers_reached"] for kind, figures in district["by_kind"].items()} \
        == {"legal_aid": 5, "counselling": 2}  # 1, 2, 3, 甲's A and B; 1, 乙's A
    assert {kind: figures["workers_reached"]
            for kind, figures in stats(db, NANKENG)["by_kind"].items()} == {"legal_aid": 4}


def test_the_period_counts_each_person_once_within_it(db):
    organization = incubating(db)
    write(db, operations.report_activities, [
        activity(organization["id"], NANKENG, day(1, 5), ["A", "B"]),
        activity(organization["id"], NANKENG, day(2, 5), ["A", "C"]),
        activity(organization["id"], NANKENG, day(5, 5), ["A", "D"])], HUB_STAFF)
    figures = {period: stats(db, DISTRICT, period)["activities"]["workers_reached"]
               for period in ("all", f"{YEAR}", f"{YEAR}-Q1", f"{YEAR}-Q2", f"{YEAR}-01",
                              f"{YEAR}-02", f"{YEAR}-03", f"{YEAR - 1}")}
    assert figures == {"all": 4, f"{YEAR}": 4, f"{YEAR}-Q1": 3, f"{YEAR}-Q2": 2,
                       f"{YEAR}-01": 2, f"{YEAR}-02": 2, f"{YEAR}-03": 0, f"{YEAR - 1}": 0}
    assert stats(db, DISTRICT, f"{YEAR}-Q1")["activities"]["activities"] == 2


def test_the_same_figures_however_the_reports_are_split_into_units_of_work(db):
    organization = incubating(db)
    people = [f"P{n}" for n in range(30)]
    items = [activity(organization["id"], [NANKENG, GANGTOU][n % 2], day(1 + n % 12),
                      people[n:n + 10]) for n in range(20)]
    for item in items[:7]:
        write(db, operations.report_activity, item, HUB_STAFF)
    write(db, operations.report_activities, items[7:], HUB_STAFF)
    expected = len({person for item in items for person in
                    (b["ref"] for b in item["beneficiaries"])})
    assert stats(db, DISTRICT)["activities"]["workers_reached"] == expected == 29
    quarter = {b["ref"] for item in items if item["held_on"].month <= 3
               for b in item["beneficiaries"]}
    assert stats(db, DISTRICT, f"{YEAR}-Q1")["activities"]["workers_reached"] == len(quarter)


def test_statistics_are_read_within_the_callers_subtree_for_a_known_place(db):
    with pytest.raises(Forbidden):
        stats(db, DISTRICT, caller=NANKENG_VIEWER)
    with pytest.raises(Forbidden):
        stats(db, BANTIAN, caller=own_account(1))
    with pytest.raises(NotFound):
        stats(db, "longgang.nowhere")
    with pytest.raises(InvalidInput):
        stats(db, DISTRICT, "2015-Q9")
    empty = stats(db, BANTIAN, caller=BANTIAN_STAFF)
    assert empty["activities"]["workers_reached"] == 0 and empty["by_kind"] == {}


def test_organizations_by_stage_and_grade_in_the_statistics(db):
    incubating(db, name="甲")
    write(db, operations.add_organization, application(name="乙"), HUB_STAFF)
    write(db, operations.add_organization, application(name="嶂背的", home=ZHANGBEI),
          HUB_STAFF)
    figures = stats(db, BANTIAN, caller=BANTIAN_STAFF)["organizations"]
    assert figures == {"total": 2, "hubs": 0, "by_stage": {"applied": 1, "incubating": 1},
                       "by_grade": {}}


def test_an_organizations_activities_page_latest_reported_first(db):
    organization = incubating(db)
    write(db, operations.report_activities,
          [activity(organization["id"], held_on=day(month)) for month in (1, 2, 3)],
          HUB_STAFF)
    query = {"organization_id": organization["id"], "cursor": None, "limit": 2}
    page = read(db, views.list_activities, query, own_account(organization["id"]))
    assert [item["held_on"].month for item in page["items"]] == [3, 2]
    page = read(db, views.list_activities, {**query, "cursor": page["next_cursor"]},
                HUB_STAFF)
    assert [item["held_on"].month for item in page["items"]] == [1]
    assert page["next_cursor"] is None


def registry_event(db, kind, data):
    """As the service's registry handlers apply an event: the read model, then the
    kept statistics, in one unit of work."""
    with db.unit_of_work() as uow:
        change = getattr(readmodel, f"apply_{kind}")(uow.session, data, now_utc())
        operations.follow_registry_move(uow, kind, change)


def test_a_moved_communitys_past_and_future_counts_are_under_its_new_street(db):
    organization = incubating(db)
    write(db, operations.report_activities, [
        activity(organization["id"], NANKENG, day(3), ["A", "B"], participants=40),
        activity(organization["id"], GANGTOU, day(4), ["A"], participants=5)], HUB_STAFF)
    nankeng = next(item for item in ORGANIZATIONS if item["code"] == NANKENG)
    registry_event(db, "organization", {**nankeng, "parent_code": LONGCHENG,
                                        "path": [DISTRICT, LONGCHENG, NANKENG]})
    bantian, longcheng = stats(db, BANTIAN)["activities"], stats(db, LONGCHENG)["activities"]
    assert (bantian["activities"], bantian["participants"], bantian["workers_reached"]) == (
        1, 5, 1)  # 岗头's activity: A, reached in 南坑 too, still counts in 坂田
    assert (longcheng["activities"], longcheng["participants"],
            longcheng["workers_reached"]) == (1, 40, 2)
    assert stats(db, LONGCHENG, f"{YEAR}-03")["by_kind"]["legal_aid"]["workers_reached"] == 2
    assert stats(db, DISTRICT)["activities"]["workers_reached"] == 2  # the district unchanged
    write(db, operations.report_activity,
          activity(organization["id"], NANKENG, day(5), ["C"]), HUB_STAFF)
    assert stats(db, LONGCHENG)["activities"]["workers_reached"] == 3
    assert stats(db, BANTIAN)["activities"]["workers_reached"] == 1


def test_a_moved_enterprises_counts_follow_it_to_its_new_community(db):
    organization = incubating(db)
    write(db, operations.report_activity,
          activity(organization["id"], FACTORY, day(3), ["A"], participants=30), HUB_STAFF)
    with db.session() as session:
        enterprise = readmodel.registry.enterprise(session, FACTORY)
    registry_event(db, "enterprise", {**enterprise, "community_code": ZHANGBEI,
                                      "path": [DISTRICT, LONGCHENG, ZHANGBEI]})
    assert stats(db, NANKENG)["activities"]["participants"] == 0
    assert stats(db, NANKENG)["activities"]["workers_reached"] == 0
    assert stats(db, ZHANGBEI)["activities"]["participants"] == 30
    assert stats(db, LONGCHENG)["activities"]["workers_reached"] == 1
    [moved] = read(db, views.list_activities, {"organization_id": organization["id"],
                                               "cursor": None, "limit": 5}, HUB_STAFF)["items"]
    assert moved["place_path"] == [DISTRICT, LONGCHENG, ZHANGBEI]


def test_statistics_for_a_range_of_days_count_what_was_held_in_it(db):
    organization = incubating(db)
    members(db, 1)
    write(db, operations.report_activities, [
        activity(organization["id"], NANKENG, day(1, 5), ["A", "B"], participants=10),
        activity(organization["id"], GANGTOU, day(2, 5), ["A", "C", 1], participants=20),
        activity(organization["id"], ZHANGBEI, day(5, 5), ["A", "D"], kind="counselling",
                 participants=30)], HUB_STAFF)
    ranged = read(db, views.statistics, DISTRICT, "all", DISTRICT_VIEWER, day(1, 20),
                  day(5, 5))
    assert ranged["period"] == f"{YEAR}-01-20/{YEAR}-05-05"
    assert ranged["activities"] == {"activities": 2, "participants": 50, "beneficiaries": 5,
                                    "members": 1, "hours": Decimal("5.0"),
                                    "workers_reached": 4}  # A, C, member 1; D
    assert {kind: figures["workers_reached"] for kind, figures in ranged["by_kind"].items()} \
        == {"legal_aid": 3, "counselling": 2}
    assert {row["code"]: (row["activities"], row["workers_reached"])
            for row in ranged["below"]} == {BANTIAN: (1, 3), LONGCHENG: (1, 2)}
    # a range of whole months gives what the kept figures give
    quarter = stats(db, DISTRICT, f"{YEAR}-Q1")
    months = read(db, views.statistics, DISTRICT, "all", DISTRICT_VIEWER, day(1, 1),
                  date(YEAR, 3, 31))
    assert {key: months[key] for key in ("activities", "by_kind", "below", "funds")} == {
        key: quarter[key] for key in ("activities", "by_kind", "below", "funds")}
    open_end = read(db, views.statistics, BANTIAN, "all", BANTIAN_STAFF, day(2, 1), None)
    assert (open_end["period"], open_end["activities"]["activities"]) == (
        f"{YEAR}-02-01/..", 1)
