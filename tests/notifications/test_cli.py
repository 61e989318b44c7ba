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

    result = runner.invoke(cli, ["audit", "case-7"])
    assert result.exit_code == 0, result.output
    shown = json.loads(result.output)
    assert [e["action"] for e in shown["audit"]] == ["case_received", "notified", "delivered"]

    result = runner.invoke(cli, ["inbox", COMMUNITY, "--open"])
    assert "case-7" in result.output and "未签收" in result.output

    result = runner.invoke(cli, ["deadlines"])
    assert json.loads(result.output)["open"] == 2  # a reminder and the escalation

    missing = runner.invoke(cli, ["audit", "no-such-case"])
    assert missing.exit_code != 0 and "no case no-such-case" in missing.output


def test_a_bad_policy_file_is_refused_with_its_reasons(tmp_path):
    path = tmp_path / "policy.yaml"
    path.write_text("version: x\nladder: [community]\n", encoding="utf-8")
    result = CliRunner().invoke(cli, ["policy", str(path)])
    assert result.exit_code != 0
    assert "grades" in result.output and "channels" in result.output
    shipped = json.loads(CliRunner().invoke(cli, ["policy"]).output)
    assert shipped["leader_grades"] == ["major", "routine", "serious", "urgent"]
