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
    assert cli_env.invoke(cli, ["recount"]).exit_code == 0


