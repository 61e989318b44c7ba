"""The registry as membership keeps it, and the join-rate counters that follow it: moves,
repeated and out-of-order snapshots."""


from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from services.membership import operations, readmodel, views
from services.membership.models import org_stats
from shared.errors import NotFound
from tests.membership.conftest import (
    DISTRICT,
    GANGTOU,
    HUAWEI,
    HUAWEI_UNION,
    NANKENG,
    NANKENG_STAFF,
    OTHER,
    SMALL,
    STREET,
    enterprise,
    join,
    organization,
    rate,
)


def test_an_organization_moving_takes_its_subtree_counters_along(sqlite_district, keys):
    db = sqlite_district
    join(db, keys, 1, OTHER)
    other_street = "longgang.longcheng"
    with db.unit_of_work() as uow:
        readmodel.apply_organization(uow.session, organization(
            other_street, DISTRICT, "street_federation", "street", [DISTRICT, other_street]))
        readmodel.apply_organization(uow.session, organization(
            GANGTOU, other_street, "community_federation", "community",
            [DISTRICT, other_street, GANGTOU]))
    assert rate(db, STREET) == (0, 1020)
    assert rate(db, other_street) == (1, 300)
    assert rate(db, DISTRICT) == (1, 1320)
    with db.session() as session:
        assert readmodel.enterprise(session, OTHER)["path"] == [DISTRICT, other_street,
                                                                  GANGTOU]
        below = views.join_rates_below(session, DISTRICT)
    assert [(r["code"], r["members"]) for r in below["items"]] == [(STREET, 0),
                                                                  (other_street, 1)]


def test_a_repeated_or_updated_snapshot_never_counts_twice(sqlite_district, keys):
    db = sqlite_district
    for _ in range(2):
        with db.unit_of_work() as uow:
            readmodel.apply_enterprise(uow.session, enterprise(SMALL, headcount=40))
    assert rate(db, NANKENG) == (0, 1040)
    with db.session() as session:
        with pytest.raises(NotFound, match="not known to the registry"):
            views.join_rate(session, "longgang.nowhere")


T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


def counters_agree_with_a_recount(database):
    with database.session() as session:
        kept = {row.code: (row.members, row.workers)
                for row in session.execute(select(org_stats)) if row.members or row.workers}
    with database.unit_of_work() as uow:
        readmodel.rebuild_counters(uow.session)
    with database.session() as session:
        counted = {row.code: (row.members, row.workers) for row in session.execute(
            select(org_stats))}
    assert kept == counted


def test_a_snapshot_older_than_the_stored_row_changes_nothing(sqlite_district, keys):
    db = sqlite_district
    join(db, keys, 1, SMALL)
    moved = enterprise(SMALL, community=GANGTOU, headcount=25)
    stale = enterprise(SMALL, headcount=999)  # taken before the move, delivered after it
    with db.unit_of_work() as uow:
        assert operations.enterprise_snapshot(uow, moved, T0 + timedelta(minutes=5)) is None
    with db.unit_of_work() as uow:
        assert readmodel.apply_enterprise(uow.session, stale, T0) is None
    assert rate(db, GANGTOU) == (1, 325) and rate(db, NANKENG) == (0, 1000)
    with db.session() as session:
        assert readmodel.enterprise(session, SMALL)["community_code"] == GANGTOU
    # A closing snapshot older than the row does not lapse anyone either.
    with db.unit_of_work() as uow:
        assert operations.enterprise_snapshot(uow, enterprise(SMALL, status="closed"),
                                              T0 + timedelta(minutes=1)) is None
    assert rate(db, GANGTOU) == (1, 325)
    counters_agree_with_a_recount(db)


def test_an_organization_move_older_than_the_stored_row_moves_nothing(sqlite_district, keys):
    db = sqlite_district
    join(db, keys, 1, OTHER)
    here = organization(GANGTOU, STREET, "community_federation", "community",
                        [DISTRICT, STREET, GANGTOU])
    elsewhere = dict(here, parent_code=DISTRICT, path=[DISTRICT, GANGTOU])
    with db.unit_of_work() as uow:
        readmodel.apply_organization(uow.session, here, T0 + timedelta(minutes=5))
    with db.unit_of_work() as uow:
        assert readmodel.apply_organization(uow.session, elsewhere, T0) is None
    assert rate(db, STREET) == (1, 1320)
    with db.session() as session:
        assert readmodel.enterprise(session, OTHER)["path"] == [DISTRICT, STREET, GANGTOU]


def test_an_enterprise_placed_by_its_own_newer_snapshot_is_not_moved_twice(sqlite_district,
                                                                            keys):
    """A community moves to another street; one of its enterprises' own snapshot, taken
    after the move, arrives before the community's move (another queue)."""
    db = sqlite_district
    join(db, keys, 1, OTHER)
    join(db, keys, 2, OTHER)
    longcheng = "longgang.longcheng"
    with db.unit_of_work() as uow:
        readmodel.apply_organization(uow.session, organization(
            longcheng, DISTRICT, "street_federation", "street", [DISTRICT, longcheng]), T0)
        after_the_move = dict(enterprise(OTHER, community=GANGTOU, headcount=300),
                              path=[DISTRICT, longcheng, GANGTOU])
        readmodel.apply_enterprise(uow.session, after_the_move, T0 + timedelta(minutes=2))
    assert rate(db, longcheng) == (2, 300) and rate(db, STREET) == (0, 1020)
    with db.unit_of_work() as uow:
        change = readmodel.apply_organization(uow.session, organization(
            GANGTOU, longcheng, "community_federation", "community",
            [DISTRICT, longcheng, GANGTOU]), T0 + timedelta(minutes=1))
    assert change.moved
    assert rate(db, longcheng) == (2, 300) and rate(db, STREET) == (0, 1020)
    assert rate(db, DISTRICT) == (2, 1320)
    counters_agree_with_a_recount(db)


def test_a_referral_from_incubation_shows_on_the_request_newest_first(sqlite_district, keys):
    db = sqlite_district
    member = join(db, keys, 1, SMALL)
    with db.unit_of_work() as uow:
        request = operations.submit_request(uow, {
            "worker_id": member["worker_id"], "kind": "legal_consultation",
            "summary": "工伤赔偿咨询", "handling_organization_code": None},
            NANKENG_STAFF)
    referred = {"referral_id": 3, "request_id": request["request_id"],
                "worker_id": member["worker_id"], "organization_id": 17,
                "organization_name": "龙岗区彩虹职工法律服务中心", "service_kind": "legal_aid"}
    now = datetime.now(UTC)
    with db.unit_of_work() as uow:  # the outcome overtakes the referral (two queues)
        readmodel.apply_referral(uow.session, {**referred, "outcome": "served"}, now)
        readmodel.apply_referral(uow.session, referred, now - timedelta(seconds=1))
        readmodel.apply_referral(uow.session, {**referred, "request_id": 999}, now)  # not ours
    with db.session() as session:
        shown = views.get_request(session, request["request_id"], NANKENG_STAFF)
    assert shown["referrals"] == [{"referral_id": 3, "organization_id": 17,
                                   "organization_name": "龙岗区彩虹职工法律服务中心",
                                   "status": "served"}]


def test_a_bulk_import_batch_moves_counters_as_its_rows_one_by_one_would(district, keys):
    """``enterprise_batch_imported``: a new enterprise, one moved with a new headcount and
    one closed, in one unit of work: counters as a recount finds them, the closed one's
    members lapsed."""
    db = district
    join(db, keys, 1, HUAWEI)
    join(db, keys, 2, OTHER)
    new = "91440300TEST00009Z"
    batch = [enterprise(new, community=GANGTOU, headcount=50),
             enterprise(HUAWEI, community=GANGTOU, headcount=1200, union_status="own",
                        union_code=HUAWEI_UNION),
             enterprise(OTHER, community=GANGTOU, headcount=300, status="closed")]
    with db.unit_of_work() as uow:
        operations.enterprise_snapshots(uow, batch, T0)
    assert rate(db, NANKENG) == (0, 20)
    assert rate(db, GANGTOU) == (1, 1250)
    assert rate(db, STREET) == (1, 1270)
    counters_agree_with_a_recount(db)
    with db.session() as session:
        assert readmodel.enterprise(session, new)["path"] == [DISTRICT, STREET, GANGTOU]
        assert readmodel.members_at(session, OTHER) == 0
    with db.unit_of_work() as uow:  # the same batch again (redelivered): nothing moves
        operations.enterprise_snapshots(uow, batch, T0)
    assert rate(db, STREET) == (1, 1270)
