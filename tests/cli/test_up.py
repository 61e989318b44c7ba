"""`gonghui up` (what `make run` starts): clear failure without a broker."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_up_says_in_one_line_how_to_start_rabbitmq_when_it_is_unreachable(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "services.cli", "up"],
        cwd=ROOT,
        env={"PATH": "/usr/bin:/bin", "AMQP_URI": "amqp://guest:guest@127.0.0.1:1/",
             "GONGHUI_VAR_DIR": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "RabbitMQ is not reachable at amqp://guest:guest@127.0.0.1:1/" in lines[0]
    assert "rabbitmq-server -detached" in lines[0]
    assert not list(tmp_path.iterdir()), "nothing is created before the broker check passes"


def test_unknown_service_names_are_refused_with_the_known_ones():
    result = subprocess.run(
        [sys.executable, "-m", "services.serve", "nosuch"],
        cwd=ROOT, capture_output=True, text=True, timeout=60,
    )
    assert result.returncode != 0
    assert "unknown service 'nosuch'" in result.stderr
    assert "registry" in result.stderr


def test_the_services_up_starts_use_the_databases_it_migrated_from_any_folder(tmp_path,
                                                                              monkeypatch):
    from services.cli import child_env

    monkeypatch.chdir(tmp_path)  # `gonghui up` run from somewhere else than the project
    env = child_env({"REGISTRY_DATABASE_URL": "sqlite:///data/registry.db",
                     "MEMBERSHIP_DATABASE_URL": "sqlite:////srv/membership.db",
                     "DISPUTES_DATABASE_URL": "postgresql+psycopg2://db/disputes",
                     "NOTIFICATIONS_DATABASE_URL": "sqlite:///:memory:"})
    assert env["GONGHUI_VAR_DIR"] == str(tmp_path / "var")
    assert env["REGISTRY_DATABASE_URL"] == f"sqlite:///{tmp_path}/data/registry.db"
    assert env["MEMBERSHIP_DATABASE_URL"] == "sqlite:////srv/membership.db"
    assert env["DISPUTES_DATABASE_URL"] == "postgresql+psycopg2://db/disputes"
    assert env["NOTIFICATIONS_DATABASE_URL"] == "sqlite:///:memory:"
    assert env["DATABASE_MIGRATE"] == "0"
