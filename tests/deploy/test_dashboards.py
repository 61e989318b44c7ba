"""deploy/grafana: the data source and dashboards Grafana is provisioned with (docker-compose
mounts them), checked offline: every query is PromQL promtool parses, on the provisioned
data source, in a panel the README describes. That each metric a query names is exported
by the services is checked on running ones (tests/deploy/test_container_process.py)."""

import subprocess

import pytest
import yaml

from tests.deploy.files import (
    COMPOSE,
    GRAFANA,
    README,
    dashboard_queries,
    dashboards,
    load_yaml,
    panels,
)

# What issue 13 asked the dashboards to show, by panel title.
REQUIRED_PANELS = {
    "services.json": {"Requests per route", "Latency per route (p95)", "Server errors",
                      "Services down", "Outbox backlog", "Outbox lag",
                      "Consumer retries and dead letters", "Dead-letter depth",
                      "RabbitMQ queue depth", "Database pool use"},
    "disputes.json": {"Reports filed", "Cases open by grade", "Unacknowledged cases",
                      "Overdue deadlines", "Escalations"},
}


@pytest.fixture(scope="module")
def datasource():
    (source,) = load_yaml(GRAFANA / "provisioning" / "datasources" / "prometheus.yml")[
        "datasources"]
    return source


def test_the_data_source_is_the_composed_prometheus(datasource):
    assert datasource["type"] == "prometheus"
    assert datasource["url"] == "http://prometheus:9090"
    assert "prometheus" in load_yaml(COMPOSE)["services"]


def test_grafana_loads_the_dashboards_from_where_compose_mounts_them():
    (provider,) = load_yaml(GRAFANA / "provisioning" / "dashboards" / "gonghui.yml")[
        "providers"]
    grafana = load_yaml(COMPOSE)["services"]["grafana"]
    mounts = dict(volume.split(":")[:2] for volume in grafana["volumes"])
    assert mounts["./deploy/grafana/dashboards"] == provider["options"]["path"]
    assert mounts["./deploy/grafana/provisioning"] == "/etc/grafana/provisioning"


def test_every_panel_asked_for_is_there():
    found = {name: {panel["title"] for panel in panels(dashboard)}
             for name, dashboard in dashboards().items()}
    for name, titles in REQUIRED_PANELS.items():
        assert titles <= found.get(name, set()), (name, titles - found.get(name, set()))


def test_dashboards_are_well_formed_on_the_provisioned_data_source(datasource):
    uids = [dashboard["uid"] for dashboard in dashboards().values()]
    assert len(uids) == len(set(uids))
    for name, dashboard in dashboards().items():
        ids = [panel["id"] for panel in dashboard["panels"]]
        assert len(ids) == len(set(ids)), name
        for panel in panels(dashboard):
            where = f"{name}: {panel['title']}"
            assert panel["description"], where
            position = panel["gridPos"]
            assert position["x"] + position["w"] <= 24, where
            assert panel["datasource"]["uid"] == datasource["uid"], where
            assert panel["targets"], where
            for target in panel["targets"]:
                assert target["datasource"]["uid"] == datasource["uid"], where
                assert target["expr"].strip() and target["legendFormat"], where


def promtool_parses(promtool, queries, tmp_path):
    """promtool's verdict on ``queries`` ((where, PromQL)) as recording rules: it parses
    each one (there is no other offline PromQL check)."""
    rules = {"groups": [{"name": "queries", "rules": [
        {"record": f"query:{number}", "expr": expr}
        for number, (_, expr) in enumerate(queries)]}]}
    path = tmp_path / "queries.yml"
    path.write_text(yaml.safe_dump(rules, allow_unicode=True))
    return subprocess.run([promtool, "check", "rules", str(path)], capture_output=True,
                          text=True, timeout=60)


def test_every_query_is_promql_prometheus_parses(promtool, tmp_path):
    result = promtool_parses(promtool, list(dashboard_queries()), tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_parse_check_catches_a_broken_query(promtool, tmp_path):
    broken = [("broken", "sum by (service (rate(gonghui_http_requests_total[1m]))")]
    assert promtool_parses(promtool, broken, tmp_path).returncode != 0


def test_the_readme_describes_every_panel():
    readme = README.read_text(encoding="utf-8")
    for name, dashboard in dashboards().items():
        for panel in panels(dashboard):
            assert f"**{panel['title']}**" in readme, f"README lacks {name}: {panel['title']}"


def test_every_metric_is_defined_in_shared_metrics_with_the_service_label():
    # the README's promise: panels and alerts select and group by `service` everywhere
    from prometheus_client.metrics import MetricWrapperBase

    from shared import metrics

    defined = [value for value in vars(metrics).values() if isinstance(value, MetricWrapperBase)]
    assert len(defined) >= 20
    for metric in defined:
        assert metric._labelnames[:1] == ("service",), metric  # no public accessor
