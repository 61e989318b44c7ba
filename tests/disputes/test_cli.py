"""``gonghui disputes ...`` and the first-run hook."""

import json

from click.testing import CliRunner

from services.disputes import cli
from services.disputes.service import MIGRATIONS
from shared.db import migrate


def run(monkeypatch, url, *args):
    monkeypatch.setenv("DISPUTES_DATABASE_URL", url)
    return CliRunner().invoke(cli.cli, list(args))


def test_the_sample_loads_once_into_a_migrated_database_and_answers_stats(monkeypatch,
                                                                           sqlite_url):
    migrate(sqlite_url, MIGRATIONS)  # as `gonghui up` or `gonghui migrate` does
    loaded = run(monkeypatch, sqlite_url, "load-sample")
    assert loaded.exit_code == 0, loaded.output
    assert "7,164 handled disputes" in loaded.output
    again = run(monkeypatch, sqlite_url, "load-sample")
    assert again.exit_code != 0 and "empty one only" in again.output
    figures = run(monkeypatch, sqlite_url, "stats", "longgang.longcheng.zhangbei",
                  "--year", "2015", "--json")
    assert json.loads(figures.output)["wage_flight"]["workers"] == 193
    table = run(monkeypatch, sqlite_url, "stats", "longgang.longcheng.zhangbei", "--year",
                "2015").output
    assert any(line.split()[:2] == ["wage_flight.workers", "193"]
               for line in table.splitlines())
    rules = run(monkeypatch, sqlite_url, "policies", "rewards", "--json")
    [first] = json.loads(rules.output)
    assert first["body"]["monthly_cap"] == "3000"
    assert first["effective_from"] == "2000-01-01T00:00:00+00:00"  # RFC 3339, an offset
