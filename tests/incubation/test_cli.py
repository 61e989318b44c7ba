"""``gonghui incubation ...`` on the service's own database."""

import json

import pytest
from click.testing import CliRunner

from services.incubation.cli import cli
from services.incubation.service import MIGRATIONS
from tests.incubation.conftest import DISTRICT, fill_registry


@pytest.fixture
def run(tmp_path, monkeypatch, database_factory):
    url = f"sqlite:///{tmp_path}/incubation.db"
    monkeypatch.setenv("INCUBATION_DATABASE_URL", url)

    def invoke(*args):
        return CliRunner().invoke(cli, list(args), catch_exceptions=False)

    invoke.database = lambda: database_factory(url, "incubation", MIGRATIONS)
    return invoke


def test_policies_prints_every_version(run):
    result = run("policies", "--json")
    assert result.exit_code == 0
    assert [item["kind"] for item in json.loads(result.output)] == ["grading", "rules"]


def test_stats_for_a_place_the_registry_has_not_told_of_is_a_one_line_error(run):
    result = run("stats", DISTRICT)
    assert result.exit_code == 1 and "no organization longgang" in result.output


def test_stats_and_remind_on_a_district(run):
    with run.database().unit_of_work() as uow:
        fill_registry(uow.session)
    figures = json.loads(run("stats", DISTRICT, "--period", "2015", "--json").output)
    assert (figures["period"], figures["activities"]["workers_reached"]) == ("2015", 0)
    ranged = json.loads(run("stats", DISTRICT, "--from", "2015-03-01", "--to",
                            "2015-06-30", "--json").output)
    assert ranged["period"] == "2015-03-01/2015-06-30"
    backwards = run("stats", DISTRICT, "--from", "2015-06-30", "--to", "2015-03-01")
    assert backwards.exit_code == 1 and "from is after to" in backwards.output
    assert run("remind").output.splitlines()[2:] == ["reminders_raised  0",
                                                     "grades_lapsed     0"]
    assert json.loads(run("remind", "--json").output) == {"reminders_raised": 0,
                                                          "grades_lapsed": 0}


def test_load_sample_says_why_it_did_not_load(run):
    result = run("load-sample")
    assert result.exit_code == 1 and "places have not arrived" in result.output
