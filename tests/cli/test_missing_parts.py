"""A part of the machine the selected tests need is missing: the session stops before the
first test with one line per part saying how to get it (shared.testing), never a skip and
never hundreds of identical errors."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
NOWHERE = "http://guest:guest@127.0.0.1:1"


def pytest_run(*args, **env):
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q",
         "-W", "ignore::DeprecationWarning", *args],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
        env={**os.environ, "PYTEST_ADDOPTS": "", **env})
    missing = [line for line in result.stdout.splitlines() if line.startswith("MISSING ")]
    return result, missing


def test_without_the_management_api_the_session_stops_with_one_line():
    result, missing = pytest_run("tests/shared/test_rpc.py", "--rabbit-ctl-uri", NOWHERE)
    assert result.returncode == 1, result.stdout
    assert len(missing) == 1, result.stdout
    assert missing[0].startswith("MISSING RabbitMQ management API unreachable at "
                                 "http://127.0.0.1:1 (")
    assert "run `make test`" in missing[0]
    assert "`rabbitmq-plugins enable rabbitmq_management`" in missing[0]
    assert " passed" not in result.stdout and " error" not in result.stdout


def test_each_missing_part_has_its_line():
    result, missing = pytest_run(
        "tests/deploy/test_prometheus.py", "tests/disputes/test_routes_report_form.py",
        "tests/deploy/test_compose.py",
        PATH=str(Path(sys.executable).parent), PROMTOOL="", TEST_DATABASES="sqlite,postgresql",
        TEST_POSTGRES_URL="postgresql+psycopg2://postgres@127.0.0.1:1/test")
    assert result.returncode == 1, result.stdout
    assert [line.split(" ", 2)[1] for line in missing] == ["PostgreSQL", "chromium", "promtool"]
    postgres, chromium, promtool = missing
    assert "unreachable at postgresql+psycopg2://postgres@127.0.0.1:1/test" in postgres
    assert "TEST_DATABASES=sqlite" in postgres
    assert "`apt-get install chromium chromium-driver`" in chromium
    assert "Debian's prometheus package" in promtool
    assert "SKIPPED" not in result.stdout and " skipped" not in result.stdout


def test_tests_that_need_no_missing_part_still_run():
    result, missing = pytest_run("tests/cli/test_readme.py", "--rabbit-ctl-uri", NOWHERE)
    assert result.returncode == 0, result.stdout
    assert missing == []
