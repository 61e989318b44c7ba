"""services/README.md's recipe, checked for every service in ``services.SERVICES``: its
port, compose service, Kubernetes manifest, scrape target, AsyncAPI channels, migrations,
gateway routes and test folder; and every backend service folder in the anatomy that the
README lists (read from the README itself, so the two cannot disagree)."""

import re
from functools import cache
from importlib import import_module

import pytest
import yaml

from services import SERVICES
from shared.config import SERVICE_PORTS
from tests.deploy.files import COMPOSE, K8S, PROMETHEUS, ROOT, SERVICE_NAMES, load_yaml

README = ROOT / "services" / "README.md"
BACKENDS = [name for name in SERVICE_NAMES if name != "gateway"]
RECIPE = "services/README.md, \"Adding a backend service\""


def readme_block(heading: str) -> list[str]:
    """The lines of the first fenced block under ``## heading`` in services/README.md."""
    section = README.read_text(encoding="utf-8").split(f"\n## {heading}\n", 1)[1]
    return section.split("```text\n", 1)[1].split("```", 1)[0].splitlines()


def anatomy() -> tuple[set, set]:
    """(names every backend service folder has, names it may have as well)."""
    required, allowed, group = set(), set(), None
    for line in readme_block("Anatomy of a service"):
        if line.startswith("services/"):
            group = required
        elif not line.startswith(" "):
            group = allowed  # "when the service has such things, ..."
        elif entry := re.match(r"  (\S+)", line):
            group.add(entry[1])
    return required, allowed


def test_the_readme_anatomy_block_reads_as_names():
    required, allowed = anatomy()
    assert {"__init__.py", "service.py", "domain.py", "operations.py", "migrations/"} <= required
    assert {"readmodel.py", "policy.py"} <= allowed and not required & allowed
    assert all(re.fullmatch(r"[a-z_]+(\.py|/)", name) for name in required | allowed)


def test_the_project_readme_names_the_same_anatomy():
    """README.md's short "Anatomy of a service" names exactly the files of this page's."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    block = text.split("\n### Anatomy of a service\n", 1)[1].split("```\n", 2)[1]
    named = set(re.findall(r"\b([a-z_]+(?:\.py|/))", block)) - {"api/", "shared/"}
    required, allowed = anatomy()
    assert named == (required | allowed) - {"__init__.py"}, (
        "README.md and services/README.md disagree on the anatomy")


# ---------------------------------------------------------------- the recipe, per service
# One check per step: None when the service has the entry, else what is missing and where.


def service_folder(name):
    return ROOT / "services" / name


@cache
def document(path):
    return load_yaml(path)


def missing(text, step):
    return f"{text} ({RECIPE}, step {step})"


def check_port(name):
    if name not in SERVICE_PORTS:
        return missing(f"shared/config.py SERVICE_PORTS has no {name!r}", 2)


def check_migrations(name):
    migrations = service_folder(name) / "migrations"
    if not (migrations / "env.py").exists():
        return missing(f"services/{name}/migrations/env.py is missing", 3)
    if not [p for p in (migrations / "versions").glob("*.py") if p.name != "__init__.py"]:
        return missing(f"services/{name}/migrations/versions/ has no revision", 3)


def check_events(name):
    from shared.events import catalogue

    types = sorted(t.type for t in catalogue if t.source == name)
    if (ROOT / "shared" / "events" / f"{name}.py").exists() and not types:
        return missing(f"shared/events/{name}.py defines no event type in the catalogue, or "
                       "shared/events/__init__.py does not import it", 5)
    channels = document(ROOT / "asyncapi.yaml")["channels"]
    absent = [f"{name}.{type_}" for type_ in types if f"{name}.{type_}" not in channels]
    if absent:
        return missing(f"asyncapi.yaml lacks the channels {absent}: run `make asyncapi`", 5)


def check_gateway(name):
    if name == "gateway":
        return None
    from services.gateway.dependencies import BackendRpc
    from services.gateway.service import GatewayService

    if not (ROOT / "services" / "gateway" / "routes" / f"{name}.py").exists():
        return missing(f"services/gateway/routes/{name}.py is missing", 6)
    if not any(cls.__module__ == f"services.gateway.routes.{name}"
               for cls in GatewayService.__mro__):
        return missing(f"GatewayService does not take a mixin from routes/{name}.py", 6)
    if not isinstance(getattr(GatewayService, f"{name}_rpc", None), BackendRpc):
        return missing(f"GatewayService has no {name}_rpc = BackendRpc({name!r})", 6)


def check_compose(name):
    services = document(COMPOSE)["services"]
    if name not in services:
        return missing(f"docker-compose.yml has no service {name!r}", 7)
    if name not in services["postgres"]["environment"]["GONGHUI_DATABASES"].split():
        return missing(f"docker-compose.yml: {name!r} is not in the postgres service's "
                       "GONGHUI_DATABASES", 7)


def check_kubernetes(name):
    manifest = K8S / f"{name}.yaml"
    if not manifest.exists():
        return missing(f"deploy/k8s/{name}.yaml is missing", 8)
    kinds = {(doc["kind"], doc["metadata"]["name"])
             for doc in yaml.safe_load_all(manifest.read_text(encoding="utf-8")) if doc}
    if not {("Deployment", name), ("Service", name)} <= kinds:
        return missing(f"deploy/k8s/{name}.yaml needs a Deployment and a Service named "
                       f"{name!r}", 8)
    if manifest.name not in document(K8S / "kustomization.yaml")["resources"]:
        return missing(f"deploy/k8s/kustomization.yaml does not list {manifest.name}", 8)
    secrets = {doc["metadata"]["name"]: doc for doc in yaml.safe_load_all(
        (K8S / "secret.template.yaml").read_text(encoding="utf-8"))}
    if f"{name.upper()}_DATABASE_URL" not in secrets["gonghui-secrets"]["stringData"]:
        return missing(f"deploy/k8s/secret.template.yaml has no {name.upper()}_DATABASE_URL",
                       8)


def check_prometheus(name):
    targets = {job["job_name"]: [t for static in job.get("static_configs", [])
                                 for t in static["targets"]]
               for job in document(PROMETHEUS)["scrape_configs"]}
    expected = f"{name}:{SERVICE_PORTS.get(name)}"
    if expected not in targets.get(name, []):
        return missing(f"deploy/prometheus.yml has no job {name!r} scraping {expected}", 9)


def check_tests(name):
    if not list((ROOT / "tests" / name).glob("test_*.py")):
        return missing(f"tests/{name}/ has no test file", 10)


CHECKS = [check_port, check_migrations, check_events, check_gateway, check_compose,
          check_kubernetes, check_prometheus, check_tests]


def test_every_service_is_registered_with_its_service_class():
    for name, path in SERVICES.items():
        module, _, cls = path.partition(":")
        assert module == f"services.{name}.service", missing(f"{name}: {path}", 1)
        assert getattr(import_module(module), cls).name == name, f"{path}.name != {name!r}"


@pytest.mark.parametrize("check", CHECKS, ids=lambda check: check.__name__.removeprefix(
    "check_"))
@pytest.mark.parametrize("name", SERVICE_NAMES)
def test_the_service_has_every_entry_of_the_recipe(name, check):
    problem = check(name)
    assert problem is None, problem


def test_a_service_that_only_has_a_port_misses_every_other_entry(monkeypatch):
    # a service with a port reserved in shared/config.py and nothing else written yet
    monkeypatch.setitem(SERVICE_PORTS, "hypothetical", 8099)
    problems = {check.__name__: check("hypothetical") for check in CHECKS}
    assert problems.pop("check_port") is None
    assert problems.pop("check_events") is None  # it publishes nothing (yet)
    assert all(problems.values()), [name for name, problem in problems.items() if not problem]
    assert problems["check_compose"] == ("docker-compose.yml has no service 'hypothetical' "
                                         f"({RECIPE}, step 7)")
    assert "deploy/k8s/hypothetical.yaml is missing" in problems["check_kubernetes"]


# ---------------------------------------------------------------- the anatomy


def folder_names(folder) -> set:
    return {f"{p.name}/" if p.is_dir() else p.name
            for p in folder.iterdir() if p.name != "__pycache__"}


@pytest.mark.parametrize("name", BACKENDS)
def test_the_service_folder_is_in_the_anatomy(name):
    required, allowed = anatomy()
    names = folder_names(service_folder(name))
    lacking, foreign = sorted(required - names), sorted(names - required - allowed)
    problems = ([f"lacks {lacking}"] if lacking else []) + (
        [f"holds {foreign}, not in the anatomy (fold them into its names)"] if foreign else [])
    assert not problems, f"services/{name}/ {' and '.join(problems)} " \
                         "(services/README.md, \"Anatomy of a service\")"


@pytest.mark.parametrize("name", BACKENDS)
def test_its_rpc_contract_is_in_shared_api(name):
    assert (ROOT / "shared" / "api" / f"{name}.py").exists(), \
        f"shared/api/{name}.py (the RPC contract) is missing ({RECIPE}, step 4)"


# ---------------------------------------------------------------- test file names


def file_name_patterns() -> list:
    """Regular expressions for the file names the README allows in tests/<name>/."""
    required, allowed = anatomy()
    parts = sorted(n.removesuffix(".py").removesuffix("/") for n in required | allowed
                   if n != "__init__.py")
    part = "|".join(parts + ["routes"])
    return [re.compile(rf"test_({part})(_[a-z0-9_]+)?\.py"),
            re.compile(r"test_with_[a-z_]+\.py"),
            re.compile(r"(conftest|fakes|__init__)\.py")]


def misnamed_test_files(name) -> list:
    folder = ROOT / "tests" / name
    patterns = file_name_patterns()
    if name == "gateway":  # its parts are its own modules; a backend's routes are tested
        own = {p.stem for p in service_folder("gateway").glob("*.py")} | {"routes"}
        patterns[0] = re.compile(rf"test_({'|'.join(sorted(own))})(_[a-z0-9_]+)?\.py")
        del patterns[1]  # in the backend's folder, not as tests/gateway/test_with_<backend>
    return sorted(p.name for p in folder.glob("*.py")
                  if not any(pattern.fullmatch(p.name) for pattern in patterns))


def test_the_naming_check_tells_good_names_from_bad():
    patterns = file_name_patterns()

    def good(file):
        return any(pattern.fullmatch(file) for pattern in patterns)

    assert all(map(good, ["test_domain.py", "test_operations_cards.py", "test_routes.py",
                          "test_with_registry.py", "test_readmodel.py", "conftest.py"]))
    assert not any(map(good, ["test_gateway.py", "test_gateway_routes.py", "test_stuff.py",
                              "helpers.py"]))


@pytest.mark.parametrize("name", SERVICE_NAMES)
def test_test_files_are_named_by_the_part_they_test(name):
    misnamed = misnamed_test_files(name)
    if not (ROOT / "tests" / name / "__init__.py").exists():
        misnamed.append("__init__.py is missing")
    assert not misnamed, f"tests/{name}/: {misnamed} (services/README.md, \"Test files\")"
