"""``gonghui registry ...``: import a file, statistics, recount."""

import csv
import json

import pytest
from click.testing import CliRunner

from services.registry import importer
from services.registry.cli import cli
from services.registry.sample import NANKENG, credit_code


@pytest.fixture
def cli_env(tree, monkeypatch, db_url):
    monkeypatch.setenv("REGISTRY_DATABASE_URL", db_url)
    return CliRunner()


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_the_cli_imports_a_csv_and_writes_a_report_of_rejected_rows(cli_env, tmp_path):
    path = tmp_path / "enterprises.csv"
    columns = list(importer.COLUMNS) + ["备注"]
    with path.open("w", newline="", encoding="gb18030") as handle:  # as Excel saves it
        writer = csv.writer(handle)
        writer.writerow(columns)
        writer.writerow([credit_code(1), "华兴电子", "坂田", NANKENG, "600", "own", "", "是",
                         "王伟|副主任|13800000000", "x"])
        writer.writerow([credit_code(2), "小厂", "", NANKENG, "8", "own", "", "", "", ""])
    result = cli_env.invoke(cli, ["import", str(path), "--report", str(tmp_path / "r.csv")])
    assert result.exit_code == 0, result.output
    assert "2 rows: 1 created, 0 updated, 0 unchanged, 1 rejected" in result.output
    assert "ignoring columns: 备注" in result.output
    again = cli_env.invoke(cli, ["import", str(path), "--json"])  # for machines
    summary = json.loads(again.stdout)
    assert (summary["rows"], summary["unchanged"], summary["rejected"]) == (2, 1, 1)
    assert "under 25 workers" in summary["errors"][0]["reason"]
    with (tmp_path / "r.csv").open(encoding="utf-8-sig") as handle:
        report = list(csv.DictReader(handle))
    assert report[0]["row"] == "3" and report[0]["credit_code"] == credit_code(2)
    assert "under 25 workers" in report[0]["reason"]
    stats = cli_env.invoke(cli, ["stats", NANKENG, "--json"])
    assert json.loads(stats.output)["own_union"] == 1
    table = cli_env.invoke(cli, ["stats", NANKENG]).output.splitlines()
    assert table[0].split() == ["field", "value"]
    assert "own_union" in {line.split()[0] for line in table[2:] if line.strip()}
    recount = cli_env.invoke(cli, ["recount"])
    assert recount.exit_code == 0, recount.output
    assert recount.output.splitlines()[3].split() == ["differ", "0"]
    checked = json.loads(cli_env.invoke(cli, ["recount", "--json"]).output)
    assert checked["organizations"] > 0
    assert (checked["differ"], checked["repaired"], checked["differences"]) == (0, 0, [])




def test_load_sample_answers_what_it_registered(tmp_path, monkeypatch):
    monkeypatch.setenv("REGISTRY_DATABASE_URL", f"sqlite:///{tmp_path}/registry.db")
    loaded = CliRunner().invoke(cli, ["load-sample", "--enterprises", "30", "--json"])
    assert loaded.exit_code == 0, loaded.output
    summary = json.loads(loaded.stdout)
    assert summary["created"] == 30 and summary["organizations"] > 0
    again = CliRunner().invoke(cli, ["load-sample", "--enterprises", "30"])
    assert again.exit_code == 1 and "already has a district" in again.output
