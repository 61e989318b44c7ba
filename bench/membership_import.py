"""Bulk import of 2,000,000 members at district scale, and join-rate query latency.

    .venv/bin/python bench/membership_import.py [--members 2000000] [--enterprises 320000]
        [--batch-size 20000] [--batched [--writers 2]] [--rpc-calls 2000] [--progress]
        [--one-process]

Makes a throwaway PostgreSQL database and broker vhost (dropped at the end), fills
membership's registry read model with a district (11 streets, 110 communities,
``--enterprises`` enterprises, ~2.2M workers), writes a members CSV once (cached in
bench/out/, random order over the enterprises, 0.1% bad rows), then times the import
(what ``gonghui membership import`` runs) and ``join_rate`` queries: in the database
session, and as nameko RPC calls to a running MembershipService. Prints figures and where
the import's time went, then one JSON line.
"""

import sys

if "--rpc-url" in sys.argv:  # the RPC half runs in its own process, under eventlet
    import eventlet

    eventlet.monkey_patch()

import argparse  # noqa: E402
import csv  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import random  # noqa: E402
import time  # noqa: E402

from _support import ROOT, broker_vhost, database, emit, percentile  # noqa: E402
from sqlalchemy import insert  # noqa: E402

from services.membership import importer, readmodel, views  # noqa: E402
from services.membership.domain import MemberKeys, id_check_digit  # noqa: E402
from services.membership.models import enterprises, organizations  # noqa: E402
from services.membership.service import MIGRATIONS  # noqa: E402
from shared.db import open_database  # noqa: E402
from shared.registry_readmodel import path_key  # noqa: E402

OUT = ROOT / "bench" / "out"
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何林罗郑梁谢宋唐许邓冯韩曹曾彭"
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰志红建国海燕春梅文斌辉"


def district(n_enterprises, seed=7):
    """Organizations and enterprise snapshots shaped like Longgang's."""
    rng = random.Random(seed)
    orgs = [("longgang", None, "district_federation", "district", ["longgang"])]
    communities = []
    for s in range(11):
        street = f"longgang.s{s:02d}"
        orgs.append((street, "longgang", "street_federation", "street", ["longgang", street]))
        for c in range(10):
            community = f"{street}.c{c:02d}"
            orgs.append((community, street, "community_federation", "community",
                         ["longgang", street, community]))
            communities.append(["longgang", street, community])
    rows = []
    for n in range(n_enterprises):
        path = communities[rng.randrange(len(communities))]
        headcount = max(1, min(8000, int(rng.lognormvariate(1.4, 1.1))))
        credit = f"91440307BENCH{n:05d}"
        own = headcount >= 25 and rng.random() < 0.3
        union = f"{path[-1]}.u{n}" if own else path[-1]
        if own:
            orgs.append((union, path[-1], "enterprise_union", "enterprise", [*path, union]))
        rows.append({"credit_code": credit, "name": f"企业{n}", "community_code": path[-1],
                     "path": path, "path_key": path_key(path), "headcount": headcount,
                     "key_enterprise": False, "union_status": "own" if own else "covered",
                     "union_code": union, "status": "active"})
    org_rows = [{"code": c, "name": c, "kind": k, "tier": t, "parent_code": p,
                 "path": path, "path_key": path_key(path)}
                for c, p, k, t, path in orgs]
    return org_rows, rows


def members_csv(path, n_members, enterprise_rows, seed=11):
    """``n_members`` rows over the enterprises by headcount, random order, 0.1% bad."""
    if path.exists():
        return path
    rng = random.Random(seed)
    codes = [row["credit_code"] for row in enterprise_rows]
    weights = [row["headcount"] for row in enterprise_rows]
    chosen = rng.choices(codes, weights=weights, k=n_members)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    with open(tmp, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(("name", "id_number", "phone", "enterprise_credit_code"))
        for i in range(n_members):
            d = i // 900  # 900 sequence numbers per birth date: every number unique
            body = f"440307{1960 + d // 336}{d // 28 % 12 + 1:02d}{d % 28 + 1:02d}" \
                   f"{i % 900 + 100:03d}"
            id_number = body + id_check_digit(body)
            phone = f"1{rng.randrange(3, 10)}{rng.randrange(10**9):09d}"
            if i % 1000 == 999:  # a mistyped digit: the import must report it
                id_number = id_number[:17] + ("0" if id_number[17] != "0" else "1")
            name = rng.choice(SURNAMES) + "".join(rng.choices(GIVEN, k=rng.randint(1, 2)))
            writer.writerow((name, id_number, phone, chosen[i]))
    tmp.rename(path)
    return path


def query_latency(db, codes, n=10000):
    timings = []
    with db.session() as session:
        for code in random.Random(3).choices(codes, k=n):
            start = time.perf_counter()
            views.join_rate(session, code)
            timings.append((time.perf_counter() - start) * 1000)
    return timings


def rpc_latency(url, codes, n):
    """Sequential RPC calls in a child process (nameko needs eventlet; COPY must not)."""
    import subprocess
    import tempfile

    with tempfile.NamedTemporaryFile("w", suffix=".json") as handle:
        json.dump(codes, handle)
        handle.flush()
        child = subprocess.run(
            [sys.executable, __file__, "--rpc-url", url, "--rpc-calls", str(n),
             "--codes", handle.name], capture_output=True, text=True, check=True)
    return json.loads(child.stdout.strip().splitlines()[-1])


def _rpc_child(url, codes, n):
    with broker_vhost("gonghui-bench-membership") as amqp_uri:
        return _rpc_calls(url, codes, n, amqp_uri)


def _rpc_calls(url, codes, n, amqp_uri):
    from nameko.containers import ServiceContainer
    from nameko.standalone.rpc import ClusterRpcProxy

    from services.membership.service import MembershipService
    from shared.testing import free_port

    config = {"AMQP_URI": amqp_uri, "DATABASE_URL": url, "DATABASE_MIGRATE": False,
              "WEB_SERVER_ADDRESS": f"127.0.0.1:{free_port()}", "max_workers": 10,
              "MEMBERSHIP_PII_KEY": "22" * 32}
    container = ServiceContainer(MembershipService, config)
    container.start()
    timings = []
    try:
        _wait_for_empty_outbox(url)  # the import's events go out first, not during the calls
        with ClusterRpcProxy(config) as rpc:
            for code in codes[:50]:
                rpc.membership.join_rate(code)  # warm up
            for code in random.Random(5).choices(codes, k=n):
                start = time.perf_counter()
                rpc.membership.join_rate(code)
                timings.append((time.perf_counter() - start) * 1000)
    finally:
        container.stop()
    return timings


def _wait_for_empty_outbox(url, timeout=300):
    from sqlalchemy import func, select

    from shared.db import outbox_table

    db = open_database(url, "membership", run_migrations=False)
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            with db.session() as session:
                if not session.execute(select(func.count()).where(
                        outbox_table.c.published_at.is_(None))).scalar():
                    return
            time.sleep(0.5)
    finally:
        db.engine.dispose()


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--members", type=int, default=2_000_000)
    parser.add_argument("--enterprises", type=int, default=320_000)
    parser.add_argument("--batch-size", type=int, default=importer.BATCH)
    parser.add_argument("--rpc-calls", type=int, default=2000)
    parser.add_argument("--progress", action="store_true")
    parser.add_argument("--batched", action="store_true",
                        help="commit batch by batch, as into a database already in use, "
                             "instead of the initial load into an empty one")
    parser.add_argument("--writers", type=int, default=2,
                        help="PostgreSQL connections writing batches at once")
    parser.add_argument("--one-process", action="store_true",
                        help="check rows in this process instead of a forked checker")
    parser.add_argument("--rpc-url", help=argparse.SUPPRESS)
    parser.add_argument("--codes", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.rpc_url:
        with open(args.codes) as handle:
            codes = json.load(handle)
        print(json.dumps(_rpc_child(args.rpc_url, codes, args.rpc_calls)))
        return

    with database("postgresql") as url:
        run(args, url)


def run(args, url):
    db = open_database(url, "membership", MIGRATIONS)
    org_rows, enterprise_rows = district(args.enterprises)
    with db.unit_of_work() as uow:
        uow.session.execute(insert(organizations), org_rows)
        uow.session.execute(insert(enterprises), enterprise_rows)
        readmodel.rebuild_counters(uow.session)
    workers = sum(row["headcount"] for row in enterprise_rows)
    source = members_csv(OUT / f"members-{args.members}-{args.enterprises}.csv",
                         args.members, enterprise_rows)
    report = OUT / "membership-import-errors.csv"
    load = round(os.getloadavg()[0], 2)
    start = time.perf_counter()
    result = importer.import_file(db, MemberKeys(bytes(range(32))), source, report, args.batch_size,
                                  progress=args.progress, checker_process=not args.one_process,
                                  writers=args.writers, initial_load=not args.batched)
    seconds = time.perf_counter() - start
    rate = result.imported / seconds
    print(f"import: {result.rows:,} rows, {result.imported:,} imported, "
          f"{result.rejected:,} rejected (report {report}) in {seconds:.1f} s "
          f"= {rate:,.0f} rows/s; {result.batches} batches of {args.batch_size:,}; "
          f"load average {load} at the start")
    for phase, spent in sorted(result.seconds.items(), key=lambda item: -item[1]):
        print(f"  {phase}: {spent:.1f} s")
    with db.session() as session:
        district_rate = views.join_rate(session, "longgang")
    print(f"district join rate: {district_rate.members:,} / {district_rate.workers:,} "
          f"workers ({workers:,} in the read model)")
    codes = [row["code"] for row in org_rows][:20000] + [
        row["credit_code"] for row in enterprise_rows[:5000]]
    local = query_latency(db, codes)
    print(f"join_rate in-process ({len(local):,} queries): p50 "
          f"{percentile(local, 0.5):.2f} ms, p99 {percentile(local, 0.99):.2f} ms")
    db.engine.dispose()
    remote = rpc_latency(url, codes, args.rpc_calls) if args.rpc_calls else [0.0]
    print(f"join_rate over nameko RPC ({len(remote):,} sequential calls): p50 "
          f"{percentile(remote, 0.5):.2f} ms, p99 {percentile(remote, 0.99):.2f} ms")
    emit("membership_import", {
        "members": args.members, "enterprises": args.enterprises,
        "mode": "batched" if args.batched else "initial load",
        "imported": result.imported, "rejected": result.rejected,
        "import_seconds": round(seconds, 1), "import_rows_per_second": round(rate),
        "target_import_seconds": 60, "load_average_at_start": load,
        "import_phase_seconds": result.seconds,
        "join_rate_p50_ms": round(percentile(local, 0.5), 3),
        "join_rate_p99_ms": round(percentile(local, 0.99), 3),
        "join_rate_rpc_p50_ms": round(percentile(remote, 0.5), 2),
        "join_rate_rpc_p99_ms": round(percentile(remote, 0.99), 2),
        "target_p99_ms": 10})


if __name__ == "__main__":
    main()
