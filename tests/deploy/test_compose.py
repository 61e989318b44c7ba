"""docker-compose.yml: valid compose, every registered service in it, wired as shared.config
expects, and nothing started before what it depends on is healthy."""

import os
import subprocess
import sys
import uuid
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import yaml
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from shared.config import stop_timeout
from tests.deploy.files import (
    COMPOSE,
    DEPLOY,
    GRAFANA,
    PROMETHEUS,
    PROMETHEUS_RULES,
    ROOT,
    SERVICE_NAMES,
    known_setting,
    load_yaml,
    port,
)

CHECK_JSONSCHEMA = Path(sys.executable).parent / "check-jsonschema"
INIT_SCRIPT = DEPLOY / "postgres" / "init-databases.sh"


@pytest.fixture(scope="module")
def compose():
    return load_yaml(COMPOSE)


def app_services(compose):
    """The compose services running the project image."""
    return {name: service for name, service in compose["services"].items()
            if str(service.get("image", "")).startswith("gonghui:")}


def check_compose_spec(path):
    return subprocess.run(
        [str(CHECK_JSONSCHEMA), "--builtin-schema", "vendor.compose-spec", str(path)],
        capture_output=True, text=True, timeout=60,
    )


def test_the_compose_file_validates_against_the_compose_specification():
    result = check_compose_spec(COMPOSE)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_compose_specification_check_rejects_a_broken_file(tmp_path, compose):
    broken = dict(compose)
    broken["services"] = dict(compose["services"])
    broken["services"]["registry"] = {**compose["services"]["registry"],
                                      "depends_on": {"rabbitmq": {"condition": "when_ready"}}}
    path = tmp_path / "docker-compose.yml"
    path.write_text(yaml.safe_dump(broken))
    result = check_compose_spec(path)
    assert result.returncode != 0
    assert "when_ready" in result.stdout + result.stderr


@pytest.mark.parametrize("name", SERVICE_NAMES)
def test_every_service_runs_in_compose_on_its_port_with_its_own_database(compose, name):
    services = app_services(compose)
    assert name in services, f"docker-compose.yml has no service {name!r}"
    service = services[name]
    upper = name.upper()
    assert service["command"] == [name]
    env = service["environment"]
    assert int(env[f"{upper}_HTTP_PORT"]) == port(name)
    assert any(str(mapping).endswith(f":{port(name)}") for mapping in service["ports"])
    url = make_url(env[f"{upper}_DATABASE_URL"])
    assert (url.username, url.host, url.database) == (name, "postgres", name)  # its own role
    assert name in compose["services"]["postgres"]["environment"]["GONGHUI_DATABASES"].split()
    assert urlsplit(env["AMQP_URI"]).hostname == "rabbitmq"
    for dependency in ("rabbitmq", "postgres"):
        assert service["depends_on"][dependency] == {"condition": "service_healthy"}


@pytest.mark.parametrize("name", SERVICE_NAMES)
def test_a_service_is_given_only_settings_it_reads(compose, name):
    # catches AMQP_URL for AMQP_URI, or another service's database URL
    unknown = [env for env in app_services(compose)[name]["environment"]
               if not known_setting(env, name)]
    assert unknown == []


@pytest.mark.parametrize("name", SERVICE_NAMES)
def test_the_stop_grace_period_outlasts_the_services_own_stop_timeout(compose, name):
    service = app_services(compose)[name]
    grace = service["stop_grace_period"]
    assert grace.endswith("s") and grace[:-1].isdigit(), f"write it in seconds: {grace!r}"
    env = {key: str(value) for key, value in service["environment"].items()}
    assert int(grace[:-1]) >= stop_timeout(env) + 5  # see test_kubernetes


def test_compose_runs_no_service_that_is_not_registered(compose):
    assert set(app_services(compose)) <= set(SERVICE_NAMES)


def test_every_container_has_a_healthcheck_and_waits_for_healthy_dependencies(compose):
    services = compose["services"]
    for name, service in services.items():
        assert service.get("healthcheck", {}).get("test"), f"{name} has no healthcheck"
        for dependency, condition in service.get("depends_on", {}).items():
            assert condition == {"condition": "service_healthy"}, f"{name} -> {dependency}"
            assert dependency in services, f"{name} depends on unknown {dependency}"


def test_service_healthchecks_ask_the_ops_endpoints(compose):
    for name, service in app_services(compose).items():
        probe = service["healthcheck"]["test"]
        assert probe[0] == "CMD" and probe[-1] in ("/healthz", "/readyz"), name


def test_rabbitmq_runs_with_management_and_its_prometheus_plugin(compose):
    rabbitmq = compose["services"]["rabbitmq"]
    assert "management" in rabbitmq["image"]
    source = next(ROOT / source for source, target in mounts(rabbitmq).items()
                  if target == "/etc/rabbitmq/enabled_plugins")
    plugins = source.read_text().strip()
    assert plugins.startswith("[") and plugins.endswith("].")
    enabled = {plugin.strip() for plugin in plugins[1:-2].split(",")}
    assert {"rabbitmq_management", "rabbitmq_prometheus"} <= enabled
    assert any(str(mapping).endswith(":15692") for mapping in rabbitmq["ports"])


def mounts(service):
    """host path -> container path of a service's bind mounts."""
    return {volume.split(":")[0]: volume.split(":")[1] for volume in service["volumes"]
            if volume.startswith(".")}


def test_postgres_runs_the_database_init_script_and_prometheus_its_config(compose):
    postgres = compose["services"]["postgres"]
    assert postgres["image"].startswith("postgres:15")
    init = {(ROOT / source).resolve(): target for source, target in mounts(postgres).items()}
    assert init[INIT_SCRIPT].startswith("/docker-entrypoint-initdb.d/")
    prometheus = compose["services"]["prometheus"]
    config = {(ROOT / source).resolve(): target for source, target in mounts(prometheus).items()}
    assert config[PROMETHEUS] == "/etc/prometheus/prometheus.yml"
    assert "--config.file=/etc/prometheus/prometheus.yml" in prometheus["command"]
    # beside the config: its rule_files entry is relative to it
    assert config[PROMETHEUS_RULES] == "/etc/prometheus/prometheus-rules.yml"


def test_grafana_runs_with_the_provisioning_on_a_healthy_prometheus(compose):
    grafana = compose["services"]["grafana"]
    provisioned = {(ROOT / source).resolve(): target for source, target in mounts(grafana).items()}
    assert provisioned[GRAFANA / "provisioning"] == "/etc/grafana/provisioning"
    assert provisioned[GRAFANA / "dashboards"] == "/var/lib/grafana/dashboards"
    assert grafana["depends_on"] == {"prometheus": {"condition": "service_healthy"}}
    assert grafana["environment"]["GF_SECURITY_ADMIN_PASSWORD"].startswith(
        "${GRAFANA_ADMIN_PASSWORD")  # set from outside, a default for a developer machine


def run_init_script(admin_url, databases):
    url = make_url(admin_url)
    env = dict(os.environ, GONGHUI_DATABASES=" ".join(databases),
               GONGHUI_DATABASE_PASSWORD="it's-secret",
               POSTGRES_USER=url.username or "postgres", POSTGRES_DB=url.database,
               PGHOST=url.host or "127.0.0.1", PGPORT=str(url.port or 5432))
    return subprocess.run(["bash", str(INIT_SCRIPT)], env=env, capture_output=True, text=True,
                          timeout=60)


@pytest.mark.postgres
def test_the_init_script_creates_a_role_and_a_database_per_name_and_can_run_again(
        postgres_databases):
    admin_url = postgres_databases.admin_url
    names = [f"gonghui_init_{uuid.uuid4().hex[:8]}_{n}" for n in ("registry", "gateway")]
    engine = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    try:
        first = run_init_script(admin_url, names)
        assert first.returncode == 0, first.stderr
        again = run_init_script(admin_url, names)
        assert again.returncode == 0, again.stderr
        assert again.stdout.count("exists") == 2
        with engine.connect() as connection:
            found = connection.execute(
                text("SELECT datname FROM pg_database WHERE datname = ANY(:names)"),
                {"names": names},
            ).scalars().all()
        assert sorted(found) == sorted(names)
        assert "it's-secret" not in first.stdout + first.stderr
        with engine.connect() as connection:
            for name in names:
                owner, public_connect, other_connect = connection.execute(text(
                    "SELECT pg_get_userbyid(datdba), has_database_privilege('public', "
                    "datname, 'CONNECT'), has_database_privilege(:other, datname, 'CONNECT') "
                    "FROM pg_database WHERE datname = :name"),
                    {"name": name, "other": next(n for n in names if n != name)}).one()
                assert (owner, public_connect, other_connect) == (name, False, False)
        # each role logs in with the password given, to its own database
        own = make_url(admin_url).set(username=names[0], password="it's-secret",
                                      database=names[0])
        login = create_engine(own)
        try:
            with login.connect() as connection:
                assert connection.execute(text("SELECT current_user")).scalar() == names[0]
        finally:
            login.dispose()
    finally:
        with engine.connect() as connection:
            for name in names:
                connection.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
                connection.execute(text(f'DROP ROLE IF EXISTS "{name}"'))
        engine.dispose()


def test_the_init_script_refuses_a_name_that_is_not_an_identifier():
    # refused before psql is ever called, so no server is needed
    result = run_init_script("postgresql://nobody@127.0.0.1:1/none", ['x"; DROP DATABASE x; --'])
    assert result.returncode != 0
    assert "refusing" in result.stderr
