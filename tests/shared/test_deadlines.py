"""``shared.deadlines``: a request carries its caller's deadline; past it, it does not run
and nothing commits; the gateway publishes it with the time left as its broker expiry."""

import json
import time
from pathlib import Path

import eventlet
import pytest
from kombu import Connection, Exchange, Queue
from nameko.standalone.rpc import ClusterRpcProxy
from sqlalchemy import func, insert, select

import shared.web  # noqa: F401 - registers the kit's errors with nameko, as services do
from services.gateway.dependencies import BackendRpc
from services.gateway.service import GatewayService
from shared import deadlines
from shared.db import outbox_table
from shared.dependencies import Database
from shared.errors import DeadlineExceeded
from shared.rpc import rpc
from shared.web import http, json_response
from tests.gateway.conftest import Client
from tests.gateway.fakes import NANKENG
from tests.shared.demo.service import notes

pytestmark = pytest.mark.usefixtures("rabbit_config")


class Notes:
    name = "demo"  # its events are the demo service's
    db = Database(Path(__file__).parent / "demo" / "migrations")
    runs = []

    @rpc
    def write(self, text, commit_at=None):
        self.runs.append(text)
        with self.db.unit_of_work() as uow:
            # The work takes this long. (Waited before writing: SQLite's write lock, held
            # meanwhile, would block the relay in this process, and so the whole hub.)
            while commit_at and time.time() < commit_at:
                eventlet.sleep(0.01)
            uow.session.execute(insert(notes).values(text=text))
            uow.publish("note_written", {"text": text})
        return text

    @rpc
    def counts(self):
        with self.db.session() as session:
            return [session.execute(select(func.count()).select_from(table)).scalar()
                    for table in (notes, outbox_table)]


@pytest.fixture
def notes_service(container_factory, make_service_config, sqlite_url):
    Notes.runs.clear()
    container_factory(Notes, make_service_config(sqlite_url, RPC_COMMIT_MARGIN=0.5)).start()


def test_a_request_that_arrives_past_its_deadline_is_refused_without_running(
        notes_service, rabbit_config):
    with ClusterRpcProxy(rabbit_config,
                         context_data={"deadline": time.time() - 0.1}) as late:
        with pytest.raises(DeadlineExceeded):
            late.demo.write("late")
    with ClusterRpcProxy(rabbit_config,
                         context_data={"deadline": time.time() + 30}) as in_time:
        assert in_time.demo.write("in time") == "in time"
        assert in_time.demo.counts() == [1, 1]
    assert Notes.runs == ["in time"]


def test_a_commit_later_than_the_margin_before_the_deadline_is_refused_and_rolled_back(
        notes_service, rabbit_config):
    deadline = time.time() + 2
    with ClusterRpcProxy(rabbit_config, context_data={"deadline": deadline}) as caller:
        with pytest.raises(DeadlineExceeded, match="commit refused"):
            caller.demo.write("too late to answer", commit_at=deadline - 0.4)
        assert Notes.runs == ["too late to answer"]  # it ran: its commit was refused
        assert caller.demo.counts() == [0, 0]  # no row, no event
    with ClusterRpcProxy(rabbit_config, context_data={"deadline": time.time() + 2}) as caller:
        assert caller.demo.write("in time", commit_at=time.time() + 0.3) == "in time"
        assert caller.demo.counts() == [1, 1]


def test_without_a_deadline_nothing_is_refused(notes_service, rabbit_config):
    with ClusterRpcProxy(rabbit_config) as caller:
        assert caller.demo.write("no deadline", commit_at=time.time() + 0.1)
        assert caller.demo.counts() == [1, 1]


def test_the_gateway_sends_its_deadline_and_the_time_left_as_broker_expiry(
        container_factory, make_service_config, sqlite_url, rabbit_config):
    """One gateway worker: a second request waits a second for it, and then has two of
    its three seconds left; that is the expiry it is published with, not three."""
    config = make_service_config(sqlite_url, GATEWAY_RPC_TIMEOUT=3, max_workers=1)
    container_factory(GatewayService, config).start()
    client = Client(config["WEB_SERVER_ADDRESS"])
    exchange = Exchange("nameko-rpc", type="topic", durable=True)
    queue = Queue("rpc-registry", exchange, routing_key="registry.*", auto_delete=True)
    with Connection(rabbit_config["AMQP_URI"]) as connection:
        queue = queue(connection.default_channel)
        queue.declare()  # the registry's queue, read here instead of by a registry

        def next_request():
            with eventlet.Timeout(10):
                while (message := queue.get(no_ack=True)) is None:
                    eventlet.sleep(0.01)
            return message

        first = eventlet.spawn(client.get, f"/api/v1/organizations/{NANKENG}")
        holding = next_request()  # the only worker waits for this answer
        second_sent = time.time()
        second = eventlet.spawn(client.get, f"/api/v1/organizations/{NANKENG}")
        eventlet.sleep(1)  # the second request waits this long for the worker
        with connection.Producer() as producer:  # the first answered: the worker is free
            producer.publish(
                {"result": None, "error": {"exc_type": "NotFound", "exc_path":
                                           "shared.errors.NotFound", "exc_args": ["no"],
                                           "value": "no"}},
                exchange=exchange, routing_key=holding.properties["reply_to"],
                correlation_id=holding.properties["correlation_id"], serializer="json")
        assert first.wait().status_code == 404
        waited = next_request()
    assert float(holding.properties["expiration"]) / 1000 == pytest.approx(3, abs=0.5)
    left = float(waited.properties["expiration"]) / 1000
    assert 1.2 < left < 2.2, left  # the time left, not GATEWAY_RPC_TIMEOUT
    deadline = deadlines.deadline_of(waited.headers)
    assert deadline == pytest.approx(second_sent + 3, abs=0.5)
    assert json.loads(waited.body)["args"] == [NANKENG]
    assert second.wait().status_code == 503  # nobody answered it, and a read changes nothing


class Writer:
    """A gateway-like front: one route writing through ``BackendRpc``."""

    name = "writer"
    demo_rpc = BackendRpc("demo")

    @http("POST", "/notes/<float:commit_in>")
    def write(self, request, commit_in):
        return json_response(self.demo_rpc.write("note", commit_at=time.time() + commit_in))


def test_a_commit_in_time_has_its_answer_back_and_a_refused_one_is_a_503(
        container_factory, make_service_config, sqlite_url, notes_service):
    """Two seconds, 0.5 of them kept for the answer: what commits by 1.5 s is answered;
    a commit later is refused, and the caller, still listening, says not done (503)."""
    config = make_service_config(sqlite_url, GATEWAY_RPC_TIMEOUT=2)
    container_factory(Writer, config).start()
    client = Client(config["WEB_SERVER_ADDRESS"])
    assert client.post("/notes/1.2").status_code == 200
    refused = client.post("/notes/1.7")
    assert refused.status_code == 503, refused.text
    assert "refused" in refused.json()["detail"]
    assert Notes.runs == ["note", "note"]
