"""deploy/k8s: every manifest valid against the Kubernetes schemas, or for the operators'
resources (RabbitmqCluster, CloudNativePG's Cluster and Database) against their published
CRDs vendored in tests/deploy/crds (offline, strict: an unknown field fails); a Deployment
and Service per registered service with the right port, probes and limits; the broker and
the databases as an ops team runs them (quorum queues, a role and database per service),
who may reach what, and where replicas come from."""

import copy
from functools import cache
from pathlib import Path

import jsonschema
import kubernetes_validate
import pytest
from sqlalchemy.engine import make_url

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
CRDS = Path(__file__).parent / "crds"
# apiVersion, kind -> the vendored CRD that defines it
CUSTOM = {("rabbitmq.com/v1beta1", "RabbitmqCluster"): "rabbitmq.com_rabbitmqclusters.yaml",
          ("postgresql.cnpg.io/v1", "Cluster"): "postgresql.cnpg.io_clusters.yaml",
          ("postgresql.cnpg.io/v1", "Database"): "postgresql.cnpg.io_databases.yaml"}


def strict(schema):
    """The CRD's schema refusing unknown fields, as `kubectl apply --validate=strict` does
    (a structural schema would otherwise prune them silently)."""
    if isinstance(schema, dict):
        schema = {key: strict(value) for key, value in schema.items()}
        if (schema.get("type") == "object" and "properties" in schema
                and "additionalProperties" not in schema
                and not schema.get("x-kubernetes-preserve-unknown-fields")):
            schema["additionalProperties"] = False
        return schema
    if isinstance(schema, list):
        return [strict(value) for value in schema]
    return schema


class InvalidCustomResource(ValueError):
    pass


@cache
def crd_validator(api_version, kind):
    crd = load_yaml(CRDS / CUSTOM[api_version, kind])
    group, _, version = api_version.partition("/")
    assert crd["spec"]["group"] == group and crd["spec"]["names"]["kind"] == kind
    (served,) = [v for v in crd["spec"]["versions"] if v["name"] == version and v["served"]]
    schema = strict(served["schema"]["openAPIV3Schema"])
    schema["properties"]["metadata"] = {"type": "object"}  # the API server checks metadata
    return jsonschema.Draft7Validator(schema)


def validate(resource):
    key = (resource["apiVersion"], resource["kind"])
    if key in CUSTOM:
        errors = [f"{'/'.join(map(str, e.absolute_path))}: {e.message}"
                  for e in crd_validator(*key).iter_errors(resource)]
        if errors:
            raise InvalidCustomResource("; ".join(errors))
        return
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


def test_the_crd_check_rejects_a_misspelt_or_mistyped_field():
    broker = copy.deepcopy(k8s_resource("RabbitmqCluster", "rabbitmq"))
    broker["spec"]["replica"] = 3
    with pytest.raises(InvalidCustomResource, match="replica"):
        validate(broker)
    database = copy.deepcopy(k8s_resource("Cluster", "postgres"))
    database["spec"]["instances"] = "three"
    with pytest.raises(InvalidCustomResource, match="instances"):
        validate(database)


def test_the_broker_is_a_three_node_cluster_with_quorum_queues_drained_one_node_at_a_time():
    broker = k8s_resource("RabbitmqCluster", "rabbitmq")
    assert broker["spec"]["replicas"] == 3  # odd: a majority survives one node lost
    config = broker["spec"]["rabbitmq"]["additionalConfig"].splitlines()
    assert "default_queue_type = quorum" in config
    assert "rabbitmq_prometheus" in broker["spec"]["rabbitmq"]["additionalPlugins"]
    budget = k8s_resource("PodDisruptionBudget", "rabbitmq")
    assert budget["spec"] == {"maxUnavailable": 1, "selector": {
        "matchLabels": {"app.kubernetes.io/name": "rabbitmq"}}}
    amqp = make_url(k8s_resource("Secret", "gonghui-secrets")["stringData"]["AMQP_URI"]
                    .replace("amqp://", "postgresql://"))  # only for its host
    assert amqp.host == broker["metadata"]["name"]  # the Service the operator makes


@pytest.mark.parametrize("name", SERVICE_NAMES)
def test_every_service_has_its_own_role_and_database_on_the_postgres_cluster(name):
    cluster = k8s_resource("Cluster", "postgres")
    roles = {role["name"]: role for role in cluster["spec"]["managed"]["roles"]}
    assert roles[name]["login"] is True and roles[name]["ensure"] == "present"
    assert not roles[name].get("superuser") and not roles[name].get("createdb")
    database = k8s_resource("Database", name)
    assert database["spec"] == {"name": name, "owner": name, "cluster": {"name": "postgres"},
                                "databaseReclaimPolicy": "retain"}
    password = k8s_resource("Secret", roles[name]["passwordSecret"]["name"])
    assert password["type"] == "kubernetes.io/basic-auth"
    assert password["stringData"]["username"] == name
    url = make_url(k8s_resource("Secret", "gonghui-secrets")["stringData"][
        f"{name.upper()}_DATABASE_URL"])
    assert (url.username, url.host, url.database) == (name, "postgres-rw", name)


def network_policies():
    return [doc for _, doc in DOCUMENTS if doc["kind"] == "NetworkPolicy"]


def selects(selector, labels):
    if not selector:
        return True
    for key, value in selector.get("matchLabels", {}).items():
        if labels.get(key) != value:
            return False
    for expression in selector.get("matchExpressions", []):
        assert expression["operator"] == "In", expression
        if labels.get(expression["key"]) not in expression["values"]:
            return False
    return True


def allowed(pod_labels, port_, source_labels=None, source_namespace="gonghui"):
    """Whether some policy lets a pod labelled ``source_labels`` (or any pod of
    ``source_namespace``) reach ``port_`` of a pod labelled ``pod_labels``."""
    for policy in network_policies():
        if not selects(policy["spec"]["podSelector"], pod_labels):
            continue
        for rule in policy["spec"].get("ingress", []):
            ports = [p["port"] for p in rule.get("ports", [])]
            if ports and port_ not in ports:
                continue
            sources = rule.get("from")
            if sources is None:
                return True
            for source in sources:
                if "namespaceSelector" in source:
                    names = source["namespaceSelector"]["matchLabels"]
                    if names.get("kubernetes.io/metadata.name") == source_namespace \
                            and source_labels is None:
                        return True
                elif source_labels is not None and source_namespace == "gonghui" and \
                        selects(source["podSelector"], source_labels):
                    return True
    return False


def test_ingress_is_denied_unless_a_policy_allows_it():
    (deny,) = [p for p in network_policies() if p["metadata"]["name"] == "default-deny-ingress"]
    assert deny["spec"] == {"podSelector": {}, "policyTypes": ["Ingress"]}
    assert not allowed({"app.kubernetes.io/name": "registry"}, "http", source_namespace="x")


@pytest.mark.parametrize("name", SERVICE_NAMES)
def test_each_service_reaches_the_broker_and_postgres_and_is_scraped(name):
    pod = k8s_resource("Deployment", name)["spec"]["template"]["metadata"]["labels"]
    assert allowed({"app.kubernetes.io/name": "rabbitmq"}, 5672, pod)
    assert allowed({"cnpg.io/cluster": "postgres"}, 5432, pod)
    assert allowed(pod, "http", source_namespace="monitoring")
    assert allowed(pod, "http", source_labels={"anyone": "else"}, source_namespace="x") == (
        name == "gateway")  # only the gateway is public
    assert not allowed({"cnpg.io/cluster": "postgres"}, 5432, {"app.kubernetes.io/name": "x"})


def test_the_gateway_and_busy_consumers_scale_and_a_drain_keeps_a_gateway():
    autoscalers = {doc["metadata"]["name"]: doc for _, doc in DOCUMENTS
                   if doc["kind"] == "HorizontalPodAutoscaler"}
    assert {"gateway", "disputes", "notifications"} <= set(autoscalers)
    for name, autoscaler in autoscalers.items():
        target = autoscaler["spec"]["scaleTargetRef"]
        assert (target["kind"], target["name"]) == ("Deployment", name)
        deployment, spec = container(name)
        assert "replicas" not in deployment["spec"], f"{name}: an apply would undo the HPA"
        assert "cpu" in spec["resources"]["requests"]  # utilisation is relative to it
        assert 1 <= autoscaler["spec"]["minReplicas"] < autoscaler["spec"]["maxReplicas"]
    budget = k8s_resource("PodDisruptionBudget", "gateway")
    assert budget["spec"]["minAvailable"] < autoscalers["gateway"]["spec"]["minReplicas"]
    assert selects(budget["spec"]["selector"],
                   k8s_resource("Deployment", "gateway")["spec"]["template"]["metadata"][
                       "labels"])
