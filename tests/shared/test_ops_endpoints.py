"""/healthz, /readyz and /metrics on a running service."""

import pytest
from nameko.testing.services import entrypoint_hook, entrypoint_waiter

from tests.shared.demo.service import DemoListener, DemoService


@pytest.fixture
def demo(container_factory, service_config):
    container = container_factory(DemoService, service_config)
    container.start()
    return container


def url(config, path):
    return f"http://{config['WEB_SERVER_ADDRESS']}{path}"


def test_health_and_readiness(demo, service_config):
    import requests

    assert requests.get(url(service_config, "/healthz")).json() == {
        "status": "ok", "service": "demo"}
    ready = requests.get(url(service_config, "/readyz"))
    assert ready.status_code == 200
    assert ready.json()["checks"] == {"database": True, "broker": True}


def test_readiness_fails_when_the_broker_is_unreachable(container_factory, make_service_config,
                                                        sqlite_url):
    import requests

    config = make_service_config(sqlite_url)
    container = container_factory(DemoService, config)
    container.start()
    container.config["AMQP_URI"] = "amqp://guest:guest@127.0.0.1:1/"
    ready = requests.get(url(config, "/readyz"))
    assert ready.status_code == 503
    assert ready.json()["checks"]["broker"] is False


def test_metrics_count_calls_events_and_outbox(demo, service_config, container_factory,
                                               make_service_config, tmp_path):
    import requests

    listener = container_factory(
        DemoListener, make_service_config(f"sqlite:///{tmp_path}/listener.db"))
    listener.start()
    with entrypoint_waiter(listener, "handle_note_written", timeout=10):
        with entrypoint_hook(demo, "write") as write:
            write("counted")
    text = requests.get(url(service_config, "/metrics")).text
    assert 'gonghui_entrypoint_calls_total{entrypoint="write",kind="Rpc",outcome="ok",' \
           'service="demo"}' in text
    assert 'gonghui_events_published_total{service="demo"}' in text
    assert 'gonghui_outbox_lag_seconds{service="demo"}' in text
    assert 'gonghui_dead_letter_messages{service="demo"} 0.0' in text
    assert 'gonghui_events_consumed_total{outcome="handled",service="listener",' \
           'source="demo",type="note_written"}' in text

