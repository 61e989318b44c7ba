"""The sample members of 南坑: 9,525 active members among its ~10,200 workers (93%), 500
of them with a member card (the pilot's 500 cards).

Membership knows enterprises only from the registry's events, so the sample cannot be
written before those arrive. ``gonghui up`` (``prepare``) therefore only *requests* it (a
row in ``imports``); the running service's timer loads it as soon as the read model
holds 南坑's 10,200 workers, spreading the members over 南坑's enterprises by headcount,
from seeded data, through the ordinary bulk importer. It also registers partner merchants
(15 in the pilot) including the union supermarket (cost + 1 yuan).

``gonghui up`` binds every service's event queues before any starts
(``shared.consumers.declare_event_queues``), so the registry's first events wait in
membership's queues until it runs.
"""

import logging
import random

from sqlalchemy import func, insert, select, update

from services.membership import domain, operations, readmodel
from services.membership.importer import REQUIRED, Importer
from services.membership.models import enterprises, imports, merchants, workers
from shared.caller import Caller
from shared.db import opened_database
from shared.timeutil import now_utc

log = logging.getLogger(__name__)

COMMUNITY = "longgang.bantian.nankeng"
MEMBERS = 9_525  # DOMAIN.md: 南坑 members
CARDS = 500  # DOMAIN.md: member cards issued in the 南坑 pilot
WORKERS = 10_200  # DOMAIN.md: 南坑 workers (about), what the registry's sample holds
SOURCE = f"sample:{COMMUNITY}"
SEED = 20160501
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何林罗郑梁谢宋唐许邓冯韩曹曾彭萧蔡潘田董袁"
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰志红建国海燕春梅文斌辉"
MERCHANTS = [("南坑爱心超市", domain.SUPERMARKET_RULE)] + [
    (name, {"kind": "percent_off", "percent_off": off}) for name, off in (
        ("阿强理发店", 20), ("南坑羽毛球馆", 30), ("坂田大药房", 10), ("雪象眼镜店", 15),
        ("南坑洗衣店", 20), ("百姓快餐", 10), ("健身驿站", 25), ("好又多文具", 10),
        ("坂田手机维修", 15), ("南坑书屋", 20), ("康宁口腔诊所", 10), ("一品茶餐厅", 10),
        ("家电维修部", 15), ("南坑游泳馆", 30))]


def prepare(database_url, migrations_dir):
    """First run of membership (``gonghui up``): ask for the sample unless members are on
    file. Yields what it did."""
    with opened_database(database_url, "membership", migrations_dir) as database:
        yield _ask_unless_members(database)


def _ask_unless_members(database) -> str:
    with database.session() as session:
        on_file = session.execute(select(func.count()).select_from(workers)).scalar()
    if on_file:
        return f"{on_file} workers on file; sample not requested"
    if not request(database):
        return "sample already requested"
    return (f"sample requested: {MEMBERS:,} members in {COMMUNITY} load once the registry's "
            "events have arrived")


def request(database) -> bool:
    """Ask for the sample once; False if it was asked for (or loaded) before."""
    with database.unit_of_work() as uow:
        asked = uow.session.execute(select(imports.c.id).where(imports.c.source == SOURCE))\
            .first()
        if asked:
            return False
        uow.session.execute(insert(imports).values(source=SOURCE))
        return True


def allocate(headcounts: dict, total: int) -> dict:
    """``total`` members over enterprises in proportion to headcount (largest remainder),
    never more than an enterprise's headcount."""
    workers = sum(headcounts.values())
    if total > workers:
        raise ValueError(f"{total} members cannot come from {workers} workers")
    shares = {code: total * n / workers for code, n in headcounts.items()}
    counts = {code: int(share) for code, share in shares.items()}
    by_remainder = sorted(shares, key=lambda code: (counts[code] - shares[code], code))
    for code in by_remainder[:total - sum(counts.values())]:
        counts[code] += 1
    return counts


def rows(counts: dict, seed=SEED):
    """CSV-like rows (header first) of made-up members: valid ID numbers and phones."""
    rng = random.Random(seed)
    yield list(REQUIRED)
    used = set()
    for credit_code in sorted(counts):
        for _ in range(counts[credit_code]):
            body = None
            while body is None or body in used:  # one ID number per person
                born = f"{rng.randint(1965, 2004)}{rng.randint(1, 12):02d}" \
                       f"{rng.randint(1, 28):02d}"
                body = f"440307{born}{rng.randrange(1000):03d}"
            used.add(body)
            name = rng.choice(SURNAMES) + "".join(rng.choices(GIVEN, k=rng.randint(1, 2)))
            phone = f"1{rng.randint(3, 9)}{rng.randrange(10**9):09d}"
            yield [name, body + domain.id_check_digit(body), phone, credit_code]


def load_if_ready(database, keys) -> dict | None:
    """Load the requested sample once the registry's 南坑 data has arrived."""
    with database.session() as session:
        asked = session.execute(select(imports.c.id).where(
            imports.c.source == SOURCE, imports.c.finished_at.is_(None))).scalar()
        if asked is None:
            return None
        if readmodel.workers_counted(session, COMMUNITY) < WORKERS:
            return None
        headcounts = dict(session.execute(select(enterprises.c.credit_code,
                                                 enterprises.c.headcount).where(
            enterprises.c.community_code == COMMUNITY, enterprises.c.status == "active")).all())
        path = readmodel.organization(session, COMMUNITY)["path"]
    with database.unit_of_work() as uow:  # claim it: one replica loads it, once
        claimed = uow.session.execute(update(imports).where(
            imports.c.id == asked, imports.c.finished_at.is_(None)).values(
            finished_at=now_utc())).rowcount
    if not claimed:
        return None
    result = Importer(database, keys).run(rows(allocate(headcounts, MEMBERS)), SOURCE)
    system = Caller("sample", "admin", path[0])
    with database.unit_of_work() as uow:
        # The first members on file ask for their cards, as at the pilot's desk.
        first = uow.session.execute(select(workers.c.id).order_by(workers.c.id)
                                    .limit(CARDS)).scalars().all()
        for worker_id in first:
            operations.request_card(uow, keys, worker_id, False, system)
    with database.unit_of_work() as uow:
        if not uow.session.execute(select(merchants.c.id)).first():
            for name, rule in MERCHANTS:
                operations.register_merchant(uow, {"name": name, "organization_code": COMMUNITY,
                                                   "rule": rule}, system)
    log.info("loaded the 南坑 sample: %d members, %d cards, %d merchants", result.imported,
             CARDS, len(MERCHANTS))
    return result.as_dict()
