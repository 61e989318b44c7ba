"""Two replicas of the registry on one broker and one PostgreSQL database, one of them
killed (SIGKILL) under load: the outbox lease passes to the other, every event arrives,
in order per aggregate, and what arrives twice is told by its id.

    .venv/bin/python bench/two_replicas.py [--updates 600] [--kill-after 200]

In a vhost and a PostgreSQL database of its own (removed at the end): the district
federation registered, then ``--updates`` renames of it sent one after another over RPC
(the two replicas share the RPC queue, so each takes about half). A durable queue bound
to ``registry.events`` collects what is published. After ``--kill-after`` renames, the
replica whose relay is publishing (its ``gonghui_events_published_total`` grows) is
killed with SIGKILL: no graceful stop, so its lease must run out (``shared.outbox.LEASE``)
before the survivor publishes. Checked at the end: every rename's event arrived, in the
order the renames committed (per aggregate: the federation), duplicates (the same
envelope id again: at least once, a consumer dedupes) counted, and how long events
waited across the kill.

Covers the registry only (issue 13 item 4 asks for every backend service and deadlines
fired once: not yet). Prints figures, then one JSON line.
"""

import argparse
import json
import os
import signal
import subprocess
import sys
import time

from _support import ROOT, broker_vhost, database, emit, wait_ready
from kombu import Connection, Exchange, Queue

from shared.db import migrate
from shared.testing import free_port

SERVICE = "registry"
SINK = Queue("bench-two-replicas-sink", Exchange("registry.events", type="topic",
                                                  durable=True), routing_key="#", durable=True)
ADMIN = {"name": "bench", "role": "admin", "organization_code": "longgang"}
DISTRICT = {"code": "longgang", "name": "龙岗区总工会", "kind": "district_federation",
            "parent_code": None,
            "party_organization": {"name": "中共深圳市龙岗区委", "kind": "district_committee"}}


def start_replica(amqp_uri, database_url, log_path):
    port = free_port()
    env = dict(os.environ, AMQP_URI=amqp_uri, HTTP_HOST="127.0.0.1", LOG_FORMAT="text",
               DATABASE_MIGRATE="0", REGISTRY_HTTP_PORT=str(port),
               REGISTRY_DATABASE_URL=database_url, OUTBOX_POLL_SECONDS="0.1")
    with open(log_path, "w") as log:
        process = subprocess.Popen([sys.executable, "-m", "services.serve", SERVICE],
                                   env=env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
    return process, port


def published(port) -> float:
    """The replica's own count of events its relay had confirmed."""
    import requests

    text = requests.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
    return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
               if line.startswith("gonghui_events_published_total{"))


def drain(amqp_uri, expected, timeout):
    """(envelope, arrival time) of every message in the sink, until ``expected`` distinct
    ids have arrived or ``timeout`` seconds pass without one."""
    received, ids = [], set()
    with Connection(amqp_uri) as connection:
        queue = SINK(connection.channel())
        last = time.monotonic()
        while len(ids) < expected and time.monotonic() - last < timeout:
            message = queue.get(no_ack=True)
            if message is None:
                time.sleep(0.05)
                continue
            envelope = json.loads(message.body)
            received.append((envelope, time.monotonic()))
            ids.add(envelope["id"])
            last = time.monotonic()
    return received


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--updates", type=int, default=600)
    parser.add_argument("--kill-after", type=int, default=200)
    args = parser.parse_args()

    import eventlet

    eventlet.monkey_patch()
    from nameko.standalone.rpc import ClusterRpcProxy

    with broker_vhost("gonghui-bench-replicas") as amqp_uri, \
            database("postgresql") as database_url:
        migrate(database_url, ROOT / "services" / SERVICE / "migrations")
        with Connection(amqp_uri) as connection:
            SINK(connection.channel()).declare()
        logs = [ROOT / "bench" / "out" / f"replica-{n}.log" for n in (1, 2)]
        logs[0].parent.mkdir(exist_ok=True)
        replicas = [start_replica(amqp_uri, database_url, log) for log in logs]
        try:
            for _, port in replicas:
                wait_ready(port, timeout=120)
            print("two registry replicas ready", flush=True)
            killed_at = None
            sent_at = {}
            with ClusterRpcProxy({"AMQP_URI": amqp_uri}, timeout=30) as cluster:
                cluster.registry.register_organization(DISTRICT, ADMIN)
                for number in range(1, args.updates + 1):
                    if number == args.kill_after + 1:
                        counts = [published(port) for _, port in replicas]
                        victim = counts.index(max(counts))
                        replicas[victim][0].send_signal(signal.SIGKILL)
                        replicas[victim][0].wait()
                        killed_at = time.monotonic()
                        print(f"killed replica {victim + 1} (its relay had published "
                              f"{counts[victim]:.0f} events) after {args.kill_after} "
                              "renames", flush=True)
                    sent_at[number] = time.monotonic()
                    cluster.registry.update_organization(
                        "longgang", {"name": f"龙岗区总工会 {number}"}, ADMIN)
            received = drain(amqp_uri, args.updates + 1, timeout=60)
        finally:
            for process, _ in replicas:
                if process.poll() is None:
                    process.send_signal(signal.SIGTERM)
                    process.wait(timeout=30)

    seen, order, duplicates = set(), [], 0
    for envelope, arrived in received:
        if envelope["id"] in seen:
            duplicates += 1
            continue
        seen.add(envelope["id"])
        if envelope["type"] == "organization_updated":
            name = envelope["data"]["name"]
            order.append((int(name.rsplit(" ", 1)[1]), arrived))
    numbers = [number for number, _ in order]
    in_order = numbers == sorted(numbers)
    missing = sorted(set(range(1, args.updates + 1)) - set(numbers))
    waited = [arrived - sent_at[number] for number, arrived in order]
    after_kill = [arrived - killed_at for number, arrived in order
                  if number > args.kill_after and killed_at]
    figures = {
        "updates": args.updates, "events_received": len(received),
        "distinct_events": len(seen), "duplicates": duplicates, "missing": len(missing),
        "in_order": in_order, "max_wait_s": round(max(waited), 2) if waited else None,
        "first_event_after_kill_s": round(min(after_kill), 2) if after_kill else None,
    }
    print(f"{len(seen)} distinct events of {args.updates + 1} expected, {duplicates} "
          f"duplicate(s), {len(missing)} missing, in order: {in_order}; the longest wait "
          f"{figures['max_wait_s']} s; first event after the kill "
          f"{figures['first_event_after_kill_s']} s later", flush=True)
    emit("two_replicas", figures)
    if missing or not in_order:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
