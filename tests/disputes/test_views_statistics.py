"""Statistics reproduce the articles' figures from the sample, filed through the
operations: a smaller district history with the same shape (2014 to 2015 +19.5%, four
times as many handled alone) and 嶂背's and 南坑's own figures in full; the full-size
history is checked end to end by tests/e2e/test_figures.py."""

import pytest

from services.disputes import readmodel, sample, views
from services.disputes.service import MIGRATIONS
from services.registry import sample as registry_sample
from shared.db import open_database
from shared.testing import _backend_params
from tests.disputes.conftest import DISTRICT, NANKENG, ZHANGBEI

# 239 / 200 is the smallest pair with +19.5%; 2015 holds 嶂背's 109 and 南坑's 16.
SMALLER = {2014: (200, 20, (12, 31)), 2015: (239, 80, (12, 31)), 2016: (10, 2, (4, 20))}
TIERS = {"district_federation": "district", "street_federation": "street",
         "community_federation": "community", "park_federation": "community",
         "industry_union": "industry"}


def _path(code):
    parts = code.split(".")
    return [".".join(parts[:n + 1]) for n in range(len(parts))]


def fill_from_registry_sample(session):
    """The registry sample's events as the read model would hold them: its tree, 南坑's
    and 嶂背's enterprises and one in forty of the rest."""
    for organization in registry_sample.district_organizations():
        readmodel.registry.apply_organization(session, {
            "code": organization["code"], "name": organization["name"],
            "kind": organization["kind"], "tier": TIERS[organization["kind"]],
            "path": _path(organization["code"])}, None)
    for number, row in enumerate(registry_sample.generate_enterprises()):
        if row["community_code"] not in (NANKENG, ZHANGBEI) and number % 40:
            continue
        readmodel.registry.apply_enterprise(session, {
            **{key: row[key] for key in ("credit_code", "name", "address", "community_code",
                                         "headcount", "union_status")},
            "path": _path(row["community_code"]), "status": "active",
            "key_enterprise": bool(row.get("key_enterprise"))}, None)


@pytest.fixture(scope="module", params=_backend_params())
def sampled(request, tmp_path_factory):
    """One sampled database per backend for the whole module (449 disputes through the
    standard process and 嶂背's 555 visits)."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('stats')}/disputes.db"
    else:
        url = request.getfixturevalue("postgres_databases").create()
    db = open_database(url, "disputes", MIGRATIONS)
    with db.unit_of_work() as uow:
        fill_from_registry_sample(uow.session)
    patch = pytest.MonkeyPatch()
    patch.setattr(sample, "YEARS", SMALLER)
    try:
        sample.load_sample(db)
    finally:
        patch.undo()
    with db.session() as session:
        yield session
    db.engine.dispose()
    if request.param != "sqlite":
        request.getfixturevalue("postgres_databases").drop(url)


def test_the_district_grew_19_5_percent_in_2015_with_four_times_as_many_handled_alone(
        sampled):
    figures = views.statistics(sampled, DISTRICT)
    assert [(y["year"], y["disputes"], y["alone"], y["joint"]) for y in figures["by_year"]] == [
        (2014, 200, 20, 180), (2015, 239, 80, 159), (2016, 10, 2, 8)]
    year_2015 = figures["by_year"][1]
    assert year_2015["change_percent"] == 19.5
    assert year_2015["alone_ratio_to_previous"] == 4.0
    assert figures["disputes"] == 200 + 239 + 10
    assert 0.45 <= figures["settled_locally_share"] < 0.5  # "nearly 50%"
    assert set(figures["by_street"]) == {f"longgang.{code}" for code, _, _ in
                                         registry_sample.STREETS}
    assert sum(figures["by_street"].values()) == figures["disputes"]
    assert set(figures["by_tier"]) == {"district", "street", "community", "enterprise"}


def test_zhangbei_visited_336_enterprises_found_175_irregular_and_9_wage_flights(sampled):
    figures = views.statistics(sampled, ZHANGBEI, year=2015)
    assert figures["disputes"] == 109
    assert figures["wage_flight"] == {"cases": 9, "workers": 193, "amount_owed": "1900000.00"}
    assert figures["visits"]["enterprises_visited"] == 336
    assert figures["visits"]["enterprises_irregular"] == 175
    assert figures["visits"]["visits"] > 336  # revisits and interviews come on top
    assert figures["by_category"]["boss_absconded"] == 9


def test_nankeng_mediated_16_disputes_and_a_year_filter_narrows_everything(sampled):
    assert views.statistics(sampled, NANKENG, year=2015)["disputes"] == 16
    district_2014 = views.statistics(sampled, DISTRICT, year=2014)
    assert (district_2014["disputes"], district_2014["alone"]) == (200, 20)
    assert district_2014["wage_flight"]["cases"] == 0


def test_every_case_of_the_sample_went_through_the_standard_process(sampled):
    from sqlalchemy import func, select

    from services.disputes.models import cases, reports, timeline
    assert set(sampled.execute(select(cases.c.status)).scalars()) == {"closed"}
    assert sampled.execute(select(func.count()).select_from(reports)).scalar() == 449
    steps = sampled.execute(select(func.count()).select_from(timeline).where(
        timeline.c.kind == "status")).scalar()
    assert steps == 449 * 4  # verified, handling, resolved, closed


def test_the_plan_is_made_once_from_the_enterprises_on_file_when_loading_began(tmp_path):
    """An enterprise registered in 嶂背 while the sample loads (it sorts first) and one
    closed must not shift what is left of the plan: the next tick makes the same plan."""
    db = open_database(f"sqlite:///{tmp_path}/disputes.db", "disputes", MIGRATIONS)
    with db.unit_of_work() as uow:
        fill_from_registry_sample(uow.session)
    first = sample._plan(db)
    visited = first[0]["credit_code"]
    with db.unit_of_work() as uow:
        for credit_code, status in (("00000000000000000A", "active"), (visited, "closed")):
            readmodel.registry.apply_enterprise(uow.session, {
                "credit_code": credit_code, "name": "嶂背新登记企业", "address": None,
                "community_code": ZHANGBEI, "headcount": 30, "union_status": "none",
                "path": _path(ZHANGBEI), "status": status, "key_enterprise": False}, None)
    with db.session() as session:
        now_on_file = sample._enterprises_by_community(session)[ZHANGBEI]
    assert "00000000000000000A" in now_on_file and visited not in now_on_file
    assert sample._plan(db) == first
    db.engine.dispose()
