"""deploy/prometheus.yml scrapes every registered service's /metrics on its port and
RabbitMQ's prometheus plugin; promtool checks it (``promtool`` fixture: missing, it fails)."""

import subprocess

import pytest

from tests.deploy.files import PROMETHEUS, SERVICE_NAMES, load_yaml, port

RABBITMQ_PROMETHEUS_PORT = 15692


@pytest.fixture(scope="module")
def config():
    return load_yaml(PROMETHEUS)


def jobs(config):
    return {job["job_name"]: job for job in config["scrape_configs"]}


def targets(job):
    return [target for static in job.get("static_configs", []) for target in static["targets"]]


def test_job_names_are_unique_and_every_job_has_targets(config):
    names = [job["job_name"] for job in config["scrape_configs"]]
    assert len(names) == len(set(names))
    for job in config["scrape_configs"]:
        assert targets(job), job["job_name"]
        for target in targets(job):
            host, _, target_port = target.rpartition(":")
            assert host and target_port.isdigit(), target


@pytest.mark.parametrize("name", SERVICE_NAMES)
def test_every_service_is_scraped_on_its_port_at_metrics(config, name):
    job = jobs(config).get(name)
    assert job is not None, f"deploy/prometheus.yml has no job {name!r}"
    assert job.get("metrics_path", "/metrics") == "/metrics"
    assert targets(job) == [f"{name}:{port(name)}"]


def test_rabbitmq_is_scraped_on_its_prometheus_plugin_port(config):
    rabbitmq = [t for job in config["scrape_configs"] for t in targets(job)
                if t.endswith(f":{RABBITMQ_PROMETHEUS_PORT}")]
    assert rabbitmq == [f"rabbitmq:{RABBITMQ_PROMETHEUS_PORT}"]


def test_no_job_adds_a_service_label_the_metrics_already_carry(config):
    # one would turn every series' own `service` into `exported_service`
    for job in config["scrape_configs"]:
        assert not job.get("honor_labels"), job["job_name"]
        for static in job.get("static_configs", []):
            assert "service" not in static.get("labels", {}), job["job_name"]
        assert not job.get("relabel_configs"), job["job_name"]


def test_the_scrape_interval_leaves_room_for_the_timeout(config):
    def seconds(text):
        return int(text.removesuffix("s"))

    assert seconds(config["global"]["scrape_timeout"]) <= seconds(
        config["global"]["scrape_interval"])


def test_promtool_accepts_the_config(promtool):
    result = subprocess.run([promtool, "check", "config", str(PROMETHEUS)],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr


def test_promtool_rejects_a_broken_config(promtool, tmp_path):
    broken = tmp_path / "prometheus.yml"
    broken.write_text(PROMETHEUS.read_text().replace("scrape_interval:", "scrape_intervall:"))
    result = subprocess.run([promtool, "check", "config", str(broken)],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode != 0
