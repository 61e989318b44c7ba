"""Bulk import: rows and CSV/JSON files through the importer, as the CLI and the RPC
method use it (a batch per transaction, bad rows reported, good rows kept)."""

import json

import pytest

from services.registry import importer, views
from services.registry.sample import NANKENG, credit_code
from shared.caller import Caller
from tests.registry.conftest import ADMIN, GANGTOU, ZHANGBEI, enterprise, outbox

OPERATOR = Caller.from_dict(ADMIN)


@pytest.fixture(autouse=True)
def copy_allowed(blocking_postgres):
    """As in the CLI: on PostgreSQL the rows and their events go in by COPY."""
    blocking_postgres()


def rows(*items):
    return list(enumerate(items, start=1))


def test_bad_rows_are_reported_with_reasons_and_good_rows_are_kept(tree, registry):
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
    ), OPERATOR, batch_size=3)
    assert (report.rows, report.created, report.rejected) == (8, 2, 6)
    reasons = {error["row"]: error["reason"] for error in report.errors}
    assert [error["row"] for error in report.errors] == [2, 3, 4, 5, 6, 8]
    assert "check digit" in reasons[2]
    assert "under 25 workers (this one has 24)" in reasons[3]
    assert "no organization has the code 'longgang.nowhere'" in reasons[4]
    assert "name: Missing data for required field" in reasons[5]
    assert reasons[6].startswith("headcount:")
    assert "a row is an object" in reasons[8]
    kept = registry.get_enterprise(credit_code(7), ADMIN)
    assert kept["assigned_leader"] == {"name": "王伟", "title": "副主任", "phone": None}
    assert registry.statistics(NANKENG)["enterprises"] == 2


def test_reimporting_the_same_rows_writes_and_publishes_nothing(tree, registry):
    batch = rows(*(enterprise(n, community=[NANKENG, GANGTOU][n % 2], headcount=20 + n,
                              union_status=["own", "covered", "none"][n % 3])
                   for n in range(30, 60)))
    assert importer.import_rows(tree, batch, OPERATOR, batch_size=7).created == 30
    events = len(outbox(tree))
    again = importer.import_rows(tree, batch, OPERATOR, batch_size=7)
    assert (again.unchanged, again.created, again.updated) == (30, 0, 0)
    assert len(outbox(tree)) == events

    changed = importer.import_rows(tree, rows(
        {"credit_code": credit_code(30), "headcount": 99},  # blank cells keep their values
        {**dict(batch[1][1]), "community_code": ZHANGBEI},
    ), OPERATOR)
    assert (changed.updated, changed.unchanged) == (2, 0)
    # one event for the batch: each enterprise's snapshot as it is now
    [(kind, data)] = outbox(tree)[events:]
    assert kind == "enterprise_batch_imported"
    assert [(e["credit_code"], e["headcount"], e["community_code"])
            for e in data["enterprises"]] == [
        (credit_code(30), 99, NANKENG), (credit_code(31), 51, ZHANGBEI)]
    assert registry.get_enterprise(credit_code(31), ADMIN)["union_code"] == ZHANGBEI
    with tree.session() as session:
        assert views.stored_counts(session) == views.recount(session)


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_json_and_json_lines_files_are_read_with_their_row_numbers(tree, tmp_path):
    listed = tmp_path / "rows.json"
    listed.write_text(json.dumps({"enterprises": [enterprise(1), enterprise(2, headcount=-1)]}))
    lines = tmp_path / "rows.jsonl"
    lines.write_text(json.dumps(enterprise(3)) + "\n{broken\n")
    first = importer.import_rows(tree, importer.read_file(listed)[1], OPERATOR)
    second = importer.import_rows(tree, importer.read_file(lines)[1], OPERATOR)
    assert (first.created, first.errors[0]["row"]) == (1, 2)
    assert (second.created, second.errors[0]["row"]) == (1, 2)
    assert "not valid JSON" in second.errors[0]["reason"]


def test_every_event_the_import_builds_passes_its_schema(tree):
    """The import neither dumps nor re-validates the payloads it builds (``flush(
    validate_events=False)``): here every kind it publishes is checked against the event
    schema, and found to be its own dump already."""
    from shared.events import catalogue
    from shared.events.envelope import _schema

    batch = rows(*(enterprise(n, community=[NANKENG, GANGTOU][n % 2], headcount=20 + n,
                              union_status=["own", "covered", "none"][n % 3],
                              key_enterprise=n % 4 == 0,
                              assigned_leader="王伟|副主任|13800000000" if n % 4 == 0 else None)
                   for n in range(30, 45)))
    importer.import_rows(tree, batch, OPERATOR)
    importer.import_rows(tree, rows(
        {"credit_code": credit_code(30), "headcount": 99},
        {**dict(batch[0][1]), "community_code": ZHANGBEI},  # own union moves along
        {**dict(batch[1][1]), "community_code": ZHANGBEI},
    ), OPERATOR)
    envelopes = outbox(tree, envelopes=True)
    kinds = {body["type"] for body in envelopes}
    assert {"enterprise_batch_imported", "organization_registered",
            "organization_moved"} <= kinds
    assert not kinds & {"enterprise_registered", "enterprise_updated", "enterprise_moved"}
    assert [len(body["data"]["enterprises"]) for body in envelopes
            if body["type"] == "enterprise_batch_imported"] == [15, 2]  # 30 twice: once
    for body in envelopes:
        schema = _schema(catalogue.get("registry", body["type"]).schema)
        assert schema.validate(body["data"]) == {}, body
        assert schema.dump(body["data"]) == body["data"], body  # in wire form as built


LEADER_ROW = {"name": "王伟", "title": "副主任", "phone": None}
ODD_VALUES = {  # plain ones, edge ones, and ones the schema rejects
    "credit_code": [credit_code(9), credit_code(9).lower(), f" {credit_code(9)} ",
                    credit_code(9)[:-1] + "Z", credit_code(9)[:17], 123, None, b"bytes"],
    "name": ["", " ", "a", "x" * 200, "x" * 201, None, 5],
    "address": [None, "", "x" * 500, "x" * 501, 3],
    "community_code": [NANKENG, f" {NANKENG} ", NANKENG.upper(), "bad code", "", None, 7,
                       "x" * 101],
    "headcount": [0, 30, "30", " 30", "4_5", "٣", "-1", -1, 1_000_000, 1_000_001,
                  "1000001", 30.0, 30.5, True, None, "", "三十"],
    "union_status": ["own", "covered", "none", "OWN", None, 1],
    "union_code": [NANKENG, None, "Bad", "", f"{NANKENG}.x"],
    "key_enterprise": [True, False, None, 1, 0, 2, 1.0, "是", "否", "Y", "n", "true",
                       "False", "maybe", [], {}],
    "assigned_leader": [None, LEADER_ROW, {"name": "王伟"}, {"name": ""}, {"title": "x"},
                        {"name": "王", "extra": 1}, {"name": "王", "phone": "1" * 41},
                        {"name": 5}, "王伟|副主任", []],
}


def test_the_shortcut_for_plain_rows_loads_exactly_what_the_schema_loads():
    """``quick_load`` either gives what ``NewEnterpriseSchema`` loads (same keys, same
    order, same values) or leaves the row to it: rejections keep the schema's words."""
    from marshmallow import ValidationError

    def schema_load(row, partial):
        try:
            return importer.ROW.load(row, partial=partial)
        except ValidationError:
            return None

    base = enterprise(1, address="深圳市龙岗区坂田街道南坑社区环城路88号",
                      union_status="covered", union_code=NANKENG, key_enterprise=True,
                      assigned_leader=LEADER_ROW)
    rows = [base, {**base, "surplus": 1}]
    rows += [{**base, name: value} for name, values in ODD_VALUES.items() for value in values]
    rows += [{k: v for k, v in base.items() if k != name} for name in base]
    quick = 0
    for partial in (False, True):
        for row in rows:
            loaded = importer.quick_load(row, partial)
            if loaded is not None:
                quick += 1
                expected = schema_load(row, partial)
                assert expected is not None, f"the schema rejects {row} (partial={partial})"
                assert list(loaded.items()) == list(expected.items()), (row, partial)
    assert list(importer.QUICK_CHECKS) == list(importer.ROW.fields)
    assert quick > 60  # the plain cases do take it
    spreadsheet_row = {"credit_code": credit_code(2), "name": "企业2", "community_code": NANKENG,
                       "headcount": "45", "key_enterprise": "是"}
    assert importer.quick_load(spreadsheet_row, False) == {
        **spreadsheet_row, "headcount": 45, "key_enterprise": True}
