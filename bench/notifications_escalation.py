"""Escalation lateness with 100,000 open deadlines (target: p99 <= 1 s late).

    .venv/bin/python bench/notifications_escalation.py [--open 100000] [--due 3000]
        [--window 60] [--replicas 1]
        [--database-url postgresql+psycopg2://postgres@127.0.0.1:5432/test | --sqlite]

Makes a throwaway database (dropped at the end) and a throwaway RabbitMQ vhost, fills the
notifications database with ``--open`` open cases, each notified to its community union
with an escalation deadline, most of them far in the future. Then starts ``--replicas``
NotificationsService processes (``python -m services.serve notifications``, the
container command) and writes ``--due`` further cases whose deadlines fall due evenly
over ``--window`` seconds, so the service works against the full table of open deadlines.

Lateness is measured two ways for every due deadline:
- fired: the service's ``fired_at`` minus ``due_at`` (what the service's metric shows);
- visible: when this script first saw the escalation committed (polling every 50 ms)
  minus ``due_at``: what a reader of the database experiences, commit included.
It also checks each deadline fired exactly once (one escalation per case). Prints
figures, then one JSON line.
"""

import argparse
import json
import os
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import requests
from sqlalchemy import create_engine, func, insert, select, text
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench._support import wait_ready  # noqa: E402
from services.notifications import readmodel  # noqa: E402
from services.notifications.models import (  # noqa: E402
    audit_entries,
    cases,
    deadlines,
    notifications,
)
from services.notifications.service import MIGRATIONS  # noqa: E402
from shared.db import open_database  # noqa: E402

MANAGEMENT = "http://127.0.0.1:15672/api"
DISTRICT, STREET, COMMUNITY = "longgang", "longgang.bantian", "longgang.bantian.nankeng"
PATH = [DISTRICT, STREET, COMMUNITY]
ORGANIZATIONS = [
    (DISTRICT, "龙岗区总工会", "district_federation", "district", None, "中共龙岗区委"),
    (STREET, "坂田街道总工会", "street_federation", "street", DISTRICT, "坂田街道党工委"),
    (COMMUNITY, "南坑社区工联会", "community_federation", "community", STREET, "南坑社区综合党委"),
]


def percentile(values, fraction):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(fraction * (len(ordered) - 1))))]


def create_database(admin_url, use_sqlite):
    if use_sqlite:
        return f"sqlite:///{tempfile.mkdtemp()}/notifications.db", lambda: None
    name = f"gonghui_bench_{uuid.uuid4().hex[:10]}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(admin_url).set(database=name).render_as_string(hide_password=False)

    def drop():
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()

    return url, drop


def create_vhost():
    vhost = f"gonghui-bench-{uuid.uuid4().hex[:8]}"
    auth = ("guest", "guest")
    requests.put(f"{MANAGEMENT}/vhosts/{vhost}", auth=auth, timeout=10).raise_for_status()
    requests.put(f"{MANAGEMENT}/permissions/{vhost}/guest", auth=auth, timeout=10,
                 json={"configure": ".*", "write": ".*", "read": ".*"}).raise_for_status()
    return (f"amqp://guest:guest@127.0.0.1:5672/{vhost}",
            lambda: requests.delete(f"{MANAGEMENT}/vhosts/{vhost}", auth=auth, timeout=10))


def seed_chain(db):
    with db.unit_of_work() as uow:
        for code, name, kind, tier, parent, party in ORGANIZATIONS:
            readmodel.apply_organization(uow.session, {
                "code": code, "name": name, "kind": kind, "tier": tier, "parent_code": parent,
                "path": PATH[:PATH.index(code) + 1],
                "party_organization": {"name": party, "kind": "district_committee"}},
                datetime.now(UTC))


def seed_cases(db, prefix, due_times, now):
    """Open cases told to the community union, each with an escalation deadline."""
    enterprise = {"credit_code": None, "name": "南坑某五金厂", "address": None,
                  "community_code": COMMUNITY, "path": PATH, "key_enterprise": False}
    chunk = 5000
    for start in range(0, len(due_times), chunk):
        part = list(enumerate(due_times[start:start + chunk], start))
        with db.unit_of_work() as uow:
            session = uow.session
            session.execute(insert(cases), [{
                "case_id": f"{prefix}-{i}", "grade": "routine", "grade_rule": "bench",
                "category": "unpaid_wages", "workers_affected": 50, "amount_owed": "100000.00",
                "expected_at": None, "enterprise": enterprise, "status": "reported",
                "policy_version": "2015-01", "top_tier": "community", "received_at": now,
                "notified_at": now} for i, _ in part])
            session.execute(insert(notifications), [{
                "id": uuid.uuid4().hex, "case_id": f"{prefix}-{i}",
                "organization_code": COMMUNITY, "recipient_kind": "union",
                "tier": "community", "name": "南坑社区工联会", "reason": "opened",
                "rule": "bench", "notified_at": now} for i, _ in part])
            session.execute(insert(deadlines), [{
                "case_id": f"{prefix}-{i}", "kind": "escalate", "tier": "community",
                "due_at": due, "state": "open", "attempts": 0} for i, due in part])


def seed_far_in_postgres(db, count, now):
    """The same rows as ``seed_cases`` (due in 1-2 days), generated inside PostgreSQL."""
    enterprise = json.dumps({"credit_code": None, "name": "南坑某五金厂", "address": None,
                             "community_code": COMMUNITY, "path": PATH,
                             "key_enterprise": False}, ensure_ascii=False)
    with db.unit_of_work() as uow:
        params = {"n": count, "now": now, "enterprise": enterprise, "community": COMMUNITY}
        uow.session.execute(text("""
            INSERT INTO cases (case_id, grade, grade_rule, category, workers_affected,
                amount_owed, enterprise, status, policy_version, top_tier, received_at,
                notified_at)
            SELECT 'far-' || i, 'routine', 'bench', 'unpaid_wages', 50, '100000.00',
                CAST(:enterprise AS json), 'reported', '2015-01', 'community', :now, :now
            FROM generate_series(1, :n) AS i"""), params)
        uow.session.execute(text("""
            INSERT INTO notifications (id, case_id, organization_code, recipient_kind, tier,
                name, reason, rule, notified_at)
            SELECT md5('far-' || i), 'far-' || i, :community, 'union', 'community',
                '南坑社区工联会', 'opened', 'bench', :now
            FROM generate_series(1, :n) AS i"""), params)
        uow.session.execute(text("""
            INSERT INTO deadlines (case_id, kind, tier, due_at, state, attempts)
            SELECT 'far-' || i, 'escalate', 'community',
                :now + interval '1 day' + random() * interval '1 day', 'open', 0
            FROM generate_series(1, :n) AS i"""), params)
        uow.session.execute(text("ANALYZE deadlines"))


def start_replicas(count, database_url, amqp_uri):
    processes, ports = [], []
    for n in range(count):
        port = 18700 + n + random.randrange(0, 200) * 4
        env = dict(os.environ, NOTIFICATIONS_DATABASE_URL=database_url, AMQP_URI=amqp_uri,
                   NOTIFICATIONS_HTTP_PORT=str(port), HTTP_HOST="127.0.0.1",
                   LOG_FORMAT="text", LOG_LEVEL="WARNING",
                   DATABASE_MIGRATE="1" if n == 0 else "0")
        processes.append(subprocess.Popen(
            [sys.executable, "-m", "services.serve", "notifications"], cwd=ROOT, env=env))
        ports.append(port)
        if n == 0:
            wait_ready(port)
    for port in ports[1:]:
        wait_ready(port)
    return processes


def observe(db, prefix, due_by_case, timeout):
    """Poll for committed escalations of the due cases; first time each was seen."""
    seen = {}
    deadline = time.monotonic() + timeout
    query = (select(audit_entries.c.case_id)
             .where(audit_entries.c.action == "escalated",
                    audit_entries.c.case_id.like(f"{prefix}-%")))
    while len(seen) < len(due_by_case) and time.monotonic() < deadline:
        with db.session() as session:
            rows = session.execute(query).scalars().all()
        at = datetime.now(UTC)
        for case_id in rows:
            seen.setdefault(case_id, at)
        time.sleep(0.05)
    return seen


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--open", type=int, default=100_000, help="open deadlines in total")
    parser.add_argument("--due", type=int, default=1200, help="deadlines falling due")
    parser.add_argument("--window", type=float, default=60,
                        help="seconds they fall due over (0: all at once, to measure the "
                             "rate the service drains a backlog)")
    parser.add_argument("--replicas", type=int, default=1)
    parser.add_argument("--database-url",
                        default="postgresql+psycopg2://postgres@127.0.0.1:5432/test")
    parser.add_argument("--sqlite", action="store_true", help="SQLite instead of PostgreSQL")
    args = parser.parse_args(argv)

    database_url, drop_database = create_database(args.database_url, args.sqlite)
    amqp_uri, drop_vhost = create_vhost()
    processes = []
    try:
        db = open_database(database_url, "notifications", MIGRATIONS)
        seed_chain(db)
        now = datetime.now(UTC)
        started = time.perf_counter()
        far = args.open - args.due
        if args.sqlite:
            seed_cases(db, "far", [now + timedelta(days=1, seconds=random.randrange(86400))
                                   for _ in range(far)], now)
        else:
            seed_far_in_postgres(db, far, now)
        print(f"seeded {far:,} far deadlines in {time.perf_counter() - started:.1f}s")

        processes = start_replicas(args.replicas, database_url, amqp_uri)
        begin = datetime.now(UTC) + timedelta(seconds=3)
        step = args.window / max(args.due, 1)
        due = [begin + timedelta(seconds=i * step) for i in range(args.due)]
        seed_cases(db, "due", due, datetime.now(UTC))
        with db.session() as session:
            open_now = session.execute(select(func.count()).where(
                deadlines.c.state == "open")).scalar()
        rate = f"{args.due / args.window:.0f}/s" if args.window else "all at once"
        print(f"{open_now:,} open deadlines; {args.due:,} fall due over {args.window:g}s "
              f"({rate}) with {args.replicas} replica(s)")

        seen = observe(db, "due", {f"due-{i}": d for i, d in enumerate(due)},
                       timeout=args.window + 60)
        with db.session() as session:
            rows = session.execute(select(deadlines.c.case_id, deadlines.c.due_at,
                                          deadlines.c.fired_at, deadlines.c.fired_by)
                                   .where(deadlines.c.case_id.like("due-%"),
                                          deadlines.c.kind == "escalate",
                                          deadlines.c.tier == "community")).all()
            escalations = session.execute(select(func.count()).where(
                audit_entries.c.action == "escalated",
                audit_entries.c.case_id.like("due-%"))).scalar()
            far_fired = session.execute(select(func.count()).where(
                deadlines.c.case_id.like("far-%"), deadlines.c.state != "open")).scalar()
    finally:
        for process in processes:
            process.send_signal(signal.SIGTERM)
        for process in processes:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
        drop_vhost()
        drop_database()

    def aware(value):
        return value if value.tzinfo else value.replace(tzinfo=UTC)

    fired = [(aware(r.fired_at) - aware(r.due_at)).total_seconds() for r in rows if r.fired_at]
    due_at = {r.case_id: aware(r.due_at) for r in rows}
    visible = [(at - due_at[case_id]).total_seconds() for case_id, at in seen.items()]
    span = (max(seen.values()) - min(due_at.values())).total_seconds() if seen else 0
    result = {
        "benchmark": "notifications_escalation",
        "backend": "sqlite" if args.sqlite else "postgresql",
        "open_deadlines": args.open, "due": args.due, "window_s": args.window,
        "replicas": args.replicas, "fired": len(fired), "escalations": escalations,
        "far_fired_early": far_fired,
        "replicas_that_fired": len({r.fired_by for r in rows if r.fired_by}),
        "fired_per_s": round(len(seen) / span, 1) if span > 0 else None,
        "fired_late_p50_s": round(statistics.median(fired), 3) if fired else None,
        "fired_late_p99_s": round(percentile(fired, 0.99), 3) if fired else None,
        "fired_late_max_s": round(max(fired), 3) if fired else None,
        "visible_late_p50_s": round(statistics.median(visible), 3) if visible else None,
        "visible_late_p99_s": round(percentile(visible, 0.99), 3) if visible else None,
        "visible_late_max_s": round(max(visible), 3) if visible else None,
    }
    print(f"fired {len(fired):,}/{args.due:,} due deadlines, {escalations:,} escalations "
          f"(exactly once: {escalations == args.due}), far deadlines fired early: {far_fired}")
    print(f"{result['fired_per_s']} escalations/s from the first due to the last visible, "
          f"by {result['replicas_that_fired']} replica(s)")
    print(f"lateness fired_at - due_at: p50 {result['fired_late_p50_s']} s, "
          f"p99 {result['fired_late_p99_s']} s, max {result['fired_late_max_s']} s")
    print(f"lateness until visible (commit + 50 ms polling): p50 {result['visible_late_p50_s']}"
          f" s, p99 {result['visible_late_p99_s']} s, max {result['visible_late_max_s']} s")
    print(json.dumps(result))
    return result


if __name__ == "__main__":
    main()
