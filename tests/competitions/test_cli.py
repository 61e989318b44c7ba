"""``gonghui competitions ...`` on the service's own database."""

import json

from click.testing import CliRunner

from services.competitions import policy
from services.competitions.cli import cli


def test_rules_are_listed_and_a_new_version_is_checked_before_it_is_published(
        tmp_path, monkeypatch):
    monkeypatch.setenv("COMPETITIONS_DATABASE_URL", f"sqlite:///{tmp_path}/c.db")
    runner = CliRunner()
    listed = runner.invoke(cli, ["rules", "--json"])
    assert listed.exit_code == 0, listed.output
    assert json.loads(listed.output)[0]["version"] == 1
    assert "version" in runner.invoke(cli, ["rules"]).output.splitlines()[0].split()
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"groups": []}), encoding="utf-8")
    refused = runner.invoke(cli, ["publish-rules", str(bad)])
    assert refused.exit_code != 0 and "groups" in refused.output
    good = tmp_path / "good.json"
    good.write_text(json.dumps(policy.default_body()), encoding="utf-8")
    published = runner.invoke(cli, ["publish-rules", str(good), "--note", "同上"])
    assert published.exit_code == 0 and "version 2" in published.output, published.output
