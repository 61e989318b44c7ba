"""Reports posted to the gateway at a fixed rate -> case persisted -> notifications persisted.

    .venv/bin/python bench/disputes_reports.py [--rates 50,100,200,500] [--seconds 10]
        [--backend postgresql|sqlite] [--officers 50] [--warmup 3] [--no-notifications]
        [--no-floor] [--profile DIR]

One run per rate (``--rate 300`` for one), then a table of them all: the README's.

Makes a throwaway vhost and throwaway databases, seeds the disputes and notifications
read models with a piece of Longgang (district, 坂田 street, 南坑 community) as registry
events would, registers ``--officers`` information officers, then starts the gateway,
disputes and notifications services as the container command does (one process each,
``python -m services.serve <name>``). Reports are posted to
``/api/v1/disputes/officer-reports`` on a fixed schedule by green threads (a late
request counts from its scheduled time, so a falling-behind system shows in the
figures). Every report names its own new enterprise, so each opens a case.

Figures:
- CPU milliseconds per report spent in each service process, in PostgreSQL and RabbitMQ
  (whole servers: keep the machine otherwise idle) and in this client (where the time goes);
- sustained reports/s (201 answers over the time from the first scheduled post to the
  last answer) and errors;
- post -> case persisted: the HTTP answer comes after the disputes commit (p50/p99);
- post -> last notification persisted: the latest ``notified_at`` of the notifications
  the policy required at once for the case (p50/p99), and how many cases were notified.
Target on this 2-core machine: 500 reports/s with p99 <= 200 ms.

Then, in the same run and at the same rate, the floor (``bench/_floor.py``; skipped with
``--no-floor``): the same three processes making the same hops with no work in them (the
gateway's HTTP entrypoint and ``BackendRpc``, an ``@rpc`` that commits one event to the
outbox, the relay publishing it with confirms, a batched consumer that only notes when it
came), on a vhost and databases of its own, after the real services have stopped. It
prints the same figures, and real / floor for each: what the framework and the transport
cost on this machine, so the ratio means the same on any machine. Goal: real sustained
>= 0.7x the floor's, which shows only at a rate the real pipeline cannot sustain.
"""

import sys
from pathlib import Path

import eventlet

eventlet.monkey_patch()
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import argparse  # noqa: E402
import os  # noqa: E402
import subprocess  # noqa: E402
import time  # noqa: E402
from contextlib import ExitStack  # noqa: E402
from datetime import UTC, datetime  # noqa: E402

import requests  # noqa: E402
from sqlalchemy import func, select  # noqa: E402

from bench._support import (  # noqa: E402
    ROOT,
    broker_vhost,
    database,
    emit,
    ms,
    percentile,
    wait_ready,
)
from services.disputes import domain as disputes_domain  # noqa: E402
from services.disputes import operations as disputes_operations  # noqa: E402
from services.disputes import readmodel as disputes_readmodel  # noqa: E402
from services.disputes.service import MIGRATIONS as DISPUTES_MIGRATIONS  # noqa: E402
from shared.db import migrate, open_database  # noqa: E402
from shared.testing import free_port  # noqa: E402

DISTRICT, STREET, COMMUNITY = "longgang", "longgang.bantian", "longgang.bantian.nankeng"
PATH = [DISTRICT, STREET, COMMUNITY]
ORGANIZATIONS = [
    (DISTRICT, "龙岗区总工会", "district_federation", "district", None,
     ("中共深圳市龙岗区委", "district_committee")),
    (STREET, "坂田街道总工会", "street_federation", "street", DISTRICT,
     ("中共坂田街道工作委员会", "street_working_committee")),
    (COMMUNITY, "南坑社区工联会", "community_federation", "community", STREET,
     ("南坑社区综合党委", "community_party_committee")),
]
SERVICES = ("disputes", "notifications", "gateway")
FLOOR_SCRIPT = Path(__file__).resolve().parent / "_floor.py"  # the same hops, no work


def organization_events():
    for code, name, kind, tier, parent, (party, party_kind) in ORGANIZATIONS:
        yield {"code": code, "name": name, "kind": kind, "tier": tier, "parent_code": parent,
               "path": PATH[:PATH.index(code) + 1],
               "party_organization": {"name": party, "kind": party_kind}}


def seed_disputes(url, officers):
    db = open_database(url, "disputes", DISPUTES_MIGRATIONS)
    tokens = []
    keys = disputes_domain.load_keys()  # what the services started from ROOT load too
    with db.unit_of_work() as uow:
        for organization in organization_events():
            disputes_readmodel.registry.apply_organization(uow.session, organization, None)
        for number in range(officers):
            tokens.append(disputes_operations.register_informant(
                uow.session, "officer", datetime.now(UTC), COMMUNITY,
                {"real_name": f"信息员{number}"}, with_token=True, keys=keys)[1])
    db.engine.dispose()
    return tokens


def seed_notifications(url):
    from services.notifications import readmodel
    from services.notifications.service import MIGRATIONS

    db = open_database(url, "notifications", MIGRATIONS)
    with db.unit_of_work() as uow:
        for organization in organization_events():
            readmodel.apply_organization(uow.session, organization, datetime.now(UTC))
    db.engine.dispose()


def start(name, url, amqp_uri, port, extra_env=None, profile=None, floor=False):
    # The client is one address posting for many officers at once (up to 200 connections,
    # post_reports): over the per-address limit of 32 the gateway would answer 429.
    env = dict(os.environ, AMQP_URI=amqp_uri, HTTP_HOST="127.0.0.1", LOG_FORMAT="text",
               LOG_LEVEL="WARNING", DATABASE_MIGRATE="0", MAX_WORKERS="20",
               HTTP_CONNECTIONS_PER_CLIENT="1000",
               **{f"{name.upper()}_DATABASE_URL": url, f"{name.upper()}_HTTP_PORT": str(port)},
               **(extra_env or {}))
    command = ([sys.executable, str(FLOOR_SCRIPT), name] if floor
               else [sys.executable, "-m", "services.serve", name])
    if profile:  # the profile is written when the service stops (SIGTERM: graceful)
        command[1:1] = ["-m", "cProfile", "-o", profile]
    return subprocess.Popen(command, cwd=ROOT, env=env)


def cpu_seconds(pid) -> float:
    """User + system CPU time of a process so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def cpu_seconds_of(command_names) -> float:
    """CPU time so far of every process whose command name is one of ``command_names``,
    with that of their exited children: a PostgreSQL backend that ends (a pool closing, a
    database dropped) moves its time into the postmaster's, so the sum never goes back."""
    total = 0.0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:
            continue
        name = text[text.index("(") + 1:text.rindex(")")]
        if name in command_names:
            fields = text.rsplit(")", 1)[1].split()
            total += sum(int(value) for value in fields[11:15]) / os.sysconf("SC_CLK_TCK")
    return total


# Where the rest of the machine's time goes: the database, the broker, this client.
OTHERS = {"postgresql": ("postgres",), "rabbitmq": ("beam.smp",)}


def stop(processes, grace=15):
    for process in processes:
        process.terminate()
    deadline = time.monotonic() + grace
    for process in processes:
        try:
            process.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def post_reports(base, tokens, rate, seconds, first_index=0):
    """Post on a fixed schedule; returns [(index, scheduled, answered, status)]."""
    total = int(rate * seconds)
    results = []
    sessions = eventlet.queue.LightQueue()
    for _ in range(200):
        sessions.put(requests.Session())

    def post(index, scheduled):
        session = sessions.get()
        try:
            response = session.post(f"{base}/api/v1/disputes/officer-reports", json={
                "name": f"基准测试企业{index}", "address": "坂田南坑", "community_code": COMMUNITY,
                "category": "unpaid_wages", "workers_affected": 10 + index % 150,
                "amount_owed": str(50000 + index), "description": "基准测试报告",
            }, headers={"Authorization": f"Bearer {tokens[index % len(tokens)]}"}, timeout=30)
            status = response.status_code
        except requests.RequestException:
            status = 0
        finally:
            sessions.put(session)
        results.append((index, scheduled, time.time(), status))

    pool = eventlet.GreenPool(1000)
    start_at = time.time() + 0.5
    for number in range(total):
        scheduled = start_at + number / rate
        delay = scheduled - time.time()
        if delay > 0:
            eventlet.sleep(delay)
        pool.spawn_n(post, first_index + number, scheduled)
    pool.waitall()
    return results


def notification_latencies(url, scheduled_by_name, timeout=30):
    """Per case, the last notification persisted minus when its report was scheduled."""
    from services.notifications.models import cases, notifications

    db = open_database(url, "notifications", run_migrations=False)
    deadline = time.monotonic() + timeout
    told = (select(notifications.c.case_id, func.max(notifications.c.notified_at).label("last"),
                   func.count().label("count"))
            .where(notifications.c.reason == "opened")
            .group_by(notifications.c.case_id).subquery())
    query = (select(cases.c.enterprise, told.c.last, told.c.count)
             .join(told, told.c.case_id == cases.c.case_id))
    rows = []
    while time.monotonic() < deadline:
        with db.session() as session:
            rows = session.execute(query).all()
        if sum(row[0]["name"] in scheduled_by_name for row in rows) >= len(scheduled_by_name):
            break
        time.sleep(0.5)
    db.engine.dispose()
    latencies, per_case = [], []
    for enterprise, last, count in rows:
        scheduled = scheduled_by_name.get(enterprise["name"])
        if scheduled is not None and last is not None:
            last = last if last.tzinfo else last.replace(tzinfo=UTC)
            latencies.append(last.timestamp() - scheduled)
            per_case.append(count)
    return latencies, per_case


def consumed_latencies(port, scheduled_by_name, timeout=30):
    """The floor's ``notification_latencies``: per report, when the do-nothing consumer
    took its event (``GET /consumed`` on the floor's notifications) minus when it was
    scheduled; one event per report."""
    deadline = time.monotonic() + timeout
    consumed = {}
    while time.monotonic() < deadline:
        consumed = requests.get(f"http://127.0.0.1:{port}/consumed", timeout=10).json()
        if all(name in consumed for name in scheduled_by_name):
            break
        time.sleep(0.5)
    latencies = [consumed[name] - scheduled for name, scheduled in scheduled_by_name.items()
                 if name in consumed]
    return latencies, [1] * len(latencies)


def prepare(urls, args, floor):
    """Migrate (and, for the real services, seed) the databases: the officers' tokens."""
    from services.gateway.service import MIGRATIONS as GATEWAY_MIGRATIONS
    from services.notifications.service import MIGRATIONS as NOTIFICATIONS_MIGRATIONS

    if floor:  # no authentication there: the tokens are only sent, as the client does
        migrate(urls["disputes"], DISPUTES_MIGRATIONS)
        if "notifications" in urls:
            migrate(urls["notifications"], NOTIFICATIONS_MIGRATIONS)
        tokens = [f"ghi_floor{number}" for number in range(args.officers)]
    else:
        tokens = seed_disputes(urls["disputes"], args.officers)
        if "notifications" in urls:
            seed_notifications(urls["notifications"])
    migrate(urls["gateway"], GATEWAY_MIGRATIONS)
    return tokens


def measure(args, names, floor=False) -> dict:
    """One pipeline (the real services, or the floor: ``bench/_floor.py``) on its own
    vhost and databases, warmed up, then posted to at ``args.rate``: its figures."""
    with ExitStack() as stack:
        amqp_uri = stack.enter_context(broker_vhost("gonghui-bench-disputes"))
        urls = {name: stack.enter_context(database(args.backend)) for name in names}
        tokens = prepare(urls, args, floor)
        ports = {name: free_port() for name in names}
        processes = []
        stack.callback(stop, processes)  # before the vhost and databases go
        limits = {"DISPUTES_RATE_LIMITS": "officer=1000000/3600,source=1000000/3600"}
        for name in names:
            profile = args.profile and str(
                Path(args.profile) / f"{'floor-' if floor else ''}{name}.prof")
            processes.append(start(name, urls[name], amqp_uri, ports[name], limits, profile,
                                   floor=floor))
        for name in names:
            wait_ready(ports[name])
        print(f"{'floor' if floor else 'real'} pipeline up ({', '.join(names)}) on "
              f"{args.backend}; posting {args.rate:g} reports/s for {args.seconds:g} s",
              flush=True)

        def last_consumed(results):
            scheduled_by_name = {f"基准测试企业{index}": scheduled
                                 for index, scheduled, _, status in results if status == 201}
            if floor:
                return consumed_latencies(ports["notifications"], scheduled_by_name)
            return notification_latencies(urls["notifications"], scheduled_by_name)

        base = f"http://127.0.0.1:{ports['gateway']}"
        warmup = post_reports(base, tokens, args.rate, args.warmup, first_index=10**7)
        if "notifications" in urls:  # let the warm-up's notifications finish first
            last_consumed(warmup)
        cpu_before = {name: cpu_seconds(p.pid) for name, p in zip(names, processes, strict=True)}
        others_before = {name: cpu_seconds_of(commands) for name, commands in OTHERS.items()}
        client_before = sum(os.times()[:2])
        results = post_reports(base, tokens, args.rate, args.seconds)
        client_cpu = sum(os.times()[:2]) - client_before  # posting only, not the polling
        ok = [r for r in results if r[3] == 201]
        first = min(r[1] for r in results)
        last = max(r[2] for r in results)
        case_latency = [answered - scheduled for _, scheduled, answered, _ in ok]
        figures = {
            "posted": len(results), "created": len(ok), "errors": len(results) - len(ok),
            "sustained_per_s": round(len(ok) / (last - first), 1),
            "case_p50_ms": ms(percentile(case_latency, 0.5)),
            "case_p99_ms": ms(percentile(case_latency, 0.99)),
        }
        if "notifications" in urls:
            latencies, per_case = last_consumed(results)
            figures.update({
                "notified_cases": len(latencies),
                "notifications_per_case": round(sum(per_case) / len(per_case), 2)
                if per_case else None,
                "notified_p50_ms": ms(percentile(latencies, 0.5)),
                "notified_p99_ms": ms(percentile(latencies, 0.99)),
            })
        # Where the time goes: CPU per created report in each service process (read after
        # the notifications were counted, so their work is included).
        per_report = 1000 / max(1, len(ok))
        figures["cpu_ms_per_report"] = {
            name: round((cpu_seconds(p.pid) - cpu_before[name]) * per_report, 1)
            for name, p in zip(names, processes, strict=True)}
        figures["cpu_ms_per_report"].update({
            name: round((cpu_seconds_of(commands) - others_before[name]) * per_report, 1)
            for name, commands in OTHERS.items()})
        figures["cpu_ms_per_report"]["bench client"] = round(client_cpu * per_report, 1)
        report(figures, "floor" if floor else "real")
        return figures


def report(figures, pipeline):
    print(f"{pipeline}: posted {figures['posted']:,}, created {figures['created']:,}, "
          f"errors {figures['errors']}; sustained {figures['sustained_per_s']} reports/s")
    print(f"{pipeline}: post -> answered (case persisted): p50 {figures['case_p50_ms']} ms, "
          f"p99 {figures['case_p99_ms']} ms")
    print(f"{pipeline}: CPU per report: " + ", ".join(
        f"{name} {value} ms" for name, value in figures["cpu_ms_per_report"].items()))
    if "notified_cases" in figures:
        print(f"{pipeline}: post -> last consumed ({figures['notified_cases']:,} cases, "
              f"{figures['notifications_per_case']} notifications each): "
              f"p50 {figures['notified_p50_ms']} ms, p99 {figures['notified_p99_ms']} ms",
              flush=True)


def ratios(real, floor) -> dict:
    """real / floor for throughput and latencies (the goal: sustained >= 0.7)."""
    keys = ("sustained_per_s", "case_p50_ms", "case_p99_ms", "notified_p50_ms",
            "notified_p99_ms")
    return {key: round(real[key] / floor[key], 2) for key in keys
            if real.get(key) is not None and floor.get(key)}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rates", type=rates, default=rates("50,100,200,500"),
                        help="offered reports per second, one run (real, then floor) each; "
                             "the target is 500")
    parser.add_argument("--rate", type=float, help="one rate only (same as --rates N)")
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--backend", default="postgresql", choices=("postgresql", "sqlite"))
    parser.add_argument("--officers", type=int, default=50)
    parser.add_argument("--warmup", type=float, default=3,
                        help="seconds posted at the same rate before measuring (connection "
                             "pools filled, statements compiled), not counted")
    parser.add_argument("--no-notifications", action="store_true",
                        help="disputes and gateway only (post -> case persisted)")
    parser.add_argument("--no-floor", action="store_true",
                        help="the real pipeline only, without the floor after it")
    parser.add_argument("--profile", metavar="DIR",
                        help="run every service under cProfile, stats to DIR/<service>.prof "
                             "(the floor's to DIR/floor-<service>.prof)")
    args = parser.parse_args(argv)
    if args.profile:
        Path(args.profile).mkdir(parents=True, exist_ok=True)
    names = [n for n in SERVICES if not (args.no_notifications and n == "notifications")]

    runs = []
    for rate in [args.rate] if args.rate else args.rates:
        args.rate = rate
        figures = {"backend": args.backend, "rate": rate, "seconds": args.seconds,
                   "warmup_seconds": args.warmup}
        real = measure(args, names)
        figures.update(real)
        if not args.no_floor:  # one after the other: each has the machine to itself
            floor = measure(args, names, floor=True)
            figures["floor"] = floor
            figures["real_over_floor"] = ratios(real, floor)
            print("real / floor: " + ", ".join(
                f"{key} {value}" for key, value in figures["real_over_floor"].items())
                + " (goal: sustained >= 0.7; it shows only at a rate the real pipeline "
                  "cannot sustain)", flush=True)
        runs.append(figures)
    print_table(runs)
    emit("disputes_reports", runs[0] if len(runs) == 1 else {"runs": runs})


def rates(text) -> list[float]:
    return [float(part) for part in text.split(",") if part.strip()]


def print_table(runs):
    """The runs side by side, as the README shows them (Markdown)."""
    print("\n| offered | sustained real / floor (ratio) | post -> case p50 / p99, real; "
          "floor | post -> last notification p50 / p99, real; floor | CPU ms per report, "
          "real (floor) |")
    print("|---|---|---|---|---|")
    for run in runs:
        floor = run.get("floor", {})
        ratio = run.get("real_over_floor", {}).get("sustained_per_s")
        cpu = ", ".join(f"{name} {value} ({floor.get('cpu_ms_per_report', {}).get(name, '-')})"
                        for name, value in run["cpu_ms_per_report"].items())
        print(f"| {run['rate']:g}/s | {run['sustained_per_s']} / "
              f"{floor.get('sustained_per_s', '-')} ({ratio}) | "
              f"{run['case_p50_ms']} / {run['case_p99_ms']} ms; "
              f"{floor.get('case_p50_ms', '-')} / {floor.get('case_p99_ms', '-')} ms | "
              f"{run.get('notified_p50_ms', '-')} / {run.get('notified_p99_ms', '-')} ms; "
              f"{floor.get('notified_p50_ms', '-')} / {floor.get('notified_p99_ms', '-')} ms | "
              f"{cpu} |", flush=True)


if __name__ == "__main__":
    main()
