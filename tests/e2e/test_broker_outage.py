"""Issue: "killing RabbitMQ for 10 s while registry writes continue loses no event".

The service under test reaches the broker through a TCP proxy that the test cuts for
10 s (open connections reset, new ones refused), so the shared broker stays up for
everyone else. Writes continue through the whole window straight on the service's
database, as the importer writes; RPC writes come before and after. A witness consumer
on the direct broker records every delivery and dedupes it the way services do.
"""

import json
import time

import eventlet
import pytest
from kombu import Connection, Consumer, Exchange, Queue
from nameko.standalone.rpc import ClusterRpcProxy
from prometheus_client import REGISTRY
from sqlalchemy import select

from services.registry import operations
from services.registry.sample import (
    LOADER,
    NANKENG,
    credit_code,
    district_organizations,
    register_organizations,
)
from services.registry.service import MIGRATIONS, RegistryService
from shared.db import outbox_table
from shared.events import Event
from shared.testing import BACKENDS, wait_for

SOURCE = "registry"
OUTAGE_SECONDS = 10
BATCH_SIZE = 50
ENTERPRISES = [credit_code(n) for n in range(7)]  # the subjects whose order is checked


@pytest.fixture
def database_url(request, tmp_path):
    """PostgreSQL when the suite has it (what production runs), else SQLite."""
    if "postgresql" not in BACKENDS:
        yield f"sqlite:///{tmp_path}/service.db"
        return
    databases = request.getfixturevalue("postgres_databases")
    url = databases.create()
    yield url
    databases.drop(url)


class Witness:
    """A consumer on the direct broker: records every delivery, dedupes like a service."""

    def __init__(self, amqp_uri, exchange, database):
        self.connection = Connection(amqp_uri)
        self.queue = Queue("outage-witness", Exchange(exchange, type="topic", durable=True),
                           routing_key="#", durable=True)
        self.database = database
        self.deliveries = []  # (event id, subject, body) in arrival order
        self.arrivals = []  # monotonic time of each delivery
        self.effects = 0  # deliveries that were not duplicates
        self._stopped = False
        self._thread = None

    def start(self):
        self.consumer = Consumer(self.connection.channel(), [self.queue],
                                 callbacks=[self._on_message], accept=["json"])
        self.consumer.consume()
        self._thread = eventlet.spawn(self._run)
        return self

    def _run(self):
        while not self._stopped:
            try:
                self.connection.drain_events(timeout=0.2)
            except TimeoutError:
                pass

    def _on_message(self, body, message):
        event = Event(id=body["id"], source=body["source"], type=body["type"],
                      time=body["time"], subject=body["subject"], data=body["data"])
        self.deliveries.append((event.id, event.subject, message.body))
        self.arrivals.append(time.monotonic())
        with self.database.unit_of_work() as uow:
            if not uow.is_duplicate(event, consumer="witness"):
                self.effects += 1
        message.ack()

    def received_ids(self):
        return {event_id for event_id, _, _ in self.deliveries}

    def stop(self):
        self._stopped = True
        self._thread.wait()
        self.connection.release()


def register_tree(database):
    """The district, 坂田 street and 南坑 community: enough to register enterprises."""
    register_organizations(database, [
        data for data in district_organizations()
        if NANKENG == data["code"] or NANKENG.startswith(data["code"] + ".")])


def enterprise(code):
    return {"credit_code": code, "name": f"深圳市{code[-4:]}电子有限公司",
            "community_code": NANKENG, "headcount": 30, "union_status": "covered"}


class Writer:
    """Registry writes straight on its database, as the importer writes: headcount
    updates of the enterprises in turn, every ``interval`` s."""

    def __init__(self, database, interval=0.02):
        self.database = database
        self.interval = interval
        self.written = []  # monotonic time of each write
        self._stopped = False
        self._thread = None

    def start(self):
        self._thread = eventlet.spawn(self._run)
        return self

    def _run(self):
        n = 0
        while not self._stopped:
            with self.database.unit_of_work() as uow:
                operations.update_enterprise(uow, ENTERPRISES[n % len(ENTERPRISES)],
                                             {"headcount": 31 + n}, LOADER)
            self.written.append(time.monotonic())
            n += 1
            eventlet.sleep(self.interval)

    def stop(self):
        self._stopped = True
        self._thread.wait()


def outbox_rows(database):
    with database.session() as session:
        return session.execute(
            select(outbox_table.c.seq, outbox_table.c.event_id, outbox_table.c.body,
                   outbox_table.c.published_at).order_by(outbox_table.c.seq)
        ).all()


def relay_failures():
    return REGISTRY.get_sample_value("gonghui_outbox_publish_failures_total",
                                     {"service": SOURCE}) or 0


@pytest.mark.timeout(90)
def test_cutting_the_broker_for_ten_seconds_while_writes_continue_loses_no_event(
    database_url, database_factory, tcp_proxy, container_factory, make_service_config,
    rabbit_config, tmp_path
):
    direct_uri = rabbit_config["AMQP_URI"]
    proxy = tcp_proxy(5672)
    database = database_factory(database_url, SOURCE, MIGRATIONS)
    register_tree(database)
    witness_db = database_factory(f"sqlite:///{tmp_path}/witness.db", "witness", MIGRATIONS)
    witness = Witness(direct_uri, f"{SOURCE}.events", witness_db).start()
    config = make_service_config(database_url, AMQP_URI=proxy.rewrite(direct_uri),
                                 OUTBOX_BATCH_SIZE=BATCH_SIZE)
    container = container_factory(RegistryService, config)
    container.start()
    failures_before = relay_failures()

    with ClusterRpcProxy(rabbit_config, timeout=30) as cluster:
        for code in ENTERPRISES:
            cluster.registry.register_enterprise(enterprise(code), LOADER.as_dict())
        writer = Writer(database).start()
        eventlet.sleep(1)

        # cut while the relay is publishing: broker has the batch, relay gets no confirm
        assert proxy.cut_in_flight(), "the relay published nothing to cut"
        cut_at = time.monotonic()
        eventlet.sleep(OUTAGE_SECONDS)
        proxy.restore()
        restored_at = time.monotonic()

        eventlet.sleep(1)
        writer.stop()
        # waits for the service's RPC consumer to reconnect by itself
        for n, code in enumerate(ENTERPRISES):
            cluster.registry.update_enterprise(code, {"name": f"深圳市龙岗{n}号电子有限公司"},
                                               LOADER.as_dict())

    rows = outbox_rows(database)
    written = [row.event_id for row in rows]
    caught_up = wait_for(lambda: witness.received_ids() >= set(written), timeout=30,
                         interval=0.1)
    witness.stop()
    rows = outbox_rows(database)

    # no loss, nothing invented, and the relay got there by itself (nothing restarted it;
    # the RPC writes after the outage prove the service's own consumers came back too)
    assert caught_up, f"missing {len(set(written) - witness.received_ids())} events"
    assert witness.received_ids() == set(written)
    assert all(row.published_at is not None for row in rows)
    first_after = min(t for t in witness.arrivals if t > restored_at)
    assert first_after - restored_at < 10, "relay back within its longest backoff and more"

    # ... and it was a real outage, with writes all through it
    seconds_with_writes = {int(t - cut_at) for t in writer.written if cut_at <= t < restored_at}
    assert seconds_with_writes >= set(range(OUTAGE_SECONDS))
    types = [json.loads(row.body)["type"] for row in rows]
    assert types.count("enterprise_registered") == len(ENTERPRISES)
    assert types.count("enterprise_updated") == len(writer.written) + len(ENTERPRISES)
    assert proxy.dropped > 0 and relay_failures() > failures_before

    # duplicates only as re-deliveries of the same event, which a consumer dedupes
    duplicates = len(witness.deliveries) - len(written)
    assert duplicates <= BATCH_SIZE
    bodies = {}
    for event_id, _, body in witness.deliveries:
        assert bodies.setdefault(event_id, body) == body
    assert witness.effects == len(written)

    # in order per subject: first deliveries follow the outbox order
    expected, seen, first = {}, {}, set()
    for row in rows:
        expected.setdefault(json.loads(row.body)["subject"], []).append(row.event_id)
    for event_id, subject, _ in witness.deliveries:
        if event_id not in first:
            first.add(event_id)
            seen.setdefault(subject, []).append(event_id)
    assert seen == expected
