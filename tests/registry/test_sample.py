"""The sample district: loaded into a database with 南坑's real figures, the first-run
hook of ``gonghui up``, and the generator's district-wide shape against DOMAIN.md's real
figures (without a database: the rows ``generate_enterprises`` yields are what the
importer would store)."""

from collections import Counter

import pytest

from services.registry import domain, sample, views
from services.registry.sample import NANKENG
from services.registry.service import MIGRATIONS
from tests.registry.conftest import ADMIN


def test_the_sample_district_holds_nankengs_real_figures(db, registry):
    summary = sample.load_sample(db, enterprises=600)
    assert (summary["created"], summary["rejected"]) == (600, 0)
    assert registry.statistics(NANKENG) == {
        "code": NANKENG, "name": "南坑社区工会联合会", "enterprises": 227, "workers": 10_200,
        "own_union": 42, "covered": 176, "establishment_rate": 0.9604}
    district = registry.statistics("longgang")
    assert district["enterprises"] == 600
    streets = registry.list_children("longgang")["items"]
    assert len([org for org in streets if org["kind"] == "street_federation"]) == 11
    assert registry.get_organization(sample.ZHANGBEI)["parent_code"] == (
        "longgang.longcheng")
    key = [e for e in registry.list_enterprises(NANKENG, ADMIN, limit=500)["items"]
           if e["assigned_leader"]]
    assert len(key) == 1 and key[0]["headcount"] == 860
    with db.session() as session:
        assert views.stored_counts(session) == views.recount(session)


def test_first_run_loads_the_sample_once(sqlite_url, monkeypatch):
    monkeypatch.setenv("REGISTRY_SAMPLE_ENTERPRISES", "6000")  # the least, quick
    first = list(sample.prepare(sqlite_url, MIGRATIONS))
    assert "loaded the sample district" in first[0]
    assert "sample not loaded" in list(sample.prepare(sqlite_url, MIGRATIONS))[0]


def test_the_first_runs_sample_size_comes_from_the_environment(sqlite_url, monkeypatch):
    assert sample.sample_size({}) == 320_000  # the district's market entities
    assert sample.sample_size({"REGISTRY_SAMPLE_ENTERPRISES": "6000"}) == 6_000
    for bad in ("many", "5999", "-1", ""):
        with pytest.raises(ValueError, match="at least 6,000"):
            sample.sample_size({"REGISTRY_SAMPLE_ENTERPRISES": bad})
    monkeypatch.setenv("REGISTRY_SAMPLE_ENTERPRISES", "6100")
    assert "6100 enterprises" in list(sample.prepare(sqlite_url, MIGRATIONS))[0]


@pytest.fixture(scope="module")
def district():
    """The full-size sample (320,000 rows, a few seconds), once for the module."""
    return list(sample.generate_enterprises(sample.DISTRICT_FIGURES["enterprises"]))


def test_the_full_size_sample_has_the_districts_workers(district):
    # DOMAIN.md: 320,000+ market entities and 2,000,000+ workers. "+": at least the
    # figure, and not so far above it that the district no longer looks like Longgang.
    real = sample.DISTRICT_FIGURES
    assert real == {"enterprises": 320_000, "workers": 2_000_000}
    workers = sum(row["headcount"] for row in district)
    assert len(district) == real["enterprises"]
    assert real["workers"] <= workers <= real["workers"] * 1.15, f"{workers:,} workers"


def test_most_entities_are_small_and_a_few_are_key_enterprises(district):
    headcounts = sorted(row["headcount"] for row in district)
    assert headcounts[len(headcounts) // 2] <= 5  # the median entity is a micro business
    key = sum(h >= domain.KEY_ENTERPRISE_HEADCOUNT for h in headcounts)
    assert 50 <= key <= 500, f"{key} enterprises of 500+ workers"
    assert max(headcounts) <= sample.MAX_HEADCOUNT


def test_nankeng_keeps_its_real_figures_in_the_full_size_sample(district):
    nankeng = [row for row in district if row["community_code"] == sample.NANKENG]
    statuses = Counter(row["union_status"] for row in nankeng)
    assert {
        "enterprises": len(nankeng),
        "workers": sum(row["headcount"] for row in nankeng),
        "own_union": statuses["own"],
        "covered": statuses["covered"],
    } == sample.NANKENG_FIGURES
