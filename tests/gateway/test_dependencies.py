"""When the registry is down or slow the gateway answers 503 quickly, not a hang or a 500."""

import eventlet
from nameko.standalone.rpc import ClusterRpcProxy

from services.gateway.dependencies import address_ref, receipt_code, receipt_ref
from services.gateway.service import GatewayService
from shared.rpc import rpc
from tests.conftest import gateway_tokens
from tests.gateway.conftest import Client
from tests.gateway.fakes import DISTRICT, NANKENG


class SlowRegistry:
    name = "registry"

    @rpc
    def get_organization(self, code):
        eventlet.sleep(5)

    @rpc
    def register_organization(self, data, caller):
        eventlet.sleep(5)  # done, say, but the answer is late


def test_the_gateway_answers_503_while_the_registry_is_not_running(container_factory,
                                                                   gateway_config):
    container = container_factory(GatewayService, gateway_config)
    container.start()
    response = Client(gateway_config["WEB_SERVER_ADDRESS"]).get(
        f"/api/v1/organizations/{NANKENG}")
    assert response.status_code == 503
    assert response.json()["service"] == "registry"


def test_the_gateway_answers_503_when_the_registry_is_too_slow(container_factory,
                                                               make_service_config,
                                                               sqlite_url):
    config = make_service_config(sqlite_url, GATEWAY_RPC_TIMEOUT=0.5)
    container_factory(SlowRegistry, config).start()
    container_factory(GatewayService, config).start()
    started = eventlet.hubs.get_hub().clock()
    response = Client(config["WEB_SERVER_ADDRESS"]).get(f"/api/v1/organizations/{NANKENG}")
    assert response.status_code == 503
    assert "did not answer within 0.5s" in response.json()["detail"]
    assert eventlet.hubs.get_hub().clock() - started < 3


class CountingRegistry:
    name = "registry"
    asked = []

    @rpc
    def get_organization(self, code):
        self.asked.append(code)
        return {"code": code}


def test_a_request_the_gateway_gave_up_on_does_not_run_later(container_factory,
                                                              make_service_config,
                                                              sqlite_url, rabbit_config):
    config = make_service_config(sqlite_url, GATEWAY_RPC_TIMEOUT=0.5)
    registry = container_factory(CountingRegistry, config)
    registry.start()
    registry.stop()  # its queue stays: requests wait there for it
    container_factory(GatewayService, config).start()
    response = Client(config["WEB_SERVER_ADDRESS"]).get(f"/api/v1/organizations/{NANKENG}")
    assert response.status_code == 503
    CountingRegistry.asked.clear()
    container_factory(CountingRegistry, config).start()
    # A request sent after it goes through the same queue: once it has been answered, the
    # one the gateway gave up on has been dropped (or would have run by then).
    with ClusterRpcProxy(rabbit_config) as caller:
        assert caller.registry.get_organization("sent later") == {"code": "sent later"}
    assert CountingRegistry.asked == ["sent later"]


def test_the_gateway_answers_503_at_its_deadline_while_the_broker_is_down(
        container_factory, make_service_config, sqlite_url, rabbit_config, tcp_proxy):
    broker = tcp_proxy(5672)
    config = make_service_config(sqlite_url, GATEWAY_RPC_TIMEOUT=2,
                                 AMQP_URI=broker.rewrite(rabbit_config["AMQP_URI"]))
    container_factory(CountingRegistry, config).start()
    container_factory(GatewayService, config).start()
    broker.cut()
    started = eventlet.hubs.get_hub().clock()
    response = Client(config["WEB_SERVER_ADDRESS"]).get(f"/api/v1/organizations/{NANKENG}")
    assert response.status_code == 503, response.text
    assert response.json()["service"] == "registry"
    assert 1.5 < eventlet.hubs.get_hub().clock() - started < 4


def test_the_deadline_counts_from_arrival_even_when_requests_wait_for_a_worker(
        container_factory, make_service_config, sqlite_url):
    config = make_service_config(sqlite_url, GATEWAY_RPC_TIMEOUT=1, max_workers=2)
    container_factory(SlowRegistry, config).start()
    container_factory(GatewayService, config).start()
    client = Client(config["WEB_SERVER_ADDRESS"])

    def ask():
        started = eventlet.hubs.get_hub().clock()
        response = client.get(f"/api/v1/organizations/{NANKENG}")
        return response.status_code, eventlet.hubs.get_hub().clock() - started

    # Two workers, six requests: four wait a second for a worker, and then have no time
    # left. Counted from when each got a worker they would answer after about 2 and 3 s.
    answers = [thread.wait() for thread in [eventlet.spawn(ask) for _ in range(6)]]
    assert [status for status, _ in answers] == [503] * 6
    assert max(took for _, took in answers) < 1.8, answers


def test_a_write_whose_answer_is_late_is_a_504_outcome_unknown_never_a_503(
        container_factory, make_service_config, sqlite_url):
    config = make_service_config(sqlite_url, GATEWAY_RPC_TIMEOUT=0.5)
    container_factory(SlowRegistry, config).start()
    container_factory(GatewayService, config).start()
    token = gateway_tokens(config["DATABASE_URL"], {"admin": ("admin", DISTRICT)})["admin"]
    response = Client(config["WEB_SERVER_ADDRESS"]).post("/api/v1/organizations", {
        "code": "longgang", "name": "龙岗区总工会", "kind": "district_federation"}, token)
    assert response.status_code == 504, response.text
    problem = response.json()
    assert problem["code"] == "OUTCOME_UNKNOWN" and problem["service"] == "registry"
    assert "Idempotency-Key" in problem["detail"]


def test_one_idempotency_key_gives_a_report_and_an_objection_unrelated_receipt_codes():
    ref = {"key": "ab" * 16, "fingerprint": "cd" * 16}
    report = receipt_code({}, ref, "disputes.report")
    objection = receipt_code({}, ref, "competitions.objection")
    assert report != objection and len(report) == len(objection) == 16
    assert receipt_code({}, ref, "disputes.report") == report  # a retry: the same code
    # and what crosses the broker instead of a code or an address holds neither
    assert report not in receipt_ref({}, report)
    assert "127.0.0.1" not in address_ref({}, "127.0.0.1")
    assert address_ref({}, None) is None
