"""``shared.rpc``: a service whose broker goes away while it answers keeps running, and
runs the request once."""

import logging

import eventlet
import pytest
from nameko.exceptions import RemoteError
from nameko.standalone.rpc import ClusterRpcProxy

import shared.web  # noqa: F401 - registers the kit's errors with nameko, as services do
from shared.errors import NotFound
from shared.rpc import rpc

pytestmark = pytest.mark.usefixtures("rabbit_config")


class Slow:
    name = "slow"
    runs = []

    @rpc
    def work(self, number):
        self.runs.append(number)
        eventlet.sleep(0.5)  # the broker goes away now, before the reply
        return number


def test_a_broker_cut_mid_call_neither_kills_the_service_nor_runs_the_request_twice(
        container_factory, make_service_config, rabbit_config, tcp_proxy, sqlite_url):
    broker = tcp_proxy(5672)
    config = make_service_config(sqlite_url,
                                 AMQP_URI=broker.rewrite(rabbit_config["AMQP_URI"]))
    container = container_factory(Slow, config)
    container.start()
    Slow.runs.clear()
    with ClusterRpcProxy(rabbit_config) as caller:  # the caller keeps its broker
        reply = caller.slow.work.call_async(1)
        while not Slow.runs:
            eventlet.sleep(0.01)
        broker.cut()
        # Longer than nameko's three quick tries to send the reply, and than kombu's 5 s
        # connect timeout: the reply's pooled connection is a fresh one (this service has
        # not published yet), whose connect kombu gives up after those 5 s whatever the
        # retry policy says.
        eventlet.sleep(8)
        broker.restore()
        with eventlet.Timeout(20):
            assert reply.result() == 1
            assert caller.slow.work(2) == 2  # still serving
        eventlet.sleep(0.5)
    # the request came back when the service reconnected (its ack was lost): not run again
    assert Slow.runs == [1, 2]
    assert not container._died.ready()


class Answering:
    name = "answering"

    @rpc
    def find(self, code):
        raise NotFound(f"no organization has the code {code!r}", {"code": code})

    @rpc
    def crash(self):
        raise RuntimeError("a bug")


def test_a_client_error_is_logged_at_info_without_a_traceback_and_a_fault_at_error(
        container_factory, make_service_config, rabbit_config, sqlite_url, caplog):
    container = container_factory(Answering, make_service_config(sqlite_url))
    container.start()
    caplog.set_level(logging.DEBUG, logger="nameko.containers")
    with ClusterRpcProxy(rabbit_config) as caller:
        with pytest.raises(NotFound):
            caller.answering.find("x")
        with pytest.raises(RemoteError):
            caller.answering.crash()
    worker_lines = [record for record in caplog.records if record.name == "nameko.containers"
                    and record.levelno >= logging.INFO]
    answered, crashed = worker_lines
    assert answered.levelno == logging.INFO
    assert answered.getMessage() == (
        "answering.find answered 404 NOT_FOUND: no organization has the code 'x'")
    assert answered.exc_info is None and answered.exc_text is None
    assert crashed.levelno == logging.ERROR
    assert crashed.exc_info[0] is RuntimeError  # the traceback is kept
