"""``gonghui membership ...``: import a file, read a join rate, recount, ask for the sample."""

import json

from click.testing import CliRunner

from services.membership.cli import cli
from tests.membership.conftest import HUAWEI, NANKENG, SMALL, TEST_KEY, id_number, join, write_csv


def use(monkeypatch, database):
    monkeypatch.setenv("MEMBERSHIP_DATABASE_URL", str(database.engine.url))
    monkeypatch.setenv("MEMBERSHIP_PII_KEY", TEST_KEY)


def test_the_cli_imports_a_file_and_points_to_its_report(sqlite_district, tmp_path,
                                                         monkeypatch):
    use(monkeypatch, sqlite_district)
    source = write_csv(tmp_path / "m.csv", [("张三", id_number(1), "", HUAWEI),
                                            ("李四", "bad", "", SMALL)])
    report = tmp_path / "errors.csv"
    out = CliRunner().invoke(cli, ["import", str(source), "--report", str(report),
                                   "--no-progress"])
    assert out.exit_code == 0, out.output
    assert f"1 imported, 1 rejected of 2 rows; see {report}" in out.output
    assert report.read_text(encoding="utf-8").splitlines()[1].startswith("3,id_number,")
    rate = CliRunner().invoke(cli, ["join-rate", NANKENG, "--json"])
    assert '"members": 1' in rate.output
    assert CliRunner().invoke(cli, ["join-rate", "nowhere"]).exit_code == 1


def test_recount_rebuilds_the_counters_and_changes_nothing_that_was_right(
        sqlite_district, keys, monkeypatch):
    use(monkeypatch, sqlite_district)
    join(sqlite_district, keys, 1, HUAWEI)
    before = json.loads(CliRunner().invoke(cli, ["join-rate", NANKENG, "--json"]).output)
    out = CliRunner().invoke(cli, ["recount"])
    assert out.exit_code == 0, out.output
    assert out.output.split("\n")[2].split()[0] == "organizations_recounted"
    recounted = json.loads(CliRunner().invoke(cli, ["recount", "--json"]).output)
    assert recounted["organizations_recounted"] > 0
    assert json.loads(CliRunner().invoke(cli, ["join-rate", NANKENG, "--json"]).output) == before
    assert before["members"] == 1


def test_load_sample_asks_once(sqlite_district, monkeypatch):
    use(monkeypatch, sqlite_district)
    asked = CliRunner().invoke(cli, ["load-sample"]).output.splitlines()
    assert asked[2].split() == ["sample", "requested"]
    again = json.loads(CliRunner().invoke(cli, ["load-sample", "--json"]).output)
    assert again == {"sample": "already requested or loaded"}
