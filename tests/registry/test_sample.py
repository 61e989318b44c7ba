"""The sample generator's district-wide shape against DOMAIN.md's real figures, without a
database: the rows ``generate_enterprises`` yields are what the importer would store."""

from collections import Counter

import pytest

from services.registry import domain, sample


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
