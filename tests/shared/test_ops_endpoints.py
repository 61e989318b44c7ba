"""/healthz, /readyz and /metrics on a running service."""

import eventlet
import pytest
from eventlet.event import Event
from nameko.rpc import rpc
from nameko.standalone.rpc import ClusterRpcProxy
from nameko.testing.services import entrypoint_waiter

from shared.testing import call
from shared.web import http, json_response
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
        call(demo, "write", "counted")
    text = requests.get(url(service_config, "/metrics")).text
    assert 'gonghui_entrypoint_calls_total{entrypoint="write",kind="Rpc",outcome="ok",' \
           'service="demo"}' in text
    assert 'gonghui_events_published_total{service="demo"}' in text
    assert 'gonghui_outbox_lag_seconds{service="demo"}' in text
    assert 'gonghui_dead_letter_messages{service="demo"} 0.0' in text
    assert 'gonghui_events_consumed_total{outcome="handled",service="listener",' \
           'source="demo",type="note_written"}' in text


class BusyDemo(DemoService):
    """The demo service with an RPC that holds its worker until the test releases it."""

    release = None  # an eventlet Event, set by the test
    holding = []

    @rpc
    def hold(self):
        BusyDemo.holding.append(1)
        BusyDemo.release.wait()

    @http("GET", "/ordinary")
    def ordinary(self, request):
        return json_response({"ok": True})


def test_probes_answer_while_every_worker_is_busy(container_factory, make_service_config,
                                                  db_url):
    import requests

    config = make_service_config(db_url, max_workers=2)
    container = container_factory(BusyDemo, config)
    container.start()
    BusyDemo.release, BusyDemo.holding = Event(), []
    try:
        with ClusterRpcProxy(config) as rpc_proxy:
            calls = [rpc_proxy.demo.hold.call_async() for _ in range(2)]
            with eventlet.Timeout(10):
                while len(BusyDemo.holding) < 2:
                    eventlet.sleep(0.01)
            # The pool is full: an ordinary route waits for a worker.
            with pytest.raises(requests.Timeout):
                requests.get(url(config, "/ordinary"), timeout=1)

            assert requests.get(url(config, "/healthz"), timeout=0.5).json() == {
                "status": "ok", "service": "demo"}
            ready = requests.get(url(config, "/readyz"), timeout=0.5)
            assert (ready.status_code, ready.json()["checks"]) == (
                200, {"database": True, "broker": True})
            metrics = requests.get(url(config, "/metrics"), timeout=2)
            assert metrics.status_code == 200
            assert 'gonghui_dead_letter_messages{service="demo"} 0.0' in metrics.text

            BusyDemo.release.send()
            for call in calls:
                call.result()
    finally:
        if not BusyDemo.release.ready():
            BusyDemo.release.send()
    assert requests.get(url(config, "/ordinary"), timeout=5).json() == {"ok": True}


def test_a_lost_broker_is_one_log_line_with_its_error_not_a_traceback(capsys):
    import logging

    from shared.logs import configure_logging

    root = logging.getLogger()
    saved = root.handlers[:], root.level
    configure_logging("demo", "INFO", "text")
    try:
        try:
            raise ConnectionRefusedError(111, "Connection refused")
        except ConnectionRefusedError:
            logging.getLogger("kombu.mixins").warning(
                "Connection to broker lost, trying to re-establish connection...",
                exc_info=True)
        logging.getLogger("demo").warning("unrelated",
                                          exc_info=(ValueError, ValueError("x"), None))
    finally:
        root.handlers[:], root.level = saved  # pytest's own capture comes back
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].endswith("Connection to broker lost, trying to re-establish connection... "
                             "(ConnectionRefusedError: [Errno 111] Connection refused)")
    assert "Traceback" not in lines[1]  # the next line is the next record
    assert any(line.startswith("ValueError: x") for line in lines)  # others keep theirs
