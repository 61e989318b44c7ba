"""A real broker outage: RabbitMQ stopped for 10 s while the registry keeps writing.

    .venv/bin/python bench/broker_outage.py [--outage 10] [--rate 50] [--backend sqlite]

STOPS THE LOCAL BROKER (``rabbitmqctl stop_app`` ... ``start_app``) for everyone on this
machine: run it when no test suite is running (it waits up to ``--wait-quiet`` seconds
for other connections to the broker to go, then stops it anyway). The test suite proves
the same property with a TCP proxy instead (tests/e2e/test_broker_outage.py).

A RegistryService runs in this process (nameko container, vhost of its own) on a fresh
database holding the sample district's organizations. A writer registers enterprises
straight on the registry database (``operations.register_enterprise`` in a unit of work,
as the importer writes) ``--rate`` times a second, before, during and after the outage;
the service's outbox relay publishes them. A consumer with its own durable queue on
``registry.events`` reconnects by itself and records every delivery.

Reports events written, received, lost (must be 0), duplicates, how long requests for
a broker stopped (stop_app) and how long after start_app the first event arrived and
the consumer had everything written. Prints figures, then one JSON line.
"""

import eventlet

eventlet.monkey_patch()

import argparse  # noqa: E402
import time  # noqa: E402

from _support import broker_vhost, database, emit  # noqa: E402
from eventlet.green import subprocess  # noqa: E402
from kombu import Connection, Consumer, Exchange, Queue  # noqa: E402
from nameko.containers import ServiceContainer  # noqa: E402
from sqlalchemy import func, select  # noqa: E402

from services.registry import operations, sample  # noqa: E402
from services.registry.service import MIGRATIONS, RegistryService  # noqa: E402
from shared.db import open_database, outbox_table  # noqa: E402
from shared.testing import free_port  # noqa: E402

SOURCE = "registry"


class Recorder:
    """A consumer that outlives broker restarts: reconnects, re-declares, records."""

    def __init__(self, amqp_uri):
        self.amqp_uri = amqp_uri
        self.queue = Queue("bench-outage-recorder",
                           Exchange(f"{SOURCE}.events", type="topic", durable=True),
                           routing_key="#", durable=True)
        self.arrivals = []  # (monotonic time, event id)
        self.reconnects = 0
        self._stopped = False
        self._thread = None

    def start(self):
        self._thread = eventlet.spawn(self._run)
        return self

    def _run(self):
        while not self._stopped:
            try:
                with Connection(self.amqp_uri, connect_timeout=2) as connection:
                    with Consumer(connection.channel(), [self.queue], accept=["json"],
                                  callbacks=[self._on_message]):
                        while not self._stopped:
                            try:
                                connection.drain_events(timeout=0.5)
                            except TimeoutError:
                                connection.heartbeat_check()
            except Exception:  # noqa: BLE001 - any broker trouble: reconnect
                self.reconnects += 1
                eventlet.sleep(0.5)

    def _on_message(self, body, message):
        self.arrivals.append((time.monotonic(), body["id"]))
        message.ack()

    def ids(self):
        return {event_id for _, event_id in self.arrivals}

    def stop(self):
        self._stopped = True
        self._thread.wait()


class Writer:
    def __init__(self, db, rate, communities):
        self.db, self.interval, self.communities = db, 1.0 / rate, communities
        self.written = []  # (monotonic time, credit code)
        self.failures = 0
        self._stopped = False

    def start(self):
        self._thread = eventlet.spawn(self._run)
        return self

    def _run(self):
        number = 1_000_000  # clear of the sample's credit codes
        next_at = time.monotonic()
        while not self._stopped:
            code = sample.credit_code(number)
            data = {"credit_code": code, "name": f"深圳市龙岗区压测企业{number}有限公司",
                    "community_code": self.communities[number % len(self.communities)],
                    "headcount": 10 + number % 90, "union_status": "covered"}
            try:
                with self.db.unit_of_work() as uow:
                    operations.register_enterprise(uow, data, sample.LOADER)
                self.written.append((time.monotonic(), code))
            except Exception:  # noqa: BLE001 - counted; a write must not need the broker
                self.failures += 1
            number += 1
            next_at += self.interval
            eventlet.sleep(max(0.0, next_at - time.monotonic()))

    def stop(self):
        self._stopped = True
        self._thread.wait()


def other_connections(amqp_uri):
    """Connections to the broker from outside this benchmark's vhost (others' tests)."""
    from urllib.parse import unquote, urlsplit

    from _support import MANAGEMENT_URI
    from nameko.testing.rabbit import Client

    ours = unquote(urlsplit(amqp_uri).path.lstrip("/"))
    return [c for c in Client(MANAGEMENT_URI).get_connections() if c.get("vhost") != ours]


def wait_for_quiet(amqp_uri, seconds):
    """Waits up to ``seconds`` for nobody else to be on the broker; returns how many
    connections were still open from elsewhere when it stops waiting."""
    deadline = time.monotonic() + seconds
    while True:
        others = len(other_connections(amqp_uri))
        if not others or time.monotonic() >= deadline:
            return others
        print(f"waiting: {others} connections from elsewhere on the broker", flush=True)
        eventlet.sleep(5)


def rabbitmqctl(command):
    started = time.monotonic()
    subprocess.run(["rabbitmqctl", command], check=True, capture_output=True, timeout=120)
    return time.monotonic() - started


def outbox_ids(db, since_seq):
    with db.session() as session:
        return [row.event_id for row in session.execute(
            select(outbox_table.c.event_id).where(outbox_table.c.seq > since_seq))]


def pending(db):
    with db.session() as session:
        return session.execute(select(func.count()).where(
            outbox_table.c.published_at.is_(None))).scalar()


def wait_until(condition, timeout, step=0.05):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        eventlet.sleep(step)
    return condition()


def run(args, url, amqp_uri):
    db = open_database(url, SOURCE, MIGRATIONS)
    sample.register_organizations(db, sample.district_organizations())
    with db.session() as session:
        first_seq = session.execute(select(func.max(outbox_table.c.seq))).scalar()
    config = {"AMQP_URI": amqp_uri, "DATABASE_URL": url, "DATABASE_MIGRATE": False,
              "WEB_SERVER_ADDRESS": f"127.0.0.1:{free_port()}", "max_workers": 10,
              "OUTBOX_POLL_SECONDS": 0.1}
    container = ServiceContainer(RegistryService, config)
    recorder = Recorder(amqp_uri).start()
    eventlet.sleep(0.5)  # the recorder's queue exists before the first event
    container.start()
    communities = [data["code"] for data in sample.district_organizations()
                   if data["kind"] in ("community_federation", "park_federation")]
    writer = Writer(db, args.rate, communities).start()
    try:
        eventlet.sleep(args.before)
        others = wait_for_quiet(amqp_uri, args.wait_quiet)
        print(f"stopping the broker for {args.outage:g}s ({others} connections from "
              "elsewhere) ...", flush=True)
        stop_began = time.monotonic()
        stopping = rabbitmqctl("stop_app")
        try:
            eventlet.sleep(args.outage)
        finally:
            starting = rabbitmqctl("start_app")
        back_at = time.monotonic()
        # the backlog: written, not yet received when the broker came back
        backlog = set(outbox_ids(db, first_seq)) - recorder.ids()
        print(f"broker back (stop_app took {stopping:.1f}s, start_app {starting:.1f}s)",
              flush=True)
        eventlet.sleep(args.after)
    finally:
        writer.stop()
    written = outbox_ids(db, first_seq)
    caught_up = wait_until(lambda: recorder.ids() >= set(written), timeout=120)
    all_in_at = time.monotonic()
    recorder.stop()
    container.stop()
    left = pending(db)
    db.engine.dispose()

    received = recorder.ids()
    during = sum(1 for t, _ in writer.written if stop_began <= t <= back_at)
    after = [t for t, _ in recorder.arrivals if t > back_at]
    backlog_in = [t for t, event_id in recorder.arrivals if event_id in backlog]
    backlog_cleared = max(backlog_in) if caught_up and backlog_in else all_in_at
    return {
        "outage_s": args.outage, "backend": args.backend, "write_rate_per_s": args.rate,
        "events_written": len(written), "backlog_events": len(backlog),
        "written_while_broker_down": during,
        "write_failures": writer.failures,
        "events_received": len(received & set(written)),
        "lost": len(set(written) - received),
        "duplicates": len(recorder.arrivals) - len(received),
        "unpublished_left": left,
        "stop_app_s": round(stopping, 1), "start_app_s": round(starting, 1),
        "first_event_after_restart_s": round(min(after) - back_at, 2) if after else None,
        "backlog_cleared_after_restart_s": round(backlog_cleared - back_at, 2),
        "broker_unavailable_s": round(back_at - stop_began, 1),
        "consumer_reconnects": recorder.reconnects,
        "other_connections_at_stop": others,
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--outage", type=float, default=10.0, help="seconds stopped")
    parser.add_argument("--rate", type=float, default=50.0, help="writes per second")
    parser.add_argument("--before", type=float, default=5.0)
    parser.add_argument("--after", type=float, default=5.0)
    parser.add_argument("--backend", default="sqlite", choices=("sqlite", "postgresql"))
    parser.add_argument("--wait-quiet", type=float, default=120,
                        help="seconds to wait for other broker users to leave before the stop")
    args = parser.parse_args()
    with broker_vhost("gonghui-bench-outage") as amqp_uri, database(args.backend) as url:
        result = run(args, url, amqp_uri)
    print(f"{result['events_written']:,} events written ({result['written_while_broker_down']}"
          f" while the broker was down, {result['write_failures']} writes failed); "
          f"{result['events_received']:,} received, {result['lost']} lost, "
          f"{result['duplicates']} duplicates")
    print(f"broker unavailable {result['broker_unavailable_s']}s (stop_app took "
          f"{result['stop_app_s']}s, start_app {result['start_app_s']}s); after start_app the "
          f"first event came in {result['first_event_after_restart_s']}s and the backlog "
          f"({result['backlog_events']:,} events) was all in after "
          f"{result['backlog_cleared_after_restart_s']}s")
    emit("broker_outage", result)
    if result["lost"]:
        raise SystemExit(f"{result['lost']} events lost")


if __name__ == "__main__":
    main()
