"""``gonghui disputes ...`` and the first-run hook."""

import json

from click.testing import CliRunner

from services.disputes import cli
from services.disputes.service import MIGRATIONS
from shared.db import migrate


def run(monkeypatch, url, *args):
    monkeypatch.setenv("DISPUTES_DATABASE_URL", url)
    return CliRunner().invoke(cli.cli, list(args))


def test_the_sample_is_asked_for_once_until_the_registrys_district_is_in(monkeypatch,
                                                                         sqlite_url):
    migrate(sqlite_url, MIGRATIONS)  # as `gonghui up` or `gonghui migrate` does
    asked = run(monkeypatch, sqlite_url, "load-sample")
    assert asked.exit_code == 0, asked.output
    assert "sample requested: 9,370 disputes" in asked.output
    again = run(monkeypatch, sqlite_url, "load-sample", "--json")
    assert again.exit_code == 0, again.output
    assert json.loads(again.output) == {"loaded": False,
                                        "sample": "sample requested before; not asked again"}
    figures = run(monkeypatch, sqlite_url, "stats", "longgang.longcheng.zhangbei",
                  "--year", "2015", "--json")
    assert json.loads(figures.output)["disputes"] == 0  # nothing loads without the registry
    table = run(monkeypatch, sqlite_url, "stats", "longgang.longcheng.zhangbei", "--year",
                "2015").output
    assert any(line.split()[:2] == ["wage_flight.workers", "0"]
               for line in table.splitlines())
    rules = run(monkeypatch, sqlite_url, "policies", "rewards", "--json")
    [first] = json.loads(rules.output)
    assert first["body"]["monthly_cap"] == "3000"
    assert first["effective_from"] == "2000-01-01T00:00:00+00:00"  # RFC 3339, an offset
