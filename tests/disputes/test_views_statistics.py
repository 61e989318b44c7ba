"""Statistics reproduce the articles' figures from the sample dataset."""

import pytest

from services.disputes import sample, views
from services.disputes.service import MIGRATIONS
from shared.db import open_database
from shared.testing import _backend_params
from tests.disputes.conftest import DISTRICT, NANKENG, ZHANGBEI


@pytest.fixture(scope="module", params=_backend_params())
def sampled(request, tmp_path_factory):
    """One sampled database per backend for the whole module (the sample is 7,000 rows)."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('stats')}/disputes.db"
    else:
        url = request.getfixturevalue("postgres_databases").create()
    db = open_database(url, "disputes", MIGRATIONS)
    with db.unit_of_work() as uow:
        sample.load_sample(uow.session)
    with db.session() as session:
        yield session
    db.engine.dispose()
    if request.param != "sqlite":
        request.getfixturevalue("postgres_databases").drop(url)


def test_the_district_grew_19_5_percent_in_2015_with_four_times_as_many_handled_alone(
        sampled):
    figures = views.statistics(sampled, DISTRICT)
    assert [(y["year"], y["disputes"], y["alone"], y["joint"]) for y in figures["by_year"]] == [
        (2014, 3264, 318, 2946), (2015, 3900, 1272, 2628)]
    year_2015 = figures["by_year"][1]
    assert year_2015["change_percent"] == 19.5
    assert year_2015["alone_ratio_to_previous"] == 4.0
    assert figures["disputes"] == 3264 + 3900
    assert 0.45 <= figures["settled_locally_share"] < 0.5  # "nearly 50%"
    assert set(figures["by_street"]) == {f"longgang.{s}" for s in sample.STREETS}
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
    assert (district_2014["disputes"], district_2014["alone"]) == (3264, 318)
    assert district_2014["wage_flight"]["cases"] == 0
