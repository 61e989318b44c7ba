"""The README's configuration table and commands stay true to the code."""

from pathlib import Path

from shared.config import SERVICE_PORTS, SETTINGS

README = (Path(__file__).resolve().parents[2] / "README.md").read_text()


def test_every_setting_is_documented_in_the_readme():
    missing = [s.env for s in SETTINGS if f"`{s.env}`" not in README]
    assert not missing, f"add these to the README's configuration table: {missing}"


def test_every_service_port_is_documented():
    for service, port in SERVICE_PORTS.items():
        assert f"{service} {port}" in README, f"{service}'s port {port} is not in the README"


def test_ci_runs_exactly_the_readme_test_command():
    ci = (Path(__file__).resolve().parents[2] / ".ci" / "run").read_text()
    assert "make test" in README and ci.strip().endswith("make test")
