"""When the registry is down or slow the gateway answers 503 quickly, not a hang or a 500."""

import eventlet
from nameko.rpc import rpc

from services.gateway.service import GatewayService
from tests.gateway.conftest import Client
from tests.gateway.fakes import NANKENG


class SlowRegistry:
    name = "registry"

    @rpc
    def get_organization(self, code):
        eventlet.sleep(5)


def test_the_gateway_answers_503_while_the_registry_is_not_running(container_factory,
                                                                   gateway_config):
    container = container_factory(GatewayService, gateway_config)
    container.start()
    response = Client(gateway_config["WEB_SERVER_ADDRESS"]).get(
        f"/api/v1/organizations/{NANKENG}")
    assert response.status_code == 503
    assert response.json()["details"] == {"service": "registry"}


def test_the_gateway_answers_503_when_the_registry_is_too_slow(container_factory,
                                                               make_service_config,
                                                               sqlite_url):
    config = make_service_config(sqlite_url, GATEWAY_RPC_TIMEOUT=0.5)
    container_factory(SlowRegistry, config).start()
    container_factory(GatewayService, config).start()
    started = eventlet.hubs.get_hub().clock()
    response = Client(config["WEB_SERVER_ADDRESS"]).get(f"/api/v1/organizations/{NANKENG}")
    assert response.status_code == 503
    assert "did not answer within 0.5s" in response.json()["message"]
    assert eventlet.hubs.get_hub().clock() - started < 3
