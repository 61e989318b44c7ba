"""Activity reports at district scale, statistics of distinct workers reached, and
concurrent fund awards (issue 10, section 7).

    .venv/bin/python bench/incubation_activities.py [--activities 100000]
        [--beneficiaries 1000000] [--backend postgresql] [--queries 2000]
        [--rpc-calls 1000] [--range-queries 200] [--awards 200] [--quick]

In a throwaway database (and broker vhost for the RPC half):

1. a district in the registry read model (11 streets, ``--communities-per-street``
   communities each), 300 social organizations admitted for incubation, 200,000 members
   in the membership read model;
2. ``--activities`` activity reports with ``--beneficiaries`` beneficiary rows in all,
   over three years, posted through ``operations.report_activities`` (500 a unit of
   work, each with its ``activity_reported`` event): 40% of the beneficiaries are members
   (membership's worker numbers, linked), the rest people of the reporting organization,
   both drawn so that regulars come back. Activities/s and beneficiary rows/s;
3. the statistics (distinct workers reached, activities ...) for random places (district,
   street, community) and periods (all, a year, a quarter, a month), p50/p99: (a) in a
   session as the service reads them, (b) over nameko RPC to an IncubationService (a
   child process under eventlet). Target p99 <= 50 ms. The district's and a community's
   figures are checked against COUNT(DISTINCT ...) over the beneficiary rows. Then
   ``--range-queries`` statistics for random 90-day ranges (counted from the activities:
   no kept count spans arbitrary days), p50/p99, and a whole year's range against the
   kept year;
4. ``--awards`` reviewed applications of 30,000 yuan against a fund of 1,000,000 yuan
   (room for 33), all awarded at once over RPC: attempts, awarded, refused, overspend
   (target 0) and whether the fund's ledger balances.

``--quick``: 10,000 activities with 100,000 beneficiaries, fewer queries. Prints figures,
then one JSON line.
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
from datetime import date, timedelta  # noqa: E402
from decimal import Decimal  # noqa: E402

from _support import (  # noqa: E402
    broker_vhost,
    database,
    emit,
    ms,
    percentile,
    rpc_with_floor,
)
from sqlalchemy import func, select, update  # noqa: E402

from services.incubation import operations, readmodel, views  # noqa: E402
from services.incubation.models import (  # noqa: E402
    activities,
    beneficiaries,
    funds,
    members,
)
from services.incubation.service import MIGRATIONS  # noqa: E402
from shared.api.registry import credit_code_check_digit  # noqa: E402
from shared.caller import Caller  # noqa: E402
from shared.db import open_database, outbox_table  # noqa: E402
from shared.timeutil import now_utc  # noqa: E402

DISTRICT = "longgang"
STREETS = ("pinghu", "bantian", "buji", "nanwan", "henggang", "longcheng", "longgang",
           "pingdi", "jihua", "baolong", "yuanshan")
KINDS = ("legal_aid", "counselling", "culture_sports", "skills", "volunteering",
         "hardship_care", "family")
ORGANIZATIONS = 300
MEMBERS = 200_000
BATCH = 500
STAFF = Caller("bench", "admin", DISTRICT)
AWARD, BUDGET = Decimal("30000.00"), Decimal("1000000.00")


def social_credit_code(number: int) -> str:
    first17 = f"52440307MJL{number:06d}"
    return first17 + credit_code_check_digit(first17)


def tree(db, per_street) -> dict:
    """The registry read model; {level: [codes]}."""
    levels = {"district": [DISTRICT], "street": [], "community": []}
    with db.unit_of_work() as uow:
        readmodel.apply_organization(uow.session, {
            "code": DISTRICT, "name": "龙岗区总工会", "kind": "district_federation",
            "tier": "district", "parent_code": None, "path": [DISTRICT]}, None)
        for street in STREETS:
            code = f"{DISTRICT}.{street}"
            levels["street"].append(code)
            readmodel.apply_organization(uow.session, {
                "code": code, "name": code, "kind": "street_federation", "tier": "street",
                "parent_code": DISTRICT, "path": [DISTRICT, code]}, None)
            for number in range(per_street):
                child = f"{code}.c{number:02d}"
                levels["community"].append(child)
                readmodel.apply_organization(uow.session, {
                    "code": child, "name": child, "kind": "community_federation",
                    "tier": "community", "parent_code": code,
                    "path": [DISTRICT, code, child]}, None)
    return levels


def organizations(db, communities, rng) -> list[dict]:
    made = []
    for number in range(ORGANIZATIONS):
        home = rng.choice(communities)
        with db.unit_of_work() as uow:
            created = operations.add_organization(uow, {
                "name": f"职工服务社会组织{number:03d}", "service_kind": KINDS[number % 7],
                "home_code": home, "places": [], "contacts": [],
                "credit_code": social_credit_code(number + 1), "registered_on": None,
                "hub": False, "reason": "bench", "applied_on": None}, STAFF)
            operations.change_stage(uow, created["id"], {
                "stage": "admitted", "reason": "bench", "effective_on": None, "plan": None,
                "incubation_deadline": None}, STAFF)
        made.append({"id": created["id"], "home": home, "kind": KINDS[number % 7]})
    return made


def fill_members(db):
    path = [DISTRICT, f"{DISTRICT}.bantian", f"{DISTRICT}.bantian.c00"]
    rows = [(worker_id, worker_id, "active", path[-1], "91440300MA5DA0001X", json.dumps(path))
            for worker_id in range(1, MEMBERS + 1)]
    with db.unit_of_work() as uow:
        operations.bulk_insert(uow.session, members, ("worker_id", "membership_id", "status",
                                                      "union_code", "enterprise_credit_code",
                                                      "path"), rows)


def activity_items(orgs, streets, total, rows, rng):
    """Activities over three years ending yesterday, ``rows`` beneficiaries in all. A
    member comes to activities in their own street (the members are spread over the
    streets); anyone else is one of the reporting organization's own people."""
    last = date.today() - timedelta(days=1)
    per_activity = rows / total
    street_index = {street: number for number, street in enumerate(sorted(streets))}
    per_street = MEMBERS // len(streets)
    sizes = [max(1, round(rng.gauss(per_activity, per_activity / 4))) for _ in range(total)]
    missing = rows - sum(sizes)
    while missing:  # exactly ``rows`` in all, the sizes still spread
        index, step = rng.randrange(total), 1 if missing > 0 else -1
        if sizes[index] + step >= 1:
            sizes[index] += step
            missing -= step
    for number in range(total):
        organization = orgs[number % len(orgs)]
        home_street = ".".join(organization["home"].split(".")[:2])
        place = (organization["home"] if rng.random() < 0.7
                 else rng.choice(streets[home_street]))
        named = sizes[number]
        people = set()
        while len(people) < named:
            if rng.random() < 0.4:  # a member, regulars more often (squared draw)
                people.add(("m", 1 + street_index[home_street] * per_street
                            + int(per_street * rng.random() ** 2)))
            else:
                people.add(("r", f"P{int(4000 * rng.random() ** 2)}"))
        yield {"organization_id": organization["id"], "kind": organization["kind"],
               "title": "职工服务活动", "held_on": last - timedelta(days=rng.randrange(1095)),
               "place_code": place, "hours": Decimal("2.0"), "participants": named + 10,
               "beneficiaries": [{"worker_id": value, "ref": None} if kind == "m"
                                 else {"worker_id": None, "ref": value}
                                 for kind, value in people]}


def post_activities(db, items, total, rows_wanted):
    started, posted, rows, batch = time.perf_counter(), 0, 0, []
    for item in items:
        batch.append(item)
        if len(batch) == BATCH:
            rows += _post(db, batch)
            posted += len(batch)
            batch = []
            if posted % 10_000 == 0:
                print(f"  {posted:,} activities, {rows:,} beneficiaries, "
                      f"{posted / (time.perf_counter() - started):,.0f} activities/s so far",
                      flush=True)
    if batch:
        rows += _post(db, batch)
        posted += len(batch)
    seconds = time.perf_counter() - started
    return {"activities": posted, "beneficiary_rows": rows, "seconds": round(seconds, 1),
            "activities_per_s": round(posted / seconds),
            "beneficiary_rows_per_s": round(rows / seconds)}


def _post(db, batch) -> int:
    with db.unit_of_work() as uow:
        operations.report_activities(uow, batch, STAFF)
    return sum(len(item["beneficiaries"]) for item in batch)


def queries(levels, count, seed) -> list[tuple[str, str, str]]:
    """(level, code, period) at random: places of every level, periods of every kind."""
    rng = random.Random(seed)
    this_year = date.today().year
    years = [str(year) for year in range(this_year - 3, this_year + 1)]
    chosen = []
    for _ in range(count):
        level = rng.choice(list(levels))
        year = rng.choice(years)
        period = rng.choice(["all", year, f"{year}-Q{rng.randint(1, 4)}",
                             f"{year}-{rng.randint(1, 12):02d}"])
        chosen.append((level, rng.choice(levels[level]), period))
    return chosen


def summary(timings) -> dict:
    return {"p50_ms": ms(percentile(timings, 0.5)), "p99_ms": ms(percentile(timings, 0.99)),
            "calls": len(timings)}


def by_level(asked, timings) -> dict:
    result = {level: summary([t for (lvl, _, _), t in zip(asked, timings, strict=True)
                              if lvl == level]) for level in ("district", "street", "community")}
    result["all"] = summary(timings)
    return result


def direct_statistics(db, asked) -> dict:
    timings = []
    for warm in asked[:50]:
        with db.session() as session:
            views.statistics(session, warm[1], warm[2], STAFF)
    for _, code, period in asked:
        started = time.perf_counter()
        with db.session() as session:
            views.statistics(session, code, period, STAFF)
        timings.append(time.perf_counter() - started)
    return by_level(asked, timings)


def range_statistics(db, levels, count, seed) -> dict:
    """Statistics for ranges of days (counted from the activities, not kept): a random
    place of each level and a random 90-day range in the last three years; and a whole
    year's range against the kept figures for that year."""
    rng = random.Random(seed)
    today = date.today()
    asked = []
    for _ in range(count):
        level = rng.choice(list(levels))
        first = today - timedelta(days=rng.randint(90, 3 * 365))
        asked.append((level, rng.choice(levels[level]), first, first + timedelta(days=89)))
    timings = []
    for _, code, first, last in asked:
        started = time.perf_counter()
        with db.session() as session:
            views.statistics(session, code, "all", STAFF, first, last)
        timings.append(time.perf_counter() - started)
    year = today.year - 1
    with db.session() as session:
        ranged = views.statistics(session, DISTRICT, "all", STAFF, date(year, 1, 1),
                                  date(year, 12, 31))
        kept = views.statistics(session, DISTRICT, str(year), STAFF)
    return {**by_level([item[:3] for item in asked], timings),
            "whole_year_equals_kept": ranged["activities"] == kept["activities"]
            and ranged["by_kind"] == kept["by_kind"] and ranged["below"] == kept["below"]}


def exact_checks(db, levels) -> dict:
    """The kept counts against COUNT(DISTINCT) over the beneficiary rows themselves."""
    community = levels["community"][0]
    year = str(date.today().year - 1)
    with db.session() as session:
        district = views.statistics(session, DISTRICT, "all", STAFF)["activities"]
        counted = session.execute(select(func.count(func.distinct(
            beneficiaries.c.worker_key)))).scalar()
        kept_community = views.statistics(session, community, year,
                                          STAFF)["activities"]["workers_reached"]
        counted_community = session.execute(
            select(func.count(func.distinct(beneficiaries.c.worker_key)))
            .join(activities, activities.c.id == beneficiaries.c.activity_id)
            .where(activities.c.place_path_key.startswith(f"/{DISTRICT}/"
                                                          f"{'.'.join(community.split('.')[:2])}/"
                                                          f"{community}/"),
                   activities.c.held_on >= date(int(year), 1, 1),
                   activities.c.held_on <= date(int(year), 12, 31))).scalar()
    return {"district_workers_reached": district["workers_reached"],
            "district_distinct_counted": counted,
            f"{community}_{year}_kept": kept_community,
            f"{community}_{year}_counted": counted_community,
            "exact": district["workers_reached"] == counted
            and kept_community == counted_community}


def prepare_awards(db, orgs, count) -> tuple[int, list[int]]:
    with db.unit_of_work() as uow:
        fund = operations.create_fund(uow, {"name": "并发测试资金", "source": "district",
                                            "owner_code": DISTRICT, "budget": BUDGET}, STAFF)
        call = operations.open_call(uow, fund["id"], {
            "title": "并发资助", "opens_at": now_utc() - timedelta(days=1),
            "closes_at": now_utc() + timedelta(days=30), "eligibility": {},
            "max_award": None}, STAFF)
    application_ids = []
    for organization in orgs[:count]:
        with db.unit_of_work() as uow:
            application = operations.apply_to_call(uow, call["id"], {
                "organization_id": organization["id"], "project": "并发", "amount": AWARD},
                STAFF)
            operations.review_application(uow, application["id"],
                                          {"score": Decimal("80"), "note": None}, STAFF)
        application_ids.append(application["id"])
    return fund["id"], application_ids


def rpc_child(url, amqp_uri, asked, application_ids):
    from services.incubation.service import IncubationService
    from shared.errors import Conflict

    caller = STAFF.as_dict()
    with rpc_with_floor(IncubationService, url, amqp_uri) as cluster:
        service = cluster.incubation
        for _, code, period in asked[:50]:
            service.statistics({"code": code, "period": period}, caller)
        timings, floor = [], []
        for _, code, period in asked:
            started = time.perf_counter()
            service.statistics({"code": code, "period": period}, caller)
            timings.append(time.perf_counter() - started)
            started = time.perf_counter()
            cluster.ping.ping(code)
            floor.append(time.perf_counter() - started)
        # every award at once: as many RPC requests in flight as there are applications
        replies = [service.grant_award.call_async(application_id, {}, caller)
                   for application_id in application_ids]
        awarded = refused = 0
        for reply in replies:
            try:
                reply.result()
                awarded += 1
            except Conflict:
                refused += 1
    print(json.dumps({"statistics": {**by_level(asked, timings),
                                     "trivial_rpc_floor": summary(floor)},
                      "awarded": awarded, "refused": refused}))


def run(args):
    rng = random.Random(20160501)
    with database(args.backend) as url, broker_vhost() as amqp_uri:
        db = open_database(url, "incubation", MIGRATIONS)
        levels = tree(db, args.communities_per_street)
        streets = {street: [c for c in levels["community"] if c.startswith(street + ".")]
                   for street in levels["street"]}
        orgs = organizations(db, levels["community"], rng)
        fill_members(db)
        print(f"{args.backend}: {len(levels['community'])} communities, {len(orgs)} "
              f"organizations, {MEMBERS:,} members", flush=True)
        posted = post_activities(db, activity_items(orgs, streets, args.activities,
                                                    args.beneficiaries, rng),
                                 args.activities, args.beneficiaries)
        print(f"posted {posted['activities']:,} activities with "
              f"{posted['beneficiary_rows']:,} beneficiaries in {posted['seconds']}s: "
              f"{posted['activities_per_s']:,} activities/s, "
              f"{posted['beneficiary_rows_per_s']:,} beneficiary rows/s", flush=True)
        with db.unit_of_work() as uow:  # the relay's catching up is outbox_relay.py's subject
            events = uow.session.execute(update(outbox_table).values(
                published_at=func.now())).rowcount
        checks = exact_checks(db, levels)
        print(f"exact against COUNT(DISTINCT): {checks}", flush=True)
        asked = queries(levels, args.queries, seed=11)
        direct = direct_statistics(db, asked)
        print(f"statistics, direct: {direct}", flush=True)
        ranges = range_statistics(db, levels, args.range_queries, seed=17)
        print(f"statistics for 90-day ranges, direct: {ranges}", flush=True)
        fund_id, application_ids = prepare_awards(db, orgs, args.awards)
        child = subprocess.run(
            [sys.executable, __file__, "--rpc-child", "--database-url", url, "--amqp-uri",
             amqp_uri, "--asked", json.dumps(queries(levels, args.rpc_calls, seed=13)),
             "--applications", json.dumps(application_ids)],
            capture_output=True, text=True)
        if child.returncode:
            raise SystemExit(f"RPC child failed:\n{child.stderr[-3000:]}")
        over_rpc = json.loads(child.stdout.strip().splitlines()[-1])
        print(f"statistics, over RPC: {over_rpc['statistics']}", flush=True)
        with db.session() as session:
            fund = session.execute(select(funds).where(funds.c.id == fund_id)).one()
            ledger = views.fund_ledger(session, fund_id, STAFF)
        room = int(BUDGET // AWARD)
        awards = {"attempts": len(application_ids), "room_for": room,
                  "awarded": over_rpc["awarded"], "refused": over_rpc["refused"],
                  "overspend_yuan": str(max(Decimal(0), Decimal(fund.awarded) / 100 - BUDGET)),
                  "overspends": int(fund.awarded > fund.budget),
                  "ledger_balanced": ledger["balanced"] and ledger["agrees"]}
        print(f"concurrent awards over RPC: {awards}", flush=True)
        db.engine.dispose()
    return {"backend": args.backend, "posting": posted, "events_written": events,
            "exact": checks["exact"], "statistics_direct": direct,
            "statistics_ranges_direct": ranges,
            "statistics_rpc": over_rpc["statistics"], "concurrent_awards": awards}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--activities", type=int, default=100_000)
    parser.add_argument("--beneficiaries", type=int, default=1_000_000)
    parser.add_argument("--communities-per-street", type=int, default=10)
    parser.add_argument("--backend", default="postgresql", choices=("postgresql", "sqlite"))
    parser.add_argument("--queries", type=int, default=2000)
    parser.add_argument("--rpc-calls", type=int, default=1000)
    parser.add_argument("--range-queries", type=int, default=200)
    parser.add_argument("--awards", type=int, default=200)
    parser.add_argument("--quick", action="store_true",
                        help="10,000 activities, 100,000 beneficiaries, fewer queries")
    parser.add_argument("--rpc-child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--database-url", help=argparse.SUPPRESS)
    parser.add_argument("--amqp-uri", help=argparse.SUPPRESS)
    parser.add_argument("--asked", help=argparse.SUPPRESS)
    parser.add_argument("--applications", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.rpc_child:
        rpc_child(args.database_url, args.amqp_uri, [tuple(q) for q in json.loads(args.asked)],
                  json.loads(args.applications))
        return
    if args.quick:
        args.activities, args.beneficiaries = 10_000, 100_000
        args.queries, args.rpc_calls, args.awards = 500, 300, 100
        args.range_queries = 50
    emit("incubation_activities", run(args))


if __name__ == "__main__":
    main()
