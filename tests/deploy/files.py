"""The deployment files, loaded once, and what they must agree with."""

from pathlib import Path

import yaml

from services import SERVICES
from shared.config import SERVICE_PORTS, SETTINGS

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
K8S = DEPLOY / "k8s"
COMPOSE = ROOT / "docker-compose.yml"
PROMETHEUS = DEPLOY / "prometheus.yml"
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
