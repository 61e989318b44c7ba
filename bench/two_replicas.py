"""Two replicas of each backend service on one broker and one PostgreSQL database per
service, one replica of each killed (SIGKILL) under load: the outbox lease passes to the
other, every event arrives, in order per aggregate, what arrives twice is told by its id,
and every deadline fires exactly once across the replicas.

    .venv/bin/python bench/two_replicas.py [--only registry,competitions,...] [--updates 300]
        [--kill-after 100] [--reminders 20] [--due 300] [--window 30]

Each service runs in a vhost and PostgreSQL database(s) of its own (removed at the end);
a queue bound to ``<service>.events`` collects what it publishes as it arrives. The
replica killed is the one whose relay is publishing (its
``gonghui_events_published_total`` grows): no graceful stop, so its lease must run out
(``shared.outbox.LEASE``) before the survivor publishes.

- registry: the district federation renamed ``--updates`` times over RPC, one rename
  after another (the replicas share the RPC queue, so each takes about half), the
  publisher killed after ``--kill-after``. Checked: every rename's event arrived, in the
  order the renames committed.
- incubation: the same with a social organization, its home place told by one registry
  process beside it (its read model fills from the registry's events). Before the
  renames, ``--reminders`` organizations admitted over RPC with periods ending in ten
  days: each replica's ``watch_deadlines`` tick (every 60 s) finds them due; checked:
  each got exactly one ``incubation_deadline_approaching``.
- membership: ``--updates``/2 applications entered and approved over RPC (per
  membership ``membership_applied``, ``membership_approved``, ``card_issued``, checked in
  that order), the publisher killed half way. Its registry read model is written as the
  registry's events would (three places, one factory).
- disputes: ``--updates``/2 anonymous reports over RPC, each about another factory (one
  ``case_opened`` each), the publisher killed half way; read model written likewise.
- notifications: ``--due`` escalation deadlines falling due over ``--window`` seconds
  (open cases written as its consumers would, ``notifications_escalation.seed_cases``),
  one replica killed half way through. Checked: each fired exactly once (one escalation
  in the audit, one ``case_escalated`` event per case), by which replicas.

- competitions: the tests' 2016 edition run through its finals by the use cases
  (``tests.competitions``) and its public notice opened with one day of objections, long
  ended, before the replicas start; each replica's ``end_public_notices`` tick
  (``NOTICE_POLL_SECONDS``, 60 s) finds it due. Checked: the notice closed once, the
  awards round opened once, each award granted final once. Then over RPC a 2017 edition
  created, its nomination round opened, ``--updates``/2 nominations submitted (per
  nomination ``nomination_submitted`` then ``nomination_qualified``, checked in that
  order; the round's opened before closed), the publisher killed half way.

For every service: duplicates (the same envelope id again: at least once, a consumer
dedupes) counted, and the first event after the kill (the lease handed over).
Prints figures, then one JSON line.
"""

import argparse
import json
import os
import signal
import subprocess
import sys
import time
from datetime import UTC, date, datetime, timedelta

from _support import ROOT, broker_vhost, database, emit, wait_ready
from kombu import Connection, Exchange, Queue

from shared.db import migrate
from shared.testing import free_port

ADMIN = {"name": "bench", "role": "admin", "organization_code": "longgang"}
DISTRICT = {"code": "longgang", "name": "龙岗区总工会", "kind": "district_federation",
            "parent_code": None,
            "party_organization": {"name": "中共深圳市龙岗区委", "kind": "district_committee"}}
SOCIAL_ORGANIZATION = {"name": "龙岗区彩虹职工法律服务中心", "service_kind": "legal_aid",
                       "home_code": "longgang"}
OUT = ROOT / "bench" / "out"
# Both replicas of a service must hash personal data alike: one throwaway key per run.
PII_KEYS = {f"{service}_PII_KEY": os.urandom(32).hex() for service in ("MEMBERSHIP", "DISPUTES")}


def sink(service):
    return Queue(f"bench-two-replicas-{service}",
                 Exchange(f"{service}.events", type="topic", durable=True),
                 routing_key="#", durable=True)


def start_replica(service, amqp_uri, database_url, log_path):
    port = free_port()
    prefix = service.upper()
    env = dict(os.environ, AMQP_URI=amqp_uri, HTTP_HOST="127.0.0.1", LOG_FORMAT="text",
               DATABASE_MIGRATE="0", OUTBOX_POLL_SECONDS="0.1", **PII_KEYS,
               **{f"{prefix}_HTTP_PORT": str(port), f"{prefix}_DATABASE_URL": database_url})
    with open(log_path, "w") as log:
        process = subprocess.Popen([sys.executable, "-m", "services.serve", service],
                                   env=env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
    return process, port


def published(port) -> float:
    """The replica's own count of events its relay had confirmed."""
    import requests

    text = requests.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
    return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
               if line.startswith("gonghui_events_published_total{"))


def kill_publisher(service, replicas):
    """SIGKILLs the replica whose relay is publishing now (its count grew over a second;
    else the one that published most): (its number, the time)."""
    before = [published(port) for _, port in replicas]
    time.sleep(1)
    counts = [published(port) for _, port in replicas]
    grew = [after - was for after, was in zip(counts, before, strict=True)]
    victim = grew.index(max(grew)) if max(grew) > 0 else counts.index(max(counts))
    replicas[victim][0].send_signal(signal.SIGKILL)
    replicas[victim][0].wait()
    print(f"{service}: killed replica {victim + 1} (its relay had published "
          f"{counts[victim]:.0f} events, {grew[victim]:.0f} in the last second)", flush=True)
    return victim + 1, time.monotonic()


class Sink:
    """What ``service`` publishes, collected as it arrives (a green thread reading the
    sink queue): ``received`` is (envelope, arrival time) pairs."""

    def __init__(self, amqp_uri, service):
        import eventlet

        self.amqp_uri, self.queue, self.received = amqp_uri, sink(service), []
        with Connection(amqp_uri) as connection:
            self.queue(connection.channel()).declare()
        self.stopped = False
        self.thread = eventlet.spawn(self._collect)

    def _collect(self):
        with Connection(self.amqp_uri) as connection:
            queue = self.queue(connection.channel())
            while not self.stopped:
                message = queue.get(no_ack=True)
                if message is None:
                    time.sleep(0.02)
                    continue
                self.received.append((json.loads(message.body), time.monotonic()))

    def wait(self, done, quiet):
        """Until ``done(received)`` or ``quiet`` seconds without a message; stops."""
        while not done(self.received):
            last = self.received[-1][1] if self.received else time.monotonic()
            if time.monotonic() - last > quiet:
                break
            time.sleep(0.1)
        self.stop()
        return self.received

    def stop(self):
        self.stopped = True
        self.thread.wait()


def distinct(received):
    """The first arrival of each envelope id, and how many arrived again."""
    seen, first, duplicates = set(), [], 0
    for envelope, arrived in received:
        if envelope["id"] in seen:
            duplicates += 1
            continue
        seen.add(envelope["id"])
        first.append((envelope, arrived))
    return first, duplicates


class Cluster:
    """Replicas of services in one vhost, each service on its own fresh database;
    everything stopped and removed on exit."""

    def __init__(self, stack, amqp_uri):
        self.stack, self.amqp_uri, self.processes = stack, amqp_uri, []

    def sink(self, service):
        collected = Sink(self.amqp_uri, service)
        self.stack.callback(collected.stop)  # before the vhost goes
        return collected

    def database(self, service):
        url = self.stack.enter_context(database("postgresql"))
        migrate(url, ROOT / "services" / service / "migrations")
        return url

    def start(self, service, database_url, count):
        OUT.mkdir(exist_ok=True)
        replicas = [start_replica(service, self.amqp_uri, database_url,
                                  OUT / f"replica-{service}-{n}.log")
                    for n in range(1, count + 1)]
        self.processes += [process for process, _ in replicas]
        for _, port in replicas:
            wait_ready(port, timeout=180)
        return replicas

    def stop(self):
        for process in self.processes:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in self.processes:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()


def renames(cluster, service, args, prepare, rename):
    """Two replicas of ``service``; ``--updates`` renames through ``rename(rpc, number)``
    after ``prepare(rpc)``, the publishing replica killed after ``--kill-after``."""
    from nameko.standalone.rpc import ClusterRpcProxy

    url = cluster.database(service)
    collected = cluster.sink(service)
    replicas = cluster.start(service, url, 2)
    print(f"two {service} replicas ready", flush=True)
    sent_at = {}
    with ClusterRpcProxy({"AMQP_URI": cluster.amqp_uri}, timeout=30) as rpc:
        extra = prepare(rpc, collected) or {}  # figures of its own (incubation's reminders)
        for number in range(1, args.updates + 1):
            if number == args.kill_after + 1:
                victim, killed_at = kill_publisher(service, replicas)
            sent_at[number] = time.monotonic()
            rename(rpc, number)
    first, duplicates = distinct(collected.wait(
        lambda received: sum(1 for envelope, _ in distinct(received)[0]
                             if envelope["type"] == "organization_updated") >= args.updates,
        quiet=60))
    order = [(int(envelope["data"]["name"].rsplit(" ", 1)[1]), arrived)
             for envelope, arrived in first if envelope["type"] == "organization_updated"]
    numbers = [number for number, _ in order]
    waited = [arrived - sent_at[number] for number, arrived in order]
    after_kill = [arrived - killed_at for number, arrived in order if number > args.kill_after]
    return {**extra, "updates": args.updates, "killed_replica": victim,
            "distinct_events": len(first), "duplicates": duplicates,
            "missing": len(set(range(1, args.updates + 1)) - set(numbers)),
            "in_order": numbers == sorted(numbers),
            "max_wait_s": round(max(waited), 2) if waited else None,
            "first_event_after_kill_s": round(min(after_kill), 2) if after_kill else None}


def registry(cluster, args):
    def prepare(rpc, collected):
        rpc.registry.register_organization(DISTRICT, ADMIN)

    return renames(cluster, "registry", args, prepare,
                   lambda rpc, n: rpc.registry.update_organization(
                       "longgang", {"name": f"龙岗区总工会 {n}"}, ADMIN))


def reminded(collected) -> dict:
    """How many incubation-deadline reminders each organization got (distinct ids)."""
    counts = {}
    for envelope, _ in distinct(collected.received)[0]:
        if envelope["type"] == "incubation_deadline_approaching":
            counts[envelope["subject"]] = counts.get(envelope["subject"], 0) + 1
    return counts


def incubation(cluster, args):
    """Its writes need the registry's places: one registry beside it tells it of them."""
    from nameko.exceptions import RemoteError

    from shared.errors import InvalidInput

    cluster.start("registry", cluster.database("registry"), 1)
    added = {}

    def prepare(rpc, collected):
        rpc.registry.register_organization(DISTRICT, ADMIN)
        deadline = time.monotonic() + 60
        while "id" not in added:
            try:
                added.update(rpc.incubation.add_organization(SOCIAL_ORGANIZATION, ADMIN))
            except (InvalidInput, RemoteError) as error:  # the district not in yet
                if time.monotonic() > deadline:
                    raise SystemExit(f"incubation never learnt of the district: "
                                     f"{error}") from None
                time.sleep(0.5)
        # Admitted with their periods ending in ten days: inside the reminder window, so
        # each replica's next ``watch_deadlines`` tick (every 60 s) finds them all due.
        ends = (date.today() + timedelta(days=10)).isoformat()
        for number in range(1, args.reminders + 1):
            organization = rpc.incubation.add_organization(
                {**SOCIAL_ORGANIZATION, "name": f"龙岗区职工服务社 {number}"}, ADMIN)
            rpc.incubation.change_stage(organization["id"], {
                "stage": "admitted", "reason": "评审通过，入驻孵化",
                "incubation_deadline": ends}, ADMIN)
        started = time.monotonic()
        while time.monotonic() - started < 75 and len(reminded(collected)) < args.reminders:
            time.sleep(0.5)
        time.sleep(5)  # the other replica's tick, if it comes later
        per_organization = reminded(collected)
        print(f"incubation: {len(per_organization)} of {args.reminders} reminders raised "
              f"{time.monotonic() - started:.0f} s after the admissions", flush=True)
        return {"reminders_due": args.reminders, "reminded": len(per_organization),
                "reminded_twice": sum(1 for n in per_organization.values() if n > 1)}

    return renames(cluster, "incubation", args, prepare,
                   lambda rpc, n: rpc.incubation.update_organization(
                       added["id"], {"name": f"{SOCIAL_ORGANIZATION['name']} {n}"}, ADMIN))


def notifications(cluster, args):
    """Deadlines falling due while one of the two replicas is killed."""
    from notifications_escalation import seed_cases, seed_chain
    from sqlalchemy import func, select

    from services.notifications.models import audit_entries, deadlines
    from services.notifications.service import MIGRATIONS
    from shared.db import open_database

    url = cluster.database("notifications")
    db = open_database(url, "notifications", MIGRATIONS)
    seed_chain(db)
    collected = cluster.sink("notifications")
    replicas = cluster.start("notifications", url, 2)
    print("two notifications replicas ready", flush=True)
    begin = datetime.now(UTC) + timedelta(seconds=3)
    step = args.window / max(args.due, 1)
    seed_cases(db, "due", [begin + timedelta(seconds=i * step) for i in range(args.due)],
               datetime.now(UTC))
    time.sleep(3 + args.window / 2)
    victim, killed_at = kill_publisher("notifications", replicas)
    first, duplicates = distinct(collected.wait(lambda received: sum(
        1 for envelope, _ in distinct(received)[0] if envelope["type"] == "case_escalated")
        >= args.due, quiet=60))
    escalated = [envelope for envelope, _ in first if envelope["type"] == "case_escalated"]
    per_case = {}
    for envelope in escalated:
        per_case[envelope["subject"]] = per_case.get(envelope["subject"], 0) + 1
    with db.session() as session:
        fired = session.execute(select(deadlines.c.fired_by).where(
            deadlines.c.case_id.like("due-%"), deadlines.c.fired_at.is_not(None))).scalars()
        fired = list(fired)
        audit = session.execute(select(audit_entries.c.case_id, func.count()).where(
            audit_entries.c.action == "escalated").group_by(audit_entries.c.case_id)).all()
    db.engine.dispose()
    after_kill = [arrived - killed_at for _, arrived in first if arrived > killed_at]
    return {"deadlines_due": args.due, "window_s": args.window, "killed_replica": victim,
            "deadlines_fired": len(fired), "replicas_that_fired": len(set(fired)),
            "escalated_twice": sum(1 for _, n in audit if n > 1),
            "escalated_cases": len(audit), "distinct_events": len(first),
            "escalation_events": len(escalated),
            "cases_with_two_events": sum(1 for n in per_case.values() if n > 1),
            "duplicates": duplicates,
            "first_event_after_kill_s": round(min(after_kill), 2) if after_kill else None}


MEMBERSHIP_PLACES = [
    {"code": "longgang", "name": "龙岗区总工会", "kind": "district_federation",
     "tier": "district", "parent_code": None, "path": ["longgang"]},
    {"code": "longgang.bantian", "name": "坂田街道总工会", "kind": "street_federation",
     "tier": "street", "parent_code": "longgang", "path": ["longgang", "longgang.bantian"]},
    {"code": "longgang.bantian.nankeng", "name": "南坑社区工联会",
     "kind": "community_federation", "tier": "community", "parent_code": "longgang.bantian",
     "path": ["longgang", "longgang.bantian", "longgang.bantian.nankeng"]},
]
FACTORY = {"credit_code": "91440300BENCH0001A", "name": "南坑某五金厂", "address": None,
           "community_code": "longgang.bantian.nankeng",
           "path": ["longgang", "longgang.bantian", "longgang.bantian.nankeng"],
           "headcount": 5000, "union_status": "covered",
           "union_code": "longgang.bantian.nankeng", "key_enterprise": False,
           "assigned_leader": None, "status": "active"}


def membership(cluster, args):
    """Applications entered and approved over RPC, each membership an aggregate
    (``membership_applied`` then ``membership_approved``, ``card_issued``), the
    publishing replica killed half way. Its registry read model is written as the
    registry's events would (the places and one factory of 5,000 workers)."""
    from nameko.standalone.rpc import ClusterRpcProxy

    from services.membership import readmodel
    from services.membership.domain import id_check_digit
    from services.membership.service import MIGRATIONS
    from shared.db import open_database

    url = cluster.database("membership")
    db = open_database(url, "membership", MIGRATIONS)
    with db.unit_of_work() as uow:
        for place in MEMBERSHIP_PLACES:
            readmodel.apply_organization(uow.session, {
                **place, "party_organization": None, "enterprise_credit_code": None})
        readmodel.apply_enterprise(uow.session, FACTORY)
    db.engine.dispose()
    collected = cluster.sink("membership")
    replicas = cluster.start("membership", url, 2)
    print("two membership replicas ready", flush=True)
    members = args.updates // 2
    with ClusterRpcProxy({"AMQP_URI": cluster.amqp_uri}, timeout=30) as rpc:
        for number in range(1, members + 1):
            if number == members // 2 + 1:
                victim, killed_at = kill_publisher("membership", replicas)
            birth = (date(1970, 1, 1) + timedelta(days=number)).strftime("%Y%m%d")
            body = f"440307{birth}001"
            application = {"name": f"职工{number}", "id_number": body + id_check_digit(body),
                           "phone": None, "enterprise_credit_code": FACTORY["credit_code"]}
            applied = rpc.membership.enter_application(application, ADMIN)
            rpc.membership.approve(applied["membership_id"], ADMIN)
    expected = 3 * members
    first, duplicates = distinct(collected.wait(
        lambda received: len(distinct(received)[0]) >= expected, quiet=60))
    steps = {"membership_applied": 0, "membership_approved": 1, "card_issued": 2}
    sequences = {}
    for envelope, _ in first:
        if envelope["type"] in steps:
            key = envelope["subject"] if envelope["type"] != "card_issued" else str(
                envelope["data"]["membership_id"])
            sequences.setdefault(key, []).append(steps[envelope["type"]])
    after_kill = [arrived - killed_at for _, arrived in first if arrived > killed_at]
    return {"memberships": members, "killed_replica": victim, "distinct_events": len(first),
            "duplicates": duplicates,
            "missing": expected - sum(len(steps) for steps in sequences.values()),
            "in_order": all(seq == sorted(seq) for seq in sequences.values()),
            "first_event_after_kill_s": round(min(after_kill), 2) if after_kill else None}


def disputes(cluster, args):
    """Anonymous reports filed over RPC, each about another factory in 南坑 (so none is
    merged into another's case: one ``case_opened`` per report), the publishing replica
    killed half way. Its registry read model is written as the registry's events would."""
    import uuid

    from nameko.standalone.rpc import ClusterRpcProxy

    from services.disputes import readmodel
    from services.disputes.service import MIGRATIONS
    from shared.db import open_database

    reports = args.updates // 2
    url = cluster.database("disputes")
    db = open_database(url, "disputes", MIGRATIONS)
    with db.unit_of_work() as uow:
        for place in MEMBERSHIP_PLACES:
            readmodel.registry.apply_organization(uow.session, place, None)
        for number in range(1, reports + 1):
            readmodel.registry.apply_enterprise(uow.session, {
                **FACTORY, "credit_code": f"91440300BENCH{number:04d}A",
                "name": f"南坑五金厂{number}", "headcount": 80}, None)
    db.engine.dispose()
    collected = cluster.sink("disputes")
    replicas = cluster.start("disputes", url, 2)
    print("two disputes replicas ready", flush=True)
    with ClusterRpcProxy({"AMQP_URI": cluster.amqp_uri}, timeout=30) as rpc:
        for number in range(1, reports + 1):
            if number == reports // 2 + 1:
                victim, killed_at = kill_publisher("disputes", replicas)
            rpc.disputes.submit_report({
                "credit_code": f"91440300BENCH{number:04d}A", "category": "unpaid_wages",
                "workers_affected": 12, "amount_owed": "86000.00",
                "description": f"两个月工资未发 {number}"}, source=uuid.uuid4().hex)

    def opened(received):
        return [envelope for envelope, _ in distinct(received)[0]
                if envelope["type"] == "case_opened"]

    received = collected.wait(lambda received: len(opened(received)) >= reports, quiet=60)
    first, duplicates = distinct(received)
    cases = {envelope["subject"] for envelope in opened(received)}
    after_kill = [arrived - killed_at for _, arrived in first if arrived > killed_at]
    return {"reports": reports, "killed_replica": victim, "distinct_events": len(first),
            "duplicates": duplicates, "missing": reports - len(cases),
            "first_event_after_kill_s": round(min(after_kill), 2) if after_kill else None}


def competitions(cluster, args):
    """Before the replicas start, the tests' 2016 edition run through its finals by the
    use cases (``tests.competitions``: read models filled as events would, both street
    finals and the district final scored and closed) and its public notice opened with one
    day of objections, long ended: each replica's ``end_public_notices`` tick (every
    ``NOTICE_POLL_SECONDS``) finds it due. Then over RPC: a 2017 edition created, its
    nomination round opened, ``--updates``/2 nominations submitted (each a
    ``nomination_submitted`` then its outcome), the publishing replica killed half way,
    the round closed."""
    from nameko.standalone.rpc import ClusterRpcProxy

    from services.competitions.service import MIGRATIONS, NOTICE_POLL_SECONDS
    from shared.db import open_database
    from tests.competitions.conftest import (
        NK_PLANT,
        NK_PLANT_UNION,
        at,
        fill,
        nomination_data,
        open_,
    )
    from tests.competitions.test_operations import MEMBERS, full_competition

    nominees = args.updates // 2
    workers = [(100 + number, NK_PLANT) for number in range(1, nominees + 1)]
    url = cluster.database("competitions")
    db = fill(open_database(url, "competitions", MIGRATIONS), MEMBERS + workers)
    rounds, _ = full_competition(db)
    open_(db, rounds, "public_notice", when=at(50), objection_days=1)
    db.engine.dispose()
    collected = cluster.sink("competitions")
    replicas = cluster.start("competitions", url, 2)
    print("two competitions replicas ready", flush=True)

    def of_2016(received, type_, **data):
        return [envelope for envelope, _ in distinct(received)[0]
                if envelope["type"] == type_ and envelope["data"]["edition_id"] == "2016"
                and all(envelope["data"].get(key) == value for key, value in data.items())]

    started = time.monotonic()
    while (time.monotonic() - started < NOTICE_POLL_SECONDS + 15
           and not of_2016(collected.received, "round_opened", stage="awarded")):
        time.sleep(0.5)
    time.sleep(5)  # the other replica's tick, if it comes later
    print(f"competitions: public notice ended {time.monotonic() - started:.0f} s after "
          "the replicas started", flush=True)
    with ClusterRpcProxy({"AMQP_URI": cluster.amqp_uri}, timeout=30) as rpc:
        edition = rpc.competitions.create_edition(
            {"id": "2017", "year": 2017, "title": "双副本基准", "rules_version": None}, ADMIN)
        round_id = next(r["id"] for r in edition["rounds"] if r["stage"] == "nomination")
        rpc.competitions.open_round(round_id, ADMIN)
        for number, (worker, credit_code) in enumerate(workers, start=1):
            if number == nominees // 2 + 1:
                victim, killed_at = kill_publisher("competitions", replicas)
            rpc.competitions.submit_nomination(
                {**nomination_data(worker, credit_code, NK_PLANT_UNION), "edition_id": "2017"},
                ADMIN)
        rpc.competitions.close_round(round_id, ADMIN)

    def of_2017(received):
        return [envelope for envelope, _ in distinct(received)[0]
                if envelope["data"].get("edition_id") == "2017"]

    expected = 2 * nominees + 2  # and the round opened and closed
    first, duplicates = distinct(collected.wait(
        lambda received: len(of_2017(received)) >= expected, quiet=60))
    steps = {"round_opened": 0, "round_closed": 1, "nomination_submitted": 0,
             "nomination_qualified": 1, "nomination_refused": 1}
    sequences = {}
    for envelope, _ in first:
        if envelope["type"] in steps:
            key = (envelope["type"].split("_")[0], envelope["subject"])
            sequences.setdefault(key, []).append(steps[envelope["type"]])
    granted = {}
    for envelope in of_2016(collected.received, "award_granted", status="final"):
        granted[envelope["subject"]] = granted.get(envelope["subject"], 0) + 1
    after_kill = [arrived - killed_at for _, arrived in first if arrived > killed_at]
    return {"nominations": nominees, "killed_replica": victim, "distinct_events": len(first),
            "duplicates": duplicates, "missing": expected - len(of_2017(collected.received)),
            "in_order": all(seq == sorted(seq) for seq in sequences.values()),
            "first_event_after_kill_s": round(min(after_kill), 2) if after_kill else None,
            "notices_ended": len(of_2016(collected.received, "round_closed",
                                         stage="public_notice")),
            "awarded_rounds_opened": len(of_2016(collected.received, "round_opened",
                                                 stage="awarded")),
            "final_awards": len(granted),
            "awards_granted_twice": sum(1 for n in granted.values() if n > 1)}


SCENARIOS = {"registry": registry, "membership": membership, "disputes": disputes,
             "incubation": incubation, "notifications": notifications,
             "competitions": competitions}


def main():
    from contextlib import ExitStack

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", default=",".join(SCENARIOS))
    parser.add_argument("--updates", type=int, default=300)
    parser.add_argument("--kill-after", type=int, default=100)
    parser.add_argument("--reminders", type=int, default=20,
                        help="incubation periods ending soon (reminded once each)")
    parser.add_argument("--due", type=int, default=300)
    parser.add_argument("--window", type=float, default=30)
    args = parser.parse_args()
    chosen = [name.strip() for name in args.only.split(",") if name.strip()]
    for name in chosen:
        if name not in SCENARIOS:
            raise SystemExit(f"unknown service {name!r}; known: {', '.join(SCENARIOS)}")

    import eventlet

    eventlet.monkey_patch()

    figures, failed = {}, []
    for name in chosen:
        with ExitStack() as stack:
            cluster = Cluster(stack, stack.enter_context(
                broker_vhost(f"gonghui-bench-replicas-{name}")))
            stack.callback(cluster.stop)
            result = SCENARIOS[name](cluster, args)
        figures[name] = result
        print(f"{name}: {json.dumps(result, ensure_ascii=False)}", flush=True)
        bad = (result.get("missing") or result.get("in_order") is False
               or result.get("escalated_twice") or result.get("cases_with_two_events")
               or result.get("reminded_twice")
               or result.get("notices_ended", 1) != 1
               or result.get("awarded_rounds_opened", 1) != 1
               or result.get("awards_granted_twice") or result.get("final_awards") == 0
               or result.get("reminded", args.reminders) != args.reminders
               or result.get("deadlines_fired", args.due) != args.due)
        if bad:
            failed.append(name)
    emit("two_replicas", {"services": figures, "failed": failed})
    if failed:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
