"""The 南坑 sample: requested at first run, loaded once the registry's data is in, and
giving the real figures (9,525 members of 10,200 workers: 93%)."""

import random

from services.membership import readmodel, sample, views
from tests.membership.conftest import NANKENG, enterprise


def test_members_are_spread_by_headcount_to_the_exact_total():
    counts = sample.allocate({"a": 860, "b": 100, "c": 3, "d": 37}, 930)
    assert sum(counts.values()) == 930
    assert all(counts[code] <= n for code, n in {"a": 860, "b": 100, "c": 3, "d": 37}.items())
    assert counts["a"] == 800


def test_the_sample_waits_for_the_registry_then_gives_nankeng_93_percent(sqlite_district,
                                                                         keys):
    db = sqlite_district
    assert sample.request(db) is True
    assert sample.request(db) is False  # asked once only
    assert sample.load_if_ready(db, keys) is None  # 南坑 has 1,020 workers so far

    rng = random.Random(1)
    headcounts = [rng.randint(3, 60) for _ in range(225)]
    headcounts.append(10_200 - 1_020 - sum(headcounts))  # 南坑: 227 enterprises, 10,200
    with db.unit_of_work() as uow:
        for n, headcount in enumerate(headcounts):
            readmodel.apply_enterprise(uow.session, enterprise(f"91440307SAMPLE{n:04d}",
                                                               headcount=headcount))
    loaded = sample.load_if_ready(db, keys)
    assert (loaded["imported"], loaded["rejected"]) == (9_525, 0)
    with db.session() as session:
        assert views.join_rate(session, NANKENG).as_dict() == {
            "code": NANKENG, "members": 9_525, "workers": 10_200, "join_rate": 0.9338,
            "join_rate_percent": 93}
    assert sample.load_if_ready(db, keys) is None  # once


def test_the_first_run_asks_for_the_sample_once(sqlite_url):
    from services.membership.service import MIGRATIONS

    lines = list(sample.prepare(sqlite_url, MIGRATIONS))
    assert len(lines) == 1 and "sample requested" in lines[0]
    assert list(sample.prepare(sqlite_url, MIGRATIONS)) == ["sample already requested"]
