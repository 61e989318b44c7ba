"""deploy/k8s: every manifest valid against the Kubernetes schemas (offline), and a
Deployment and Service per registered service with the right port, probes and limits."""

import copy

import kubernetes_validate
import pytest

from shared.config import SETTINGS, stop_timeout
from tests.deploy.files import (
    K8S,
    SERVICE_NAMES,
    k8s_documents,
    k8s_resource,
    known_setting,
    load_yaml,
    port,
)

KUBERNETES_VERSION = kubernetes_validate.latest_version()
DOCUMENTS = list(k8s_documents())


def validate(resource):
    # strict: an unknown or misspelt field fails rather than being ignored by the cluster
    kubernetes_validate.validate(resource, KUBERNETES_VERSION, strict=True)


@pytest.mark.parametrize("resource", [doc for _, doc in DOCUMENTS],
                         ids=[f"{name}:{doc['kind']}" for name, doc in DOCUMENTS])
def test_every_manifest_validates_against_the_kubernetes_schema(resource):
    validate(resource)


def test_the_schema_check_rejects_a_misspelt_or_mistyped_field():
    deployment = k8s_resource("Deployment", SERVICE_NAMES[0])
    misspelt = copy.deepcopy(deployment)
    misspelt["spec"]["template"]["spec"]["containers"][0]["livenesProbe"] = {}
    with pytest.raises(kubernetes_validate.ValidationError):
        validate(misspelt)
    mistyped = copy.deepcopy(deployment)
    mistyped["spec"]["replicas"] = "one"
    with pytest.raises(kubernetes_validate.ValidationError):
        validate(mistyped)


def container(name):
    deployment = k8s_resource("Deployment", name)
    (only,) = deployment["spec"]["template"]["spec"]["containers"]
    return deployment, only


def env_of(spec):
    return {item["name"]: item for item in spec.get("env", [])}


@pytest.mark.parametrize("name", SERVICE_NAMES)
def test_every_service_has_a_deployment_running_it_on_its_port(name):
    deployment, spec = container(name)
    assert spec["args"] == [name]
    (http,) = spec["ports"]
    assert http["containerPort"] == port(name)
    assert env_of(spec)[f"{name.upper()}_HTTP_PORT"]["value"] == str(port(name))
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert deployment["spec"]["selector"]["matchLabels"].items() <= labels.items()
    assert deployment["spec"]["template"]["metadata"]["annotations"]["prometheus.io/port"] == \
        str(port(name))


@pytest.mark.parametrize("name", SERVICE_NAMES)
def test_probes_point_at_healthz_and_readyz_on_the_service_port(name):
    _, spec = container(name)
    port_names = {p["name"]: p["containerPort"] for p in spec["ports"]}

    def target(probe):
        action = spec[probe]["httpGet"]
        return action["path"], port_names.get(action["port"], action["port"])

    assert target("livenessProbe") == ("/healthz", port(name))
    assert target("readinessProbe") == ("/readyz", port(name))
    if "startupProbe" in spec:
        assert target("startupProbe") == ("/healthz", port(name))


@pytest.mark.parametrize("name", SERVICE_NAMES)
def test_every_deployment_has_limits_runs_as_non_root_and_stops_gracefully(name):
    deployment, spec = container(name)
    pod = deployment["spec"]["template"]["spec"]
    for kind in ("requests", "limits"):
        assert {"cpu", "memory"} <= set(spec["resources"][kind]), kind
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] != 0
    assert spec["securityContext"]["allowPrivilegeEscalation"] is False
    assert spec["securityContext"]["capabilities"]["drop"] == ["ALL"]
    assert 10 <= pod["terminationGracePeriodSeconds"] <= 120


@pytest.mark.parametrize("name", SERVICE_NAMES)
def test_the_grace_period_outlasts_the_services_own_stop_timeout(name):
    # The process gives up its graceful stop after STOP_TIMEOUT_SECONDS, checks the broker
    # (up to 3 s) and logs why: all before the kubelet's SIGKILL, or the reason is lost.
    deployment, spec = container(name)
    env = k8s_resource("ConfigMap", "gonghui-config")["data"] | {
        key: item["value"] for key, item in env_of(spec).items() if "value" in item}
    grace = deployment["spec"]["template"]["spec"]["terminationGracePeriodSeconds"]
    assert grace >= stop_timeout(env) + 5


@pytest.mark.parametrize("name", SERVICE_NAMES)
def test_every_service_has_a_kubernetes_service_on_its_port(name):
    deployment, _ = container(name)
    service = k8s_resource("Service", name)
    (http,) = service["spec"]["ports"]
    assert http["port"] == port(name)
    assert http["targetPort"] in ("http", port(name))
    pod_labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert service["spec"]["selector"].items() <= pod_labels.items()


@pytest.mark.parametrize("name", SERVICE_NAMES)
def test_each_service_reads_its_own_database_url_and_shared_settings(name):
    _, spec = container(name)
    secret = k8s_resource("Secret", "gonghui-secrets")
    config_map = k8s_resource("ConfigMap", "gonghui-config")
    env = env_of(spec)
    own_url = f"{name.upper()}_DATABASE_URL"
    assert env[own_url]["valueFrom"]["secretKeyRef"]["key"] == own_url
    assert env["AMQP_URI"]["valueFrom"]["secretKeyRef"]["key"] == "AMQP_URI"
    others = {f"{other.upper()}_DATABASE_URL" for other in SERVICE_NAMES} - {own_url}
    assert not others & set(env), "a service must not be given another's database"
    for item in env.values():
        assert known_setting(item["name"], name), item["name"]
        ref = item.get("valueFrom", {}).get("secretKeyRef")
        if ref:
            assert ref["name"] == secret["metadata"]["name"]
            assert ref["key"] in secret["stringData"], f"the Secret template lacks {ref['key']}"
    assert spec["envFrom"] == [{"configMapRef": {"name": config_map["metadata"]["name"]}}]


def test_the_config_map_holds_only_settings_shared_config_reads():
    settings = {s.env for s in SETTINGS if "<SERVICE>" not in s.env}
    data = k8s_resource("ConfigMap", "gonghui-config")["data"]
    assert set(data) <= settings
    assert "AMQP_URI" not in data, "the broker URI has credentials: it belongs in the Secret"


def test_kubernetes_runs_no_service_that_is_not_registered():
    deployments = {doc["metadata"]["name"] for _, doc in DOCUMENTS if doc["kind"] == "Deployment"}
    assert deployments <= set(SERVICE_NAMES)


def test_the_kustomization_applies_every_manifest_but_the_secret_template():
    kustomization = load_yaml(K8S / "kustomization.yaml")
    manifests = {path.name for path in K8S.glob("*.yaml")} - {"kustomization.yaml"}
    assert set(kustomization["resources"]) == manifests - {"secret.template.yaml"}
    images = {image["name"] for image in kustomization["images"]}
    for name in SERVICE_NAMES:
        _, spec = container(name)
        assert spec["image"].partition(":")[0] in images
    assert all(doc["metadata"].get("namespace", "gonghui") == kustomization["namespace"]
               for _, doc in DOCUMENTS if doc["kind"] != "Namespace")
