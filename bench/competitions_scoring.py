"""A street final at scale: judges' scores posted through the gateway, then close -> ranking.

    .venv/bin/python bench/competitions_scoring.py [--contestants 200] [--judges 9]
        [--concurrency 50] [--backend postgresql|sqlite] [--quick] [--profile DIR]

Makes a throwaway vhost and throwaway databases; seeds the competitions database through
its own use cases (a district, a street, a community, the members' read model, an edition
whose nomination and qualification rounds have run, ``--contestants`` finalists in the
street's final across the five groups, ``--judges`` judges), gateway users for the judges
and the street's staff; starts the competitions service and the gateway as the container
command does (one process each). The street's staff open the final; then every judge's
score of every contestant (5 criteria each) is posted to
``POST /api/v1/competitions/rounds/<id>/scores`` by ``--concurrency`` green threads at
once, as fast as they are answered (each judge's tablet in turn, judges interleaved).
The staff then close the round and read the ranking.

Figures: scores/s (201/200 answers over the posting time), p50/p99 of one save, errors;
round close -> ranking published (the close call, which ranks and freezes, and the first
ranking read), and the ranking read alone; CPU milliseconds per saved score spent in the
gateway, the competitions service, PostgreSQL, RabbitMQ and this client while posting
(PostgreSQL and RabbitMQ are machine-wide: other work on the machine counts too).
``--quick``: 40 contestants, 5 judges, concurrency 10 (a minute's check). Target (issue 9):
save p99 <= 100 ms at 50 concurrent judges, ranking <= 1 s.
"""

import sys
from pathlib import Path

import eventlet

eventlet.monkey_patch()
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import argparse  # noqa: E402
import os  # noqa: E402
import time  # noqa: E402
from contextlib import ExitStack  # noqa: E402
from datetime import UTC, datetime  # noqa: E402

import requests  # noqa: E402

from bench._support import (  # noqa: E402
    broker_vhost,
    database,
    emit,
    ms,
    percentile,
    wait_ready,
)
from bench.disputes_reports import (  # noqa: E402  (one way to run and measure a service)
    OTHERS,
    cpu_seconds,
    cpu_seconds_of,
    start,
    stop,
)
from shared.caller import Caller  # noqa: E402
from shared.db import migrate, open_database  # noqa: E402
from shared.testing import free_port  # noqa: E402

DISTRICT, STREET = "longgang", "longgang.bantian"
COMMUNITY, INDUSTRY = "longgang.bantian.nankeng", "longgang.construction"
ENTERPRISE = "91440300MA5BENCH01"
ADMIN = Caller("bench-admin", "admin", DISTRICT)
GROUPS = ("innovation", "team_management", "talent", "contribution", "frontline")
FACTS = {"years_on_front_line": 12, "years_in_district": 12, "birth_year": 1985,
         "team_leader": True}


def organization(code, name, kind, tier, path):
    return {"code": code, "name": name, "kind": kind, "tier": tier,
            "parent_code": path[-2] if len(path) > 1 else None, "path": path,
            "party_organization": None}


def seed_competitions(url, contestants, judges) -> dict:
    """Everything up to an open street final, written through the service's use cases."""
    from services.competitions import operations, readmodel
    from services.competitions.service import MIGRATIONS

    now = datetime.now(UTC)
    db = open_database(url, "competitions", MIGRATIONS)
    with db.unit_of_work() as uow:
        for data in (organization(DISTRICT, "龙岗区总工会", "district_federation", "district",
                                  [DISTRICT]),
                     organization(STREET, "坂田街道总工会", "street_federation", "street",
                                  [DISTRICT, STREET]),
                     organization(COMMUNITY, "南坑社区工联会", "community_federation",
                                  "community", [DISTRICT, STREET, COMMUNITY]),
                     organization(INDUSTRY, "龙岗区建筑业工会", "industry_union", "district",
                                  [DISTRICT, INDUSTRY])):
            readmodel.registry.apply_organization(uow.session, data, now)
        readmodel.registry.apply_enterprise(uow.session, {
            "credit_code": ENTERPRISE, "name": "基准测试企业", "community_code": COMMUNITY,
            "path": [DISTRICT, STREET, COMMUNITY], "headcount": 5000, "key_enterprise": False,
            "union_status": "covered", "union_code": COMMUNITY, "status": "active"}, now)
        for worker in range(1, contestants + 1):
            readmodel.memberships.apply_membership(uow.session, {
                "membership_id": worker, "worker_id": worker, "union_code": COMMUNITY,
                "enterprise_credit_code": ENTERPRISE,
                "organization_path": [DISTRICT, STREET, COMMUNITY], "status": "active"}, now)
    with db.unit_of_work() as uow:
        operations.create_edition(uow, {"id": "2016", "year": 2016, "title": "基准测试",
                                        "rules_version": None}, ADMIN, now)
    rounds = {(r["stage"], r["organization_code"]): r["id"]
              for r in db_read(db, operations.edition_rounds, "2016")}
    with db.unit_of_work() as uow:
        operations.open_round(uow, rounds["nomination", DISTRICT], ADMIN, now)
    with db.unit_of_work() as uow:
        for worker in range(1, contestants + 1):
            operations.submit_nomination(uow, {
                "edition_id": "2016", "group": GROUPS[worker % len(GROUPS)],
                "worker_id": worker, "name": f"选手{worker}",
                "enterprise_credit_code": ENTERPRISE, "nominated_by": COMMUNITY,
                "statement": "基准测试", "attachments": [], "facts": FACTS}, ADMIN, now)
    for stage, action in (("nomination", "close"), ("qualification", "open"),
                          ("qualification", "close")):
        with db.unit_of_work() as uow:
            getattr(operations, f"{action}_round")(uow, rounds[stage, DISTRICT], ADMIN, now)
    final = rounds["street_final", STREET]
    with db.unit_of_work() as uow:
        for number in range(1, judges + 1):
            operations.register_judge(uow, final, {"name": f"评委{number}",
                                                   "user_name": f"judge{number}",
                                                   "organization_code": INDUSTRY}, ADMIN, now)
    from services.competitions import views

    detail = db_read(db, views.round_view, final, ADMIN)
    db.engine.dispose()
    return {"round": final, "contestants": [(c["id"], c["group"])
                                            for c in detail["contestants"]]}


def db_read(db, view, *args):
    with db.session() as session:
        return view(session, *args)


def criteria_of() -> dict:
    from services.competitions import policy

    return {group["code"]: [c["code"] for c in group["criteria"]]
            for group in policy.default_body()["groups"]}


def seed_gateway(url, judges) -> dict:
    from services.gateway import accounts
    from services.gateway.service import MIGRATIONS

    migrate(url, MIGRATIONS)
    db = open_database(url, "gateway", run_migrations=False)
    people = {"staff": ("staff", STREET),
              **{f"judge{n}": ("judge", INDUSTRY) for n in range(1, judges + 1)}}
    with db.unit_of_work() as uow:
        tokens = {name: accounts.create_user(uow.session, name, role, org)[1]
                  for name, (role, org) in people.items()}
    db.engine.dispose()
    return tokens


def post_scores(base, round_id, tokens, contestants, judges, concurrency) -> list:
    """Every judge's score of every contestant, ``concurrency`` at once; [(seconds, status)]."""
    criteria = criteria_of()
    work = eventlet.queue.LightQueue()
    for index, (contestant, group) in enumerate(contestants):
        for judge in range(1, judges + 1):
            level = 5 + (index * 7 + judge * 3) % 50 / 10
            work.put((judge, contestant, {code: level for code in criteria[group]}))
    results = []

    def poster():
        session = requests.Session()
        while True:
            try:
                judge, contestant, values = work.get_nowait()
            except eventlet.queue.Empty:
                return
            started = time.perf_counter()
            response = session.post(
                f"{base}/api/v1/competitions/rounds/{round_id}/scores",
                json={"contestant_id": contestant, "score_id": f"bench-{judge}-{contestant}",
                      "values": values, "comment": ""},
                headers={"Authorization": f"Bearer {tokens[f'judge{judge}']}"}, timeout=30)
            results.append((time.perf_counter() - started, response.status_code))

    pool = eventlet.GreenPool(concurrency)
    for _ in range(concurrency):
        pool.spawn(poster)
    pool.waitall()
    return results


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--contestants", type=int, default=200)
    parser.add_argument("--judges", type=int, default=9)
    parser.add_argument("--concurrency", type=int, default=50,
                        help="scores in flight at once (judges' tablets posting)")
    parser.add_argument("--backend", default="postgresql", choices=("postgresql", "sqlite"))
    parser.add_argument("--quick", action="store_true",
                        help="40 contestants, 5 judges, concurrency 10")
    parser.add_argument("--profile", metavar="DIR",
                        help="run both services under cProfile, stats to DIR/<service>.prof")
    args = parser.parse_args(argv)
    if args.quick:
        args.contestants, args.judges, args.concurrency = 40, 5, 10
    if args.profile:
        Path(args.profile).mkdir(parents=True, exist_ok=True)

    with ExitStack() as stack:
        amqp_uri = stack.enter_context(broker_vhost("gonghui-bench-competitions"))
        urls = {name: stack.enter_context(database(args.backend))
                for name in ("competitions", "gateway")}
        seeded = seed_competitions(urls["competitions"], args.contestants, args.judges)
        tokens = seed_gateway(urls["gateway"], args.judges)
        ports = {name: free_port() for name in urls}
        processes = []
        stack.callback(stop, processes)
        for name in urls:
            profile = args.profile and str(Path(args.profile) / f"{name}.prof")
            processes.append(start(name, urls[name], amqp_uri, ports[name], profile=profile))
        for name in urls:
            wait_ready(ports[name])
        base = f"http://127.0.0.1:{ports['gateway']}"
        staff = {"Authorization": f"Bearer {tokens['staff']}"}
        round_url = f"{base}/api/v1/competitions/rounds/{seeded['round']}"
        for _ in range(60):  # until the gateway's first call finds the service's queue
            opened = requests.post(f"{round_url}/open", json={}, headers=staff, timeout=30)
            if opened.status_code != 503:
                break
            time.sleep(0.5)
        assert opened.status_code == 200, opened.text
        print(f"services up on {args.backend}: {args.contestants} contestants x "
              f"{args.judges} judges x 5 criteria, {args.concurrency} posting at once",
              flush=True)

        names = list(urls)
        cpu_before = {name: cpu_seconds(p.pid) for name, p in zip(names, processes, strict=True)}
        others_before = {name: cpu_seconds_of(commands) for name, commands in OTHERS.items()}
        client_before = sum(os.times()[:2])
        started = time.perf_counter()
        results = post_scores(base, seeded["round"], tokens, seeded["contestants"],
                              args.judges, args.concurrency)
        posting = time.perf_counter() - started
        saved = [seconds for seconds, status in results if status == 200]
        # Where the time goes: CPU per saved score in each process, while posting only.
        per_score = 1000 / max(1, len(saved))
        cpu = {name: round((cpu_seconds(p.pid) - cpu_before[name]) * per_score, 1)
               for name, p in zip(names, processes, strict=True)}
        cpu.update({name: round((cpu_seconds_of(commands) - others_before[name]) * per_score, 1)
                    for name, commands in OTHERS.items()})
        cpu["bench client"] = round((sum(os.times()[:2]) - client_before) * per_score, 1)
        load = os.getloadavg()[0]

        closing = time.perf_counter()
        closed = requests.post(f"{round_url}/close", json={}, headers=staff, timeout=60)
        assert closed.status_code == 200, closed.text
        ranking = requests.get(f"{round_url}/ranking", headers=staff, timeout=60)
        close_to_ranking = time.perf_counter() - closing
        assert ranking.status_code == 200, ranking.text
        reading = time.perf_counter()
        requests.get(f"{round_url}/ranking", headers=staff, timeout=60)
        ranking_read = time.perf_counter() - reading
        ranked = sum(len(group["entries"]) for group in ranking.json()["groups"])

        figures = {
            "backend": args.backend, "contestants": args.contestants, "judges": args.judges,
            "criteria": 5, "concurrency": args.concurrency,
            "posted": len(results), "saved": len(saved), "errors": len(results) - len(saved),
            "scores_per_s": round(len(saved) / posting, 1),
            "save_p50_ms": ms(percentile(saved, 0.5)),
            "save_p99_ms": ms(percentile(saved, 0.99)),
            "close_to_ranking_ms": ms(close_to_ranking),
            "ranking_read_ms": ms(ranking_read), "ranked": ranked,
            "cpu_ms_per_score": cpu, "load_average_1min": round(load, 2),
        }
        print(f"saved {figures['saved']:,} of {figures['posted']:,} scores "
              f"({figures['errors']} errors): {figures['scores_per_s']} scores/s, save p50 "
              f"{figures['save_p50_ms']} ms, p99 {figures['save_p99_ms']} ms")
        print(f"round close -> ranking: {figures['close_to_ranking_ms']} ms "
              f"({ranked} ranked); ranking read alone {figures['ranking_read_ms']} ms")
        print("CPU per score: " + ", ".join(f"{name} {value} ms" for name, value
                                           in cpu.items()) + f" (load average {load:.2f})")
        emit("competitions_scoring", figures)


if __name__ == "__main__":
    main()
