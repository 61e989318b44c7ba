"""Outbox relay throughput, against the references measured in ENGINEERING.md.

    .venv/bin/python bench/outbox_relay.py [--events 50000] [--batch-sizes 100,500]
        [--backends sqlite,postgresql] [--reference-messages 20000] [--units-of-work 5000]

In a vhost of its own (deleted at the end), with a durable queue bound to
``registry.events`` as any consumer has (so every message is really routed and stored):

1. relay: ``--events`` registry events already committed in the outbox (SQLite file and
   a throwaway PostgreSQL database), published by ``shared.outbox.OutboxRelay`` one
   pass after another until none is left, per batch size; events/s, with where the
   time goes (reading the batch, publishing, waiting for confirms, marking, lease, the
   pending-count gauge). The outbox is reset between batch sizes.
2. reference: a plain kombu producer, persistent messages of the same size, waiting for
   a confirm after each message; and the same without confirms (timed until the queue
   holds them all).
3. writes: units of work per second, each a row plus an event, commit included.
4. one relay case again under cProfile: its top entries.

Prints figures, then one JSON line.
"""

import argparse
import cProfile
import io
import json
import pstats
import time
import uuid
from collections import defaultdict
from contextlib import nullcontext

import amqp  # noqa: E402
from _support import ROOT, backends, broker_vhost, database, emit, ms, percentile  # noqa: F401
from kombu import Connection, Exchange, Queue  # noqa: E402
from sqlalchemy import (  # noqa: E402
    Column,
    Integer,
    MetaData,
    String,
    Table,
    delete,
    event,
    func,
    insert,
    select,
    text,
    update,
)

from services.registry.sample import NANKENG, credit_code  # noqa: E402
from shared.db import (  # noqa: E402
    kit_metadata,
    make_engine,
    open_database,
    outbox_table,
    relay_lease_table,
)
from shared.events import catalogue, make_envelope  # noqa: E402
from shared.outbox import OutboxRelay  # noqa: E402

SOURCE = "registry"
EVENT_TYPE = "enterprise_registered"
EXCHANGE = Exchange(f"{SOURCE}.events", type="topic", durable=True)
SINK = Queue("bench-outbox-sink", EXCHANGE, routing_key="#", durable=True)

bench_metadata = MetaData()
# The "row" of a unit of work: something the size of a small domain record.
bench_rows = Table(
    "bench_rows", bench_metadata,
    Column("id", Integer, primary_key=True),
    Column("credit_code", String(18), nullable=False),
    Column("headcount", Integer, nullable=False),
)


def enterprise(number):
    """An enterprise_registered payload as the registry publishes it."""
    return {
        "credit_code": credit_code(number), "name": "深圳市华兴电子科技有限公司",
        "address": f"深圳市龙岗区坂田街道南坑社区环城路{number % 999 + 1}号",
        "community_code": NANKENG, "path": ["longgang", "longgang.bantian", NANKENG],
        "headcount": 12 + number % 300, "union_status": "covered", "union_code": NANKENG,
        "key_enterprise": False, "assigned_leader": None, "status": "active",
    }


def fill_outbox(engine, count, chunk=5000):
    """``count`` committed, unpublished events, as units of work leave them. One envelope
    is made and checked by its schema; the others are copies with their own id and
    enterprise (schema checks at 50,000 would time marshmallow, not the relay)."""
    template = make_envelope(catalogue.get(SOURCE, EVENT_TYPE), enterprise(0))
    for start in range(0, count, chunk):
        rows = []
        for number in range(start, min(count, start + chunk)):
            envelope = {**template, "id": uuid.uuid4().hex, "subject": credit_code(number),
                        "data": enterprise(number)}
            rows.append({"event_id": envelope["id"], "exchange": f"{SOURCE}.events",
                         "routing_key": EVENT_TYPE,
                         "body": json.dumps(envelope, ensure_ascii=False, separators=(",", ":"))})
        with engine.begin() as connection:
            connection.execute(insert(outbox_table), rows)


def reset_outbox(engine):
    with engine.begin() as connection:
        connection.execute(update(outbox_table).values(published_at=None))
        connection.execute(delete(relay_lease_table))  # the last case's relay is gone
    if engine.dialect.name == "postgresql":  # 50k updated rows: clean up, as autovacuum would
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.execute(text("VACUUM ANALYZE outbox"))


def sink_depth(amqp_uri):
    with Connection(amqp_uri) as connection:
        return SINK(connection.default_channel).queue_declare(passive=True).message_count


def purge_sink(amqp_uri):
    with Connection(amqp_uri) as connection:
        SINK(connection.default_channel).purge()


def declare_sink(amqp_uri):
    with Connection(amqp_uri) as connection:
        SINK(connection.default_channel).declare()


# --- where the relay's time goes ---------------------------------------------------------

class Breakdown:
    """Times the relay's steps: wraps its methods, py-amqp's publish and confirm wait, and
    the outbox statements (cursor time, commit excluded). Each step counts its own time
    only: py-amqp polls for broker events inside ``basic_publish``, that is confirm wait."""

    STATEMENTS = (("SELECT outbox.seq", "read batch"),
                  ("UPDATE outbox SET published_at", "mark published"))

    def __init__(self, relay, engine):
        self.seconds = defaultdict(float)
        self.relay, self.engine = relay, engine
        self._undo = []
        self._stack = []  # [label, time spent in timed steps nested inside]

    def _enter(self):
        self._stack.append(0.0)
        return time.perf_counter()

    def _leave(self, label, started):
        elapsed = time.perf_counter() - started
        nested = self._stack.pop()
        self.seconds[label] += elapsed - nested
        if self._stack:
            self._stack[-1] += elapsed

    def _wrap(self, owner, name, label):
        original = getattr(owner, name)

        def timed(*args, **kwargs):
            started = self._enter()
            try:
                return original(*args, **kwargs)
            finally:
                self._leave(label, started)

        setattr(owner, name, timed)
        self._undo.append((owner, name, original))

    def __enter__(self):
        relay = self.relay
        self._wrap(relay, "_take_lease", "lease")
        self._wrap(relay, "_measure", "pending gauge (count)")
        self._wrap(relay, "_purge", "purge")
        self._wrap(amqp.Channel, "basic_publish", "publish (basic_publish)")
        self._wrap(amqp.Connection, "drain_events", "confirm wait")
        event.listen(self.engine, "before_cursor_execute", self._before)
        event.listen(self.engine, "after_cursor_execute", self._after)
        return self

    def _label(self, statement):
        return next((label for prefix, label in self.STATEMENTS
                     if statement.startswith(prefix)), None)

    # Other statements (the lease's, the gauge's) count towards the step that runs them.
    def _before(self, conn, cursor, statement, parameters, context, executemany):
        if self._label(statement):
            conn.info["bench_started"] = self._enter()

    def _after(self, conn, cursor, statement, parameters, context, executemany):
        label = self._label(statement)
        if label:
            self._leave(label, conn.info.pop("bench_started"))

    def __exit__(self, *exc):
        for owner, name, original in reversed(self._undo):
            if owner in (amqp.Channel, amqp.Connection):
                setattr(owner, name, original)
            else:
                delattr(owner, name)  # back to the class's method
        event.remove(self.engine, "before_cursor_execute", self._before)
        event.remove(self.engine, "after_cursor_execute", self._after)

    def shares(self, total):
        measured = dict(self.seconds)
        measured["other (commits, Python, SQLAlchemy)"] = max(0.0, total - sum(measured.values()))
        return {label: round(100 * seconds / total, 1)
                for label, seconds in sorted(measured.items(), key=lambda kv: -kv[1])}


def drain_outbox(relay):
    while relay.publish_pending():
        pass


def relay_case(engine, amqp_uri, events, batch_size, profile=False):
    reset_outbox(engine)
    purge_sink(amqp_uri)
    relay = OutboxRelay(engine, amqp_uri, SOURCE, batch_size=batch_size)
    relay.publisher._open()  # connecting is not publishing
    profiler = cProfile.Profile() if profile else None
    breakdown = Breakdown(relay, engine)
    with nullcontext() if profile else breakdown:  # the profile shows the relay alone
        started = time.perf_counter()
        if profiler:
            profiler.enable()
        drain_outbox(relay)
        if profiler:
            profiler.disable()
        elapsed = time.perf_counter() - started
    relay.publisher.close()
    with engine.connect() as connection:
        left = connection.execute(select(func.count()).where(
            outbox_table.c.published_at.is_(None))).scalar()
    depth = sink_depth(amqp_uri)
    if left or depth != events:
        raise SystemExit(f"relay left {left} unpublished and the queue holds {depth}/{events}")
    return {"events_per_s": round(events / elapsed), "seconds": round(elapsed, 2),
            "time_shares_percent": breakdown.shares(elapsed)}, profiler


# --- references: a plain kombu publisher -------------------------------------------------

def reference_body(engine):
    with engine.connect() as connection:
        return connection.execute(select(outbox_table.c.body).limit(1)).scalar().encode()


def kombu_reference(amqp_uri, body, messages, confirm):
    purge_sink(amqp_uri)
    options = {"confirm_publish": True} if confirm else {}
    latencies = []
    with Connection(amqp_uri, transport_options=options) as connection:
        producer = connection.Producer()
        started = time.perf_counter()
        for _ in range(messages):
            sent = time.perf_counter()
            producer.publish(body, exchange=EXCHANGE, routing_key=EVENT_TYPE, delivery_mode=2,
                             content_type="application/json", content_encoding="utf-8",
                             retry=False)
            latencies.append(time.perf_counter() - sent)
        published = time.perf_counter() - started
    while sink_depth(amqp_uri) < messages:  # stored in the queue: end to end
        time.sleep(0.01)
    stored = time.perf_counter() - started
    result = {"messages": messages, "publish_msgs_per_s": round(messages / published),
              "stored_msgs_per_s": round(messages / stored)}
    if confirm:
        result.update(p50_ms=ms(percentile(latencies, 0.5)),
                      p99_ms=ms(percentile(latencies, 0.99)))
    return result


# --- writes: a row plus an event per unit of work -----------------------------------------

def write_rate(url, count):
    db = open_database(url, SOURCE)
    kit_metadata.create_all(db.engine)
    bench_metadata.create_all(db.engine)
    started = time.perf_counter()
    for number in range(count):
        with db.unit_of_work() as uow:
            uow.session.execute(insert(bench_rows).values(credit_code=credit_code(number),
                                                          headcount=12 + number % 300))
            uow.publish(EVENT_TYPE, enterprise(number), subject=credit_code(number))
    elapsed = time.perf_counter() - started
    db.engine.dispose()
    return {"units_of_work": count, "per_s": round(count / elapsed)}


def profile_top(profiler, entries=14):
    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out)
    stats.sort_stats("tottime").print_stats(entries)
    lines = [line for line in out.getvalue().splitlines() if line.strip()]
    start = next(i for i, line in enumerate(lines) if line.lstrip().startswith("ncalls"))
    return lines[start:start + entries + 1]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=50_000)
    parser.add_argument("--batch-sizes", default="100,500")
    parser.add_argument("--backends", default="sqlite,postgresql", type=backends)
    parser.add_argument("--reference-messages", type=int, default=20_000)
    parser.add_argument("--units-of-work", type=int, default=5_000)
    parser.add_argument("--profile", default="postgresql:500",
                        help="backend:batch size of the case run again under cProfile")
    args = parser.parse_args()
    batch_sizes = [int(size) for size in args.batch_sizes.split(",")]
    profile_backend, profile_batch = args.profile.split(":")

    figures = {"events": args.events, "relay": {}, "writes": {}}
    with broker_vhost() as amqp_uri:
        declare_sink(amqp_uri)
        for backend in args.backends:
            with database(backend) as url:
                engine = make_engine(url)
                kit_metadata.create_all(engine)
                started = time.perf_counter()
                fill_outbox(engine, args.events)
                print(f"{backend}: {args.events:,} events committed to the outbox in "
                      f"{time.perf_counter() - started:.1f}s", flush=True)
                for batch_size in batch_sizes:
                    result, _ = relay_case(engine, amqp_uri, args.events, batch_size)
                    figures["relay"][f"{backend}_batch_{batch_size}"] = result
                    shares = ", ".join(f"{label} {share}%" for label, share
                                       in result["time_shares_percent"].items())
                    print(f"relay {backend} batch {batch_size}: {result['events_per_s']:,} "
                          f"events/s ({result['seconds']}s); time: {shares}", flush=True)
                if backend == profile_backend:
                    _, profiler = relay_case(engine, amqp_uri, args.events, int(profile_batch),
                                             profile=True)
                    print(f"cProfile, relay {backend} batch {profile_batch}, "
                          "top entries by own time:")
                    for line in profile_top(profiler):
                        print("   ", line)
                if backend == args.backends[0]:
                    body = reference_body(engine)
                engine.dispose()
            with database(backend) as url:
                result = write_rate(url, args.units_of_work)
                figures["writes"][backend] = result
                print(f"writes {backend}: {result['per_s']:,} units of work/s "
                      f"(a row + an event, commit included; {args.units_of_work:,})", flush=True)

        figures["reference"] = {
            "kombu_confirm_each": kombu_reference(amqp_uri, body, args.reference_messages,
                                                  confirm=True),
            "kombu_no_confirm": kombu_reference(amqp_uri, body, args.reference_messages,
                                                confirm=False),
        }
        confirm = figures["reference"]["kombu_confirm_each"]
        loose = figures["reference"]["kombu_no_confirm"]
        print(f"reference kombu, confirm per message: {confirm['publish_msgs_per_s']:,} msg/s "
              f"(p50 {confirm['p50_ms']} ms, p99 {confirm['p99_ms']} ms)")
        print(f"reference kombu, no confirm wait: {loose['publish_msgs_per_s']:,} msg/s "
              f"published, {loose['stored_msgs_per_s']:,} msg/s stored in the queue")
        purge_sink(amqp_uri)
    figures["event_bytes"] = len(body)
    emit("outbox_relay", figures)


if __name__ == "__main__":
    main()
