"""``gonghui notifications ...`` on a service database."""

import json

from click.testing import CliRunner

from services.notifications.cli import cli
from tests.notifications.conftest import COMMUNITY, T0, opened


def test_ops_read_a_case_s_audit_and_an_inbox_from_the_command_line(
        chain, notifier, monkeypatch):
    with chain.unit_of_work() as uow:
        notifier.open_case(uow, opened("case-7"), T0)
    url = chain.engine.url.render_as_string(hide_password=False)
    monkeypatch.setenv("NOTIFICATIONS_DATABASE_URL", url)
    runner = CliRunner()

    result = runner.invoke(cli, ["audit", "case-7", "--json"])
    assert result.exit_code == 0, result.output
    shown = json.loads(result.output)
    assert [e["action"] for e in shown["audit"]] == ["case_received", "notified", "delivered"]

    assert [n["organization_code"] for n in shown["notifications"]] == [COMMUNITY]
    assert shown["audit"][0]["at"] == "2015-06-01T01:00:00+00:00"  # RFC 3339, an offset

    result = runner.invoke(cli, ["inbox", COMMUNITY, "--open"])
    assert "case-7" in result.output and "未签收" in result.output
    header, _, row = result.output.splitlines()
    assert header.split() == ["received_at", "case_id", "title", "state"]
    assert row.split()[:2] == ["2015-06-01T01:00:00+00:00", "case-7"]

    result = runner.invoke(cli, ["deadlines", "--json"])
    shown = json.loads(result.output)
    assert shown["open"] == 2  # a reminder and the escalation
    assert shown["next_due_at"] == "2015-06-01T13:00:00+00:00"

    missing = runner.invoke(cli, ["audit", "no-such-case"])
    assert missing.exit_code != 0 and "no case no-such-case" in missing.output


def test_an_inbox_prints_a_page_at_a_time(chain, notifier, monkeypatch):
    with chain.unit_of_work() as uow:
        for n in range(3):
            notifier.open_case(uow, opened(f"case-{n}"), T0)
    monkeypatch.setenv("NOTIFICATIONS_DATABASE_URL",
                       chain.engine.url.render_as_string(hide_password=False))
    runner = CliRunner()
    first = runner.invoke(cli, ["inbox", COMMUNITY, "--limit", "2"])
    assert first.exit_code == 0, first.output
    _, _, *lines, more = first.output.splitlines()  # a header and its rule first
    assert [line.split()[1] for line in lines] == ["case-0", "case-1"]
    cursor = more.removeprefix("more: --cursor ")
    rest = runner.invoke(cli, ["inbox", COMMUNITY, "--limit", "2", "--cursor", cursor,
                               "--json"])
    page = json.loads(rest.output)
    assert [item["case_id"] for item in page["items"]] == ["case-2"]
    assert page["next_cursor"] is None
    bad = runner.invoke(cli, ["inbox", COMMUNITY, "--cursor", "garbage!"])
    assert bad.exit_code != 0 and "cursor" in bad.output


def test_a_bad_policy_file_is_refused_with_its_reasons(tmp_path):
    path = tmp_path / "policy.yaml"
    path.write_text("version: x\nladder: [community]\n", encoding="utf-8")
    result = CliRunner().invoke(cli, ["policy", str(path)])
    assert result.exit_code != 0
    assert "grades" in result.output and "channels" in result.output
    shipped = json.loads(CliRunner().invoke(cli, ["policy", "--json"]).output)
    assert shipped["leader_grades"] == ["major", "routine", "serious", "urgent"]
