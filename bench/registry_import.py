"""Import of a district's enterprises through the registry's importer, then subtree
statistics latency at district, street and community level.

    .venv/bin/python bench/registry_import.py [--enterprises 320000]
        [--communities-per-street 50] [--backends sqlite,postgresql] [--queries 2000]
        [--rpc-calls 1000]

Per backend, in a throwaway database: registers the sample district's organizations
(``services/registry/sample.py``) plus generated communities up to
``--communities-per-street`` under each of the 11 streets, then imports ``--enterprises``
rows from the sample generator (valid credit codes, district-shaped sizes and union
coverage; each row placed in a community of its own street) with
``importer.import_rows``, as ``gonghui registry import`` does: rows/s.

Then ``statistics(code)`` latency, p50/p99 per level (target p99 <= 10 ms):
(a) the domain call in a session, as the service runs it; (b) sequential nameko RPC
calls to a RegistryService on the broker (a child process under eventlet, in a vhost of
its own), beside the floor: as many calls to a service that does nothing, meanwhile.
The import's events are marked published first: the relay catching up on 320,000
events is outbox_relay.py's subject, not this one's.

Prints figures, then one JSON line.
"""

import sys

if "--rpc-child" in sys.argv:  # the RPC half runs in its own process, under eventlet
    import eventlet

    eventlet.monkey_patch()

import argparse  # noqa: E402
import json  # noqa: E402
import random  # noqa: E402
import subprocess  # noqa: E402
import time  # noqa: E402

from _support import (  # noqa: E402
    backends,
    broker_vhost,
    database,
    emit,
    ms,
    percentile,
    rpc_with_floor,
)
from sqlalchemy import func, select, update  # noqa: E402

from services.registry import importer, sample, views  # noqa: E402
from services.registry.service import MIGRATIONS  # noqa: E402
from shared.db import open_database, outbox_table  # noqa: E402

LEVELS = ("district", "street", "community")


def tree(communities_per_street):
    """register_organization inputs: the sample's, then generated communities."""
    items = sample.district_organizations()
    by_street = {}
    for street_code, street, communities in sample.STREETS:
        parent = f"{sample.DISTRICT}.{street_code}"
        codes = [f"{parent}.{code}" for code, _, _ in communities]
        for n in range(len(communities) + 1, communities_per_street + 1):
            code = f"{parent}.c{n:02d}"
            codes.append(code)
            items.append({
                "code": code, "name": f"{street}第{n}社区工会联合会",
                "kind": "community_federation", "parent_code": parent,
                "party_organization": {"name": f"中共深圳市龙岗区{street}街道第{n}社区综合委员会",
                                       "kind": "community_party_committee"},
            })
        by_street[street_code] = codes
    return items, by_street


def enterprise_rows(total, by_street, seed=sample.SEED):
    """The sample generator's rows (南坑 kept as is), spread over each street's communities."""
    rng = random.Random(seed + 1)
    for number, row in enumerate(sample.generate_enterprises(total), start=1):
        community = row["community_code"]
        if community != sample.NANKENG:
            street = community.split(".")[1]
            moved = rng.choice(by_street[street])
            if row.get("union_code") == community:  # covered by its community's federation
                row["union_code"] = moved
            row["community_code"] = moved
        yield number, row


def codes_by_level(by_street):
    return {
        "district": [sample.DISTRICT],
        "street": [f"{sample.DISTRICT}.{street}" for street in by_street],
        "community": [code for codes in by_street.values() for code in codes],
    }


def latencies(call, codes, count, seed):
    timings = []
    for code in random.Random(seed).choices(codes, k=count):
        started = time.perf_counter()
        call(code)
        timings.append(time.perf_counter() - started)
    return timings


def summary(timings):
    return {"p50_ms": ms(percentile(timings, 0.5)), "p99_ms": ms(percentile(timings, 0.99)),
            "calls": len(timings)}


def direct_statistics(db, levels, count):
    def call(code):
        with db.session() as session:
            return views.statistics(session, code)

    for codes in levels.values():  # warm up: connections, caches
        for code in codes[:20]:
            call(code)
    return {level: summary(latencies(call, codes, count, seed=11))
            for level, codes in levels.items()}


def rpc_statistics(url, amqp_uri, levels, count):
    """Sequential RPC calls, measured in a child process (nameko runs under eventlet)."""
    child = subprocess.run(
        [sys.executable, __file__, "--rpc-child", "--database-url", url, "--amqp-uri", amqp_uri,
         "--codes", json.dumps(levels), "--rpc-calls", str(count)],
        capture_output=True, text=True)
    if child.returncode:
        raise SystemExit(f"RPC child failed:\n{child.stderr[-3000:]}")
    return json.loads(child.stdout.strip().splitlines()[-1])


def rpc_child(url, amqp_uri, levels, count):
    from services.registry.service import RegistryService

    with rpc_with_floor(RegistryService, url, amqp_uri) as cluster:
        for codes in levels.values():
            for code in codes[:20]:
                cluster.registry.statistics(code)  # warm up
                cluster.ping.ping(code)
        result = {level: summary(latencies(cluster.registry.statistics, codes, count,
                                           seed=13))
                  for level, codes in levels.items()}
        result["trivial_rpc_floor"] = summary(
            latencies(cluster.ping.ping, levels["community"], count, seed=17))
    print(json.dumps(result))


def run_backend(backend, args):
    with database(backend) as url:
        db = open_database(url, "registry", MIGRATIONS)
        organizations, by_street = tree(args.communities_per_street)
        sample.register_organizations(db, organizations)
        levels = codes_by_level(by_street)
        print(f"{backend}: {len(organizations)} organizations, "
              f"{len(levels['community'])} communities or parks", flush=True)

        done = [0, time.perf_counter()]

        def progress(n):
            done[0] += n
            if done[0] % 40_000 < n:
                print(f"  {done[0]:,} rows, {done[0] / (time.perf_counter() - done[1]):,.0f}"
                      " rows/s so far", flush=True)

        started = time.perf_counter()
        report = importer.import_rows(db, enterprise_rows(args.enterprises, by_street),
                                      sample.LOADER, progress=progress)
        elapsed = time.perf_counter() - started
        if report.rejected or report.created != args.enterprises:
            raise SystemExit(f"import: {report.created} created, {report.rejected} rejected: "
                             f"{report.errors[:3]}")
        with db.session() as session:
            totals = views.statistics(session, sample.DISTRICT)
            events = session.execute(select(func.count()).select_from(outbox_table)).scalar()
        result = {"rows": report.rows, "seconds": round(elapsed, 1),
                  "rows_per_s": round(report.rows / elapsed), "events_in_outbox": events,
                  "district": totals}
        print(f"import {backend}: {report.rows:,} rows in {elapsed:.1f}s = "
              f"{result['rows_per_s']:,} rows/s; district {totals['enterprises']:,} "
              f"enterprises, {totals['workers']:,} workers, establishment rate "
              f"{totals['establishment_rate']}", flush=True)
        with db.unit_of_work() as uow:
            uow.session.execute(update(outbox_table).values(published_at=func.now()))

        result["direct"] = direct_statistics(db, levels, args.queries)
        db.engine.dispose()
        with broker_vhost() as amqp_uri:
            result["rpc"] = rpc_statistics(url, amqp_uri, levels, args.rpc_calls)
        for way in ("direct", "rpc"):
            figures = ", ".join(f"{level} p50 {result[way][level]['p50_ms']} / p99 "
                                f"{result[way][level]['p99_ms']} ms" for level in LEVELS)
            print(f"statistics {backend} {way}: {figures}", flush=True)
        floor = result["rpc"]["trivial_rpc_floor"]
        print(f"a nameko RPC doing nothing, meanwhile: p50 {floor['p50_ms']} / p99 "
              f"{floor['p99_ms']} ms", flush=True)
        return result


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--enterprises", type=int, default=320_000)
    parser.add_argument("--communities-per-street", type=int, default=50)
    parser.add_argument("--backends", default="sqlite,postgresql", type=backends)
    parser.add_argument("--queries", type=int, default=2000, help="direct calls per level")
    parser.add_argument("--rpc-calls", type=int, default=1000, help="RPC calls per level")
    parser.add_argument("--rpc-child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--database-url", help=argparse.SUPPRESS)
    parser.add_argument("--amqp-uri", help=argparse.SUPPRESS)
    parser.add_argument("--codes", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.rpc_child:
        rpc_child(args.database_url, args.amqp_uri, json.loads(args.codes), args.rpc_calls)
        return
    results = {backend: run_backend(backend, args) for backend in args.backends}
    worst = max(result[way][level]["p99_ms"] for result in results.values()
                for way in ("direct", "rpc") for level in LEVELS)
    print(f"worst statistics p99: {worst} ms (target <= 10 ms)")
    emit("registry_import", {"enterprises": args.enterprises, **results,
                             "worst_statistics_p99_ms": worst,
                             "target_p99_met": worst <= 10})


if __name__ == "__main__":
    main()
