"""The disputes the articles count, filed and handled through the standard process
(deterministic), so every statistic, event and downstream read model is the real one.

- District: 3,264 disputes in 2014 (318 handled alone), 3,900 in 2015 (1,272 alone, +19.5%
  and four times as many), and 2,206 (720 alone) in early 2016: "since the reform" (28 Nov
  2014, the article written in spring 2016) is 2015 plus early 2016, 6,106 / 1,992
  (DOMAIN.md section 3). Nearly half are settled at community or enterprise level.
- 嶂背 community (龙城 street), 2015: 336 of its registered enterprises visited (visit,
  revisit, interview of the factory manager), 175 with irregular labour practice, 109
  disputes mediated of which 9 wage-flight cases (欠薪逃逸) involving 193 people and 1.9
  million yuan.
- 南坑 community (坂田 street), 2015: 16 disputes mediated.

Each dispute is an anonymous report about a registered enterprise (``submit_report``),
then verified, handled at its tier (alone or jointly), resolved and closed
(``change_status``), each step at its recorded time (``operations.recorded_at``: the
district's admin, never a time to come). The enterprises come from the registry's events,
so ``gonghui up`` (``prepare``) only asks for the sample; the service's timer loads it
(``load_if_ready``) once the registry's sample district is in.
"""

import json
import logging
import random
import time
from datetime import datetime, timedelta

from sqlalchemy import func, insert, select, update
from sqlalchemy.exc import IntegrityError

from services.disputes import operations
from services.disputes.domain import CHINA_TIME, checked_time
from services.disputes.models import cases, enterprises, organizations, settings
from shared.api import disputes as contract
from shared.caller import Caller
from shared.db import opened_database
from shared.schemas import load
from shared.timeutil import now_utc

log = logging.getLogger(__name__)

DISTRICT = "longgang"
ZHANGBEI = "longgang.longcheng.zhangbei"
NANKENG = "longgang.bantian.nankeng"
LOADER = Caller("sample", "admin", DISTRICT)
REQUEST = "sample_requested"
PLANNED = "sample_enterprises"  # the enterprises the plan was made from, frozen
SEED = 2015
STREETS = 11
# Per year: disputes, handled alone, and (month, day) the year's reports end (early 2016).
YEARS = {2014: (3264, 318, (12, 31)), 2015: (3900, 1272, (12, 31)), 2016: (2206, 720, (4, 20))}
ZHANGBEI_DISPUTES = 109
NANKENG_DISPUTES = 16
WAGE_FLIGHT_WORKERS = (12, 18, 35, 9, 27, 22, 30, 16, 24)  # 193 people
WAGE_FLIGHT_YUAN = (150_000, 210_000, 380_000, 90_000, 260_000, 200_000, 250_000, 150_000,
                    210_000)  # 1,900,000 yuan
VISITED, IRREGULAR = 336, 175
# "Nearly half" settled at community or enterprise level: 49 in every 100, 38 of them in
# the community; of the rest, 36 at the street and 15 at the district.
TIERS = {"community": 38, "enterprise": 11, "street": 36, "district": 15}
OTHER_CATEGORIES = ("unpaid_wages", "unpaid_social_insurance", "relocation", "closure",
                    "supplier_blockade", "collective_petition", "other")
DESCRIPTIONS = {
    "unpaid_wages": "工资拖欠两个月，工人在车间议论",
    "unpaid_social_insurance": "企业未足额缴纳社保",
    "relocation": "厂房计划搬迁，未与工人协商",
    "closure": "订单减少，企业拟停产",
    "supplier_blockade": "供应商到厂门口讨要货款",
    "collective_petition": "工人联名要求加班费",
    "other": "劳动合同到期未续签",
    "boss_absconded": "老板失联，工资未发",
}
READY_ENTERPRISES = 6000  # the registry sample's (services/registry/sample.py)
# Items (visits, disputes) per unit of work, and seconds of work per timer tick: a tick
# ends well within a graceful stop, and the next one carries on where it left off.
BATCH = 50
TICK_SECONDS = 4.0
LOADED = "loaded"


# --- asking for it --------------------------------------------------------------------

def prepare(database_url, migrations_dir):
    """``gonghui up``: ask for the sample once, on a database without cases."""
    with opened_database(database_url, "disputes", migrations_dir) as db:
        yield request(db)


def request(db) -> str:
    with db.unit_of_work() as uow:
        session = uow.session
        if session.execute(select(settings.c.key).where(settings.c.key == REQUEST)).first():
            return "sample requested before; not asked again"
        if session.execute(select(cases.c.id).limit(1)).first():
            return "cases on file; sample not requested"
        session.execute(insert(settings).values(key=REQUEST, value="0"))
    total = sum(year[0] for year in YEARS.values())
    return (f"sample requested: {total:,} disputes (2014 to early 2016) and 嶂背's visits "
            "load once the registry's district has arrived")


def _enterprises_by_community(session) -> dict[str, list[str]]:
    rows = session.execute(select(enterprises.c.community_code, enterprises.c.credit_code)
                           .where(enterprises.c.status == "active")
                           .order_by(enterprises.c.credit_code)).all()
    found = {}
    for community, credit_code in rows:
        found.setdefault(community, []).append(credit_code)
    return found


def ready(session) -> bool:
    """The registry's sample district is in: its streets and all its enterprises."""
    streets = session.execute(select(func.count()).select_from(organizations).where(
        organizations.c.tier == "street")).scalar()
    known = session.execute(select(func.count()).select_from(enterprises).where(
        enterprises.c.status == "active")).scalar()
    return streets >= STREETS and known >= READY_ENTERPRISES


def load_if_ready(db, seconds=TICK_SECONDS) -> dict | None:
    """Load the next part of the requested sample, for about ``seconds``, once the
    registry's district is in; the timer calls it again until it is all in."""
    with db.session() as session:
        asked = session.execute(select(settings.c.value).where(
            settings.c.key == REQUEST)).scalar()
        if asked is None or asked == LOADED or not ready(session):
            return None
    plan = _plan(db)
    done = _load_some(db, plan, seconds)
    if done is None:
        return None
    if done < len(plan):
        return {"loaded": done, "of": len(plan)}
    summary = {"disputes": sum(1 for item in plan if "tier" in item),
               "visits": sum(1 for item in plan if "kind" in item)}
    log.info("loaded the disputes sample: %s", summary)
    return summary


# --- the plan: what happened, when ----------------------------------------------------

def _moment(rng, year) -> datetime:
    start = datetime(year, 1, 1, 9, tzinfo=CHINA_TIME)
    month, day = YEARS[year][2]
    end = datetime(year, month, day, 9, tzinfo=CHINA_TIME) - timedelta(days=25)
    return start + timedelta(seconds=rng.randrange(int((end - start).total_seconds())))


def _tiers(total) -> list[str]:
    """``total`` handling tiers in the proportions of ``TIERS`` (largest remainder)."""
    shares = {tier: total * per_100 / 100 for tier, per_100 in TIERS.items()}
    counts = {tier: int(share) for tier, share in shares.items()}
    for tier in sorted(shares, key=lambda t: counts[t] - shares[t])[:total - sum(counts.values())]:
        counts[tier] += 1
    return [tier for tier, count in counts.items() for _ in range(count)]


def plan_disputes(by_community: dict[str, list[str]], seed=SEED) -> list[dict]:
    """One dict per dispute: the enterprise, the facts, the tier, alone or jointly, when."""
    rng = random.Random(seed)
    others = sorted(code for code in by_community if code not in (ZHANGBEI, NANKENG))
    planned = []
    for year, (total, alone, _end) in YEARS.items():
        places = [rng.choice(others) for _ in range(total)]
        if year == 2015:
            places[:ZHANGBEI_DISPUTES] = [ZHANGBEI] * ZHANGBEI_DISPUTES
            places[ZHANGBEI_DISPUTES:ZHANGBEI_DISPUTES + NANKENG_DISPUTES] = (
                [NANKENG] * NANKENG_DISPUTES)
        alone_flags = [True] * alone + [False] * (total - alone)
        rng.shuffle(alone_flags)
        tiers = _tiers(total)
        rng.shuffle(tiers)
        for index, community in enumerate(places):
            flight = year == 2015 and index < len(WAGE_FLIGHT_WORKERS)
            planned.append({
                "credit_code": rng.choice(by_community[community]),
                "category": "boss_absconded" if flight else rng.choice(OTHER_CATEGORIES),
                "workers": WAGE_FLIGHT_WORKERS[index] if flight else rng.randint(3, 60),
                "yuan": WAGE_FLIGHT_YUAN[index] if flight else rng.randint(5, 400) * 1000,
                "tier": tiers[index], "alone": alone_flags[index],
                "at": _moment(rng, year)})
    return planned


def plan_visits(zhangbei: list[str], seed=SEED) -> list[dict]:
    """嶂背's 336 visited enterprises in 2015; the first 175 irregular (a revisit, and
    every fourth an interview of the factory manager)."""
    rng = random.Random(seed)
    planned = []
    for number, credit_code in enumerate(zhangbei[:VISITED]):
        irregular = number < IRREGULAR
        kinds = ["visit"] + (["revisit", "interview"] if irregular and number % 4 == 0
                             else ["revisit"] if irregular else [])
        first = _moment(rng, 2015)
        for step, kind in enumerate(kinds):
            planned.append({"credit_code": credit_code, "kind": kind,
                            "at": first + timedelta(days=10 * step),
                            "irregular_practice": irregular,
                            "findings": "未签劳动合同、超时加班" if irregular else "用工规范"})
    return planned


# --- filing it through the operations -------------------------------------------------

REPORT = contract.SubmittedReportSchema()
VISIT = contract.VisitSchema()
STEPS = {status: schema() for status, schema in contract.TRANSITION_SCHEMAS.items()}


def _handle(uow, dispute: dict, now: datetime) -> str:
    """A report about the dispute, and its case along the standard process."""
    at = operations.recorded_at(uow.session, LOADER, dispute["at"], now)
    report = load(REPORT, {
        "credit_code": dispute["credit_code"], "category": dispute["category"],
        "workers_affected": dispute["workers"], "amount_owed": dispute["yuan"],
        "description": DESCRIPTIONS[dispute["category"]]})
    informant, _ = operations.register_informant(uow.session, "anonymous", at)
    case_id = operations.submit_report(uow, report, informant, at)["case_id"]
    joint = not dispute["alone"]
    steps = [
        ("verified", 1, {"note": "走访核实属实"}),
        ("handling", 2, {"handled_by_tier": dispute["tier"], "joint": joint,
                         "departments": ["区人力资源局"] if joint else []}),
        ("resolved", 15, {"wages_recovered": dispute["yuan"] * 8 // 10,
                          "workers_covered": dispute["workers"]}),
        ("closed", 20, {"note": "复盘：已调处"}),
    ]
    for status, days, data in steps:
        step_at = checked_time(at + timedelta(days=days), now, "at")
        operations.advance(uow, case_id, status, load(STEPS[status], data), LOADER,
                           step_at)
    return case_id


def _plan(db, seed=SEED) -> list[dict]:
    """嶂背's visits, then every dispute: the same list on every tick and replica, made
    from the enterprises on file when loading began (frozen in ``settings``), so an
    enterprise registered or closed while the sample loads does not shift what is left."""
    by_community = _frozen_enterprises(db)
    return plan_visits(by_community[ZHANGBEI], seed) + plan_disputes(by_community, seed)


def _frozen_enterprises(db) -> dict[str, list[str]]:
    with db.session() as session:
        frozen = session.execute(select(settings.c.value).where(
            settings.c.key == PLANNED)).scalar()
        if frozen is None:
            found = _enterprises_by_community(session)
    if frozen is not None:
        return json.loads(frozen)
    try:
        with db.unit_of_work() as uow:
            uow.session.execute(insert(settings).values(key=PLANNED, value=json.dumps(found)))
    except IntegrityError:  # another replica froze its list first: take that one
        return _frozen_enterprises(db)
    return found


def _load_some(db, plan: list[dict], seconds: float) -> int | None:
    """Items of ``plan`` from where the last tick stopped, ``BATCH`` to a unit of work
    that also moves the mark on (so one replica loads each batch, once); how far it got,
    None when another replica holds the next batch or all is loaded."""
    started = time.monotonic()
    done = None
    while time.monotonic() - started < seconds:
        with db.unit_of_work() as uow:
            mark = uow.session.execute(select(settings.c.value).where(
                settings.c.key == REQUEST)).scalar()
            if mark is None or mark == LOADED:
                return done
            first = int(mark)
            last = min(first + BATCH, len(plan))
            claimed = uow.session.execute(update(settings).where(
                settings.c.key == REQUEST, settings.c.value == mark).values(
                value=LOADED if last == len(plan) else str(last))).rowcount
            if not claimed:
                return done
            now = now_utc()
            for item in plan[first:last]:
                (_handle if "tier" in item else _visit)(uow, item, now)
        done = last
        if last == len(plan):
            break
    return done


def _visit(uow, visit: dict, now: datetime) -> None:
    at = operations.recorded_at(uow.session, LOADER, visit["at"], now)
    operations.record_visit(uow, load(VISIT, dict(visit, at=at.isoformat())), LOADER, now)


def load_sample(db, seed=SEED) -> dict:
    """The whole sample at once (the CLI's and the tests'), asked for first."""
    request(db)
    plan = _plan(db, seed)
    _load_some(db, plan, float("inf"))
    return {"disputes": sum(1 for item in plan if "tier" in item),
            "visits": sum(1 for item in plan if "kind" in item)}
