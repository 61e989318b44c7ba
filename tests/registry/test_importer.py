"""Bulk import (rows, CSV/JSON files, the CLI) and the sample district's real figures."""

import csv
import json

import pytest
from click.testing import CliRunner

from services.registry import importer, sample, views
from services.registry.cli import cli
from services.registry.sample import NANKENG, credit_code
from services.registry.service import MIGRATIONS
from tests.registry.conftest import GANGTOU, ZHANGBEI, enterprise, outbox, read


def rows(*items):
    return list(enumerate(items, start=1))


def test_bad_rows_are_reported_with_reasons_and_good_rows_are_kept(tree):
    mistyped = credit_code(2)[:-1] + ("0" if credit_code(2)[-1] != "0" else "1")
    report = importer.import_rows(tree, rows(
        enterprise(1, headcount=30, union_status="own"),
        {**enterprise(2), "credit_code": mistyped},
        enterprise(3, headcount=24, union_status="own"),
        enterprise(4, community="longgang.nowhere"),
        {"credit_code": credit_code(5), "headcount": 3},
        enterprise(6, headcount="三十"),
        enterprise(7, headcount="45", key_enterprise="是", assigned_leader="王伟|副主任|"),
        "not a row",
    ), batch_size=3)
    assert (report.rows, report.created, report.rejected) == (8, 2, 6)
    reasons = {error["row"]: error["reason"] for error in report.errors}
    assert [error["row"] for error in report.errors] == [2, 3, 4, 5, 6, 8]
    assert "check digit" in reasons[2]
    assert "under 25 workers (this one has 24)" in reasons[3]
    assert "no organization has the code 'longgang.nowhere'" in reasons[4]
    assert "name: Missing data for required field" in reasons[5]
    assert reasons[6].startswith("headcount:")
    assert "a row is an object" in reasons[8]
    kept = read(tree, views.get_enterprise, credit_code(7))
    assert kept["assigned_leader"] == {"name": "王伟", "title": "副主任", "phone": None}
    assert read(tree, views.statistics, NANKENG)["enterprises"] == 2


def test_reimporting_the_same_rows_writes_and_publishes_nothing(tree):
    batch = rows(*(enterprise(n, community=[NANKENG, GANGTOU][n % 2], headcount=20 + n,
                              union_status=["own", "covered", "none"][n % 3])
                   for n in range(30, 60)))
    assert importer.import_rows(tree, batch, batch_size=7).created == 30
    events = len(outbox(tree))
    again = importer.import_rows(tree, batch, batch_size=7)
    assert (again.unchanged, again.created, again.updated) == (30, 0, 0)
    assert len(outbox(tree)) == events

    changed = importer.import_rows(tree, rows(
        {"credit_code": credit_code(30), "headcount": 99},  # blank cells keep their values
        {**dict(batch[1][1]), "community_code": ZHANGBEI},
    ))
    assert (changed.updated, changed.unchanged) == (2, 0)
    assert [kind for kind, _ in outbox(tree)[events:]] == [
        "enterprise_updated", "enterprise_moved"]
    assert read(tree, views.get_enterprise, credit_code(31))["union_code"] == ZHANGBEI
    with tree.session() as session:
        assert views.stored_counts(session) == views.recount(session)


def test_the_sample_district_holds_nankengs_real_figures(db):
    summary = sample.load_sample(db, enterprises=600)
    assert (summary["created"], summary["rejected"]) == (600, 0)
    assert read(db, views.statistics, NANKENG) == {
        "code": NANKENG, "name": "南坑社区工会联合会", "enterprises": 227, "workers": 10_200,
        "own_union": 42, "covered": 176, "establishment_rate": 0.9604}
    district = read(db, views.statistics, "longgang")
    assert district["enterprises"] == 600
    streets = read(db, views.list_children, "longgang")
    assert len([org for org in streets if org["kind"] == "street_federation"]) == 11
    assert read(db, views.get_organization, sample.ZHANGBEI)["parent_code"] == (
        "longgang.longcheng")
    key = [e for e in read(db, views.list_enterprises, NANKENG, 500)["items"]
           if e["assigned_leader"]]
    assert len(key) == 1 and key[0]["headcount"] == 860
    with db.session() as session:
        assert views.stored_counts(session) == views.recount(session)


def test_first_run_setup_loads_the_sample_once(sqlite_url):
    first = list(sample.prepare(sqlite_url, MIGRATIONS))
    assert "loaded the sample district" in first[0]
    assert "sample not loaded" in list(sample.prepare(sqlite_url, MIGRATIONS))[0]


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
    with (tmp_path / "r.csv").open(encoding="utf-8-sig") as handle:
        report = list(csv.DictReader(handle))
    assert report[0]["row"] == "3" and report[0]["credit_code"] == credit_code(2)
    assert "under 25 workers" in report[0]["reason"]
    stats = cli_env.invoke(cli, ["stats", NANKENG])
    assert json.loads(stats.output)["own_union"] == 1
    assert cli_env.invoke(cli, ["recount"]).exit_code == 0


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_json_and_json_lines_files_are_read_with_their_row_numbers(tree, tmp_path):
    listed = tmp_path / "rows.json"
    listed.write_text(json.dumps({"enterprises": [enterprise(1), enterprise(2, headcount=-1)]}))
    lines = tmp_path / "rows.jsonl"
    lines.write_text(json.dumps(enterprise(3)) + "\n{broken\n")
    first = importer.import_rows(tree, importer.read_file(listed)[1])
    second = importer.import_rows(tree, importer.read_file(lines)[1])
    assert (first.created, first.errors[0]["row"]) == (1, 2)
    assert (second.created, second.errors[0]["row"]) == (1, 2)
    assert "not valid JSON" in second.errors[0]["reason"]
