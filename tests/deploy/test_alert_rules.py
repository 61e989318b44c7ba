"""deploy/prometheus-rules.yml: the alerts issue 13 asked for, each with a severity, a
summary and a description, every one tested by `promtool test rules` on synthetic series
(tests/deploy/alert-tests.yml), and a README entry saying what to do."""

import shutil
import subprocess

import pytest

from tests.deploy.files import (
    ALERT_TESTS,
    PROMETHEUS,
    PROMETHEUS_RULES,
    README,
    load_yaml,
)

REQUIRED_ALERTS = {"ServiceDown", "DeadLettersWaiting", "OutboxLagging", "DeadlineOverdue",
                   "HighErrorRate"}


@pytest.fixture(scope="module")
def alerts():
    return {rule["alert"]: rule for group in load_yaml(PROMETHEUS_RULES)["groups"]
            for rule in group["rules"] if "alert" in rule}


def promtool_run(promtool, *args):
    return subprocess.run([promtool, *args], capture_output=True, text=True, timeout=60)


def test_promtool_accepts_the_rules_and_prometheus_loads_them(promtool):
    result = promtool_run(promtool, "check", "rules", str(PROMETHEUS_RULES))
    assert result.returncode == 0, result.stdout + result.stderr
    assert load_yaml(PROMETHEUS)["rule_files"] == [PROMETHEUS_RULES.name]


def test_every_alert_asked_for_has_a_severity_a_summary_and_a_description(alerts):
    assert REQUIRED_ALERTS <= set(alerts)
    for name, rule in alerts.items():
        assert rule["labels"]["severity"] in ("warning", "critical"), name
        assert rule["annotations"]["summary"] and rule["annotations"]["description"], name


def test_every_alert_fires_on_synthetic_series_as_promtool_tests_say(promtool, alerts):
    tested = {case["alertname"] for test in load_yaml(ALERT_TESTS)["tests"]
              for case in test["alert_rule_test"]}
    assert set(alerts) <= tested, f"no promtool test for {set(alerts) - tested}"
    result = promtool_run(promtool, "test", "rules", str(ALERT_TESTS))
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_rule_tests_fail_when_a_threshold_moves(promtool, tmp_path):
    # the tests' rule_files path is relative: the same layout under tmp_path
    (tmp_path / "deploy").mkdir()
    (tmp_path / "tests" / "deploy").mkdir(parents=True)
    rules = PROMETHEUS_RULES.read_text().replace("gonghui_outbox_lag_seconds) > 60",
                                                 "gonghui_outbox_lag_seconds) > 600")
    assert rules != PROMETHEUS_RULES.read_text()
    (tmp_path / "deploy" / PROMETHEUS_RULES.name).write_text(rules)
    tests = tmp_path / "tests" / "deploy" / ALERT_TESTS.name
    shutil.copy(ALERT_TESTS, tests)
    result = promtool_run(promtool, "test", "rules", str(tests))
    assert result.returncode != 0
    assert "OutboxLagging" in result.stdout + result.stderr


def test_the_readme_says_what_each_alert_means(alerts):
    readme = README.read_text(encoding="utf-8")
    for name in alerts:
        assert f"**{name}**" in readme, f"README lacks the alert {name}"
