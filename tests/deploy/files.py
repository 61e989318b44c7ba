"""The deployment files, loaded once, and what they must agree with."""

import json
import re
from pathlib import Path

import yaml

from services import SERVICES
from shared.config import SERVICE_PORTS, SETTINGS

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
K8S = DEPLOY / "k8s"
COMPOSE = ROOT / "docker-compose.yml"
PROMETHEUS = DEPLOY / "prometheus.yml"
PROMETHEUS_RULES = DEPLOY / "prometheus-rules.yml"
ALERT_TESTS = ROOT / "tests" / "deploy" / "alert-tests.yml"
GRAFANA = DEPLOY / "grafana"
README = ROOT / "README.md"
DOCKERFILE = ROOT / "Dockerfile"
DOCKERIGNORE = ROOT / ".dockerignore"

# Parametrize over the registered services: a new one without deploy entries fails.
SERVICE_NAMES = list(SERVICES)


def port(service: str) -> int:
    return SERVICE_PORTS[service]


def load_yaml(path: Path):
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def k8s_documents():
    """(file name, resource) for every manifest Kubernetes would be given."""
    for path in sorted(K8S.glob("*.yaml")):
        if path.name == "kustomization.yaml":
            continue
        for document in yaml.safe_load_all(path.read_text(encoding="utf-8")):
            if document:
                yield path.name, document


def k8s_resource(kind: str, name: str) -> dict:
    found = [doc for _, doc in k8s_documents()
             if doc["kind"] == kind and doc["metadata"]["name"] == name]
    assert len(found) == 1, f"expected one {kind} {name!r} in deploy/k8s, found {len(found)}"
    return found[0]


def known_setting(env: str, service: str) -> bool:
    """An environment variable shared.config reads, or one of the service's own."""
    upper = service.upper()
    names = {s.env.replace("<SERVICE>", upper) for s in SETTINGS}
    return env in names or env.startswith(f"{upper}_")


def dashboards() -> dict:
    """file name -> dashboard, for every JSON of deploy/grafana/dashboards."""
    return {path.name: json.loads(path.read_text(encoding="utf-8"))
            for path in sorted((GRAFANA / "dashboards").glob("*.json"))}


def panels(dashboard):
    """Every panel but rows (which hold no query)."""
    return [panel for panel in dashboard["panels"] if panel["type"] != "row"]


def dashboard_queries():
    """(where, PromQL) for every panel query and template variable of every dashboard,
    Grafana's variables given values Prometheus parses."""
    def concrete(expr):
        return (expr.replace('"$service"', '".+"').replace("$__rate_interval", "1m"))

    for name, dashboard in dashboards().items():
        for panel in panels(dashboard):
            for target in panel["targets"]:
                yield f"{name}: {panel['title']}", concrete(target["expr"])
        for variable in dashboard["templating"]["list"]:
            if variable["type"] == "query":  # label_values(<metric>, <label>)
                metric = re.fullmatch(r"label_values\((\w+), *\w+\)", variable["definition"])
                assert metric, f"{name}: ${variable['name']}: {variable['definition']}"
                yield f"{name}: ${variable['name']}", metric.group(1)


def rule_queries():
    """(alert, PromQL) for every rule of deploy/prometheus-rules.yml."""
    for group in load_yaml(PROMETHEUS_RULES)["groups"]:
        for rule in group["rules"]:
            yield rule.get("alert") or rule["record"], rule["expr"]


# What Prometheus itself makes, not a service: `up` of every scrape target.
PROMETHEUS_MADE = {"up"}
METRIC = re.compile(r"\b(?:gonghui|rabbitmq)_[a-z0-9_]+\b|\bup\b")


def metric_names(expr: str) -> set:
    """The metric names an expression reads (ours, RabbitMQ's and Prometheus' `up`)."""
    without_strings = re.sub(r'"[^"]*"', '""', expr)
    return set(METRIC.findall(without_strings))


def exported_names(exposition: str) -> set:
    """Every series name a /metrics page can have, read from its TYPE lines (a labelled
    metric not yet used has no sample but its TYPE line) and its samples."""
    suffixes = {"counter": ("_total", "_created"), "histogram": ("_bucket", "_sum", "_count",
                                                                 "_created"),
                "summary": ("_sum", "_count", "_created"), "gauge": ("",), "untyped": ("",)}
    names = set()
    for line in exposition.splitlines():
        if line.startswith("# TYPE "):
            _, _, name, kind = line.split()
            names |= {name.removesuffix("_total") + suffix for suffix in suffixes[kind]}
            names.add(name)
        elif line and not line.startswith("#"):
            names.add(re.split(r"[{ ]", line, maxsplit=1)[0])
    return names
