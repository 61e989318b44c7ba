"""The sample hub: what the district's federation of worker-service social organizations
(龙岗区服务职工社会组织联合会) did in its first three years, through the operations.

The source (DOMAIN.md section 5): founded August 2013, it incubated 41 social
organizations, which graduated qualified for purchased services; they held 1,000+
activities reaching 100,000+ workers; the hub itself was graded 4A by the provincial
evaluation centre and won 300,000 yuan from a provincial special fund among 1,800+
candidates. The sample is that, seeded, with its three years ending today (so grades are
still valid and calls still open):

- the hub (graded 4A; awarded 300,000 from the provincial fund, the first tranche paid
  against an accepted report) and 41 graduated organizations (3A, a few 4A), each with
  its stage history, plan, civil-affairs registration and assessment; plus 3 still
  incubating (one near the end of its period), 2 applying and 1 that left;
- 1,080 activities at 20 of the district's communities and parks, about 110 named
  beneficiaries each: most come once, some are regulars, so the workers reached are
  distinct people (108,257), not head-counts.

Places come from the registry's events, so ``gonghui up`` (``prepare``) only *asks* for
the sample; the service's timer loads it (``load_if_ready``) once every place below is
known, in a few seconds.
"""

import logging
import random
from datetime import timedelta
from decimal import Decimal

from sqlalchemy import func, insert, select, update

from services.incubation import operations, readmodel
from services.incubation.domain import today_in
from services.incubation.models import organizations, samples
from shared.api.registry import credit_code_check_digit
from shared.caller import Caller
from shared.db import opened_database
from shared.events.incubation import SERVICE_KINDS
from shared.timeutil import now_utc

log = logging.getLogger(__name__)

NAME = "hub-2013"
SEED = 20130801
DISTRICT = "longgang"
HUB_NAME = "龙岗区服务职工社会组织联合会"
GRADUATED = 41
ACTIVITIES_PER_ORGANIZATION = 25
HUB_ACTIVITIES = 40
DAYS = 1000  # the three years ("近3年") up to today
PROVINCIAL_AWARD = Decimal("300000.00")
SYSTEM = Caller("sample", "admin", DISTRICT)

# Registry codes of the sample district (services/registry/sample.py) the hub serves.
PLACES = [f"{DISTRICT}.{code}" for code in (
    "bantian.nankeng", "bantian.gangtou", "bantian.wuhe", "bantian.tianan-cloud",
    "longcheng.zhangbei", "longcheng.huilongpu", "pinghu.pinghu", "pinghu.huanancheng",
    "buji.dafen", "buji.mumianwan", "nanwan.shawan", "henggang.liuyue", "henggang.silian",
    "longgang.nanlian", "pingdi.pingdong", "jihua.gankeng", "baolong.tongle",
    "baolong.baolong-industrial", "yuanshan.heao", "yuanshan.dakang")]
THEMES = {
    "legal_aid": ("法律服务中心", "劳动法律援助队"),
    "counselling": ("心理咨询服务中心", "心灵驿站"),
    "culture_sports": ("职工文体协会", "职工艺术团"),
    "skills": ("职业技能培训中心", "技能提升社"),
    "volunteering": ("职工志愿者协会", "义工服务队"),
    "hardship_care": ("困难职工帮扶中心", "暖心关爱社"),
    "family": ("婚恋交友服务社", "亲子成长中心"),
}
PREFIXES = "阳光 彩虹 启航 同心 暖流 春雨 绿洲 红棉 新苗 星火 和谐 益友".split()
ACTIVITY_TITLES = {
    "legal_aid": "劳动法律知识讲座", "counselling": "职工心理减压沙龙",
    "culture_sports": "职工文体比赛", "skills": "技能提升培训班",
    "volunteering": "志愿服务进社区", "hardship_care": "困难职工走访慰问",
    "family": "青年职工联谊活动",
}


def prepare(database_url, migrations_dir):
    """``gonghui up``: migrate, and ask for the sample on an empty database."""
    with opened_database(database_url, "incubation", migrations_dir) as db:
        with db.unit_of_work() as uow:
            count = uow.session.execute(select(func.count()).select_from(organizations)
                                        ).scalar()
            asked = uow.session.execute(select(samples.c.name).where(samples.c.name == NAME)
                                        ).first()
            if count or asked:
                yield f"{count} organizations on file; sample not requested again"
                return
            uow.session.execute(insert(samples).values(name=NAME, requested_at=now_utc()))
        yield (f"sample requested: the hub and {GRADUATED} graduated organizations load once "
               "the registry's places have arrived")


def request(db):
    """Ask for the sample (what ``prepare`` does), for tests."""
    with db.unit_of_work() as uow:
        if not uow.session.execute(select(samples.c.name).where(samples.c.name == NAME)
                                   ).first():
            uow.session.execute(insert(samples).values(name=NAME, requested_at=now_utc()))


def load_if_ready(db, pause=None) -> dict | None:
    """Load the requested sample once every place it uses is known; once, by one replica.

    ``pause()`` is called between units of work: the service passes eventlet's sleep, so
    that it goes on answering while it loads (SQLite's calls never yield on their own)."""
    with db.session() as session:
        waiting = session.execute(select(samples.c.name).where(
            samples.c.name == NAME, samples.c.loaded_at.is_(None))).first()
        if waiting is None:
            return None
        if any(readmodel.place(session, code) is None for code in (DISTRICT, *PLACES)):
            return None
    with db.unit_of_work() as uow:  # claim it
        claimed = uow.session.execute(update(samples).where(
            samples.c.name == NAME, samples.c.loaded_at.is_(None)).values(
            loaded_at=now_utc())).rowcount
    if not claimed:
        return None
    summary = load(db, pause=pause)
    log.info("loaded the incubation sample: %s", summary)
    return summary


def credit_code(number: int) -> str:
    """A social organization's code (登记管理机关 5 = civil affairs, 2 = 社会团体)."""
    first17 = f"5244030700{number:06d}P"[:17]
    return first17 + credit_code_check_digit(first17)


def _scores(rng, low, high) -> dict:
    return {indicator: rng.randint(low, high) for indicator in (
        "basic_conditions", "internal_governance", "work_performance", "social_evaluation")}


def _writer(db, pause):
    """``write(operation, *args)``: one unit of work, after a pause."""

    def write(operation, *args):
        if pause is not None:
            pause()
        with db.unit_of_work() as uow:
            return operation(uow, *args)

    return write


def load(db, seed=SEED, pause=None) -> dict:
    write = _writer(db, pause)
    rng = random.Random(seed)
    today = today_in(now_utc())
    start = today - timedelta(days=DAYS)
    hub = write(operations.add_organization, {
        "name": HUB_NAME, "service_kind": "volunteering", "home_code": DISTRICT,
        "places": PLACES, "contacts": [{"name": "黄秘书长", "role": "秘书长",
                                        "phone": "0755-28900000"}],
        "credit_code": credit_code(0), "registered_on": start, "hub": True,
        "reason": "区总工会成立的枢纽型社会组织", "applied_on": start}, SYSTEM)
    people = {}  # organization id -> references handed out so far
    activities = _activities(write, rng, hub["id"], "volunteering", start + timedelta(days=20),
                             today, HUB_ACTIVITIES, people)
    write(operations.record_assessment, hub["id"], {
        "assessed_on": start + timedelta(days=820), "evaluator": "广东省社会组织评估中心",
        "assessors": [{"name": "省评估中心专家组", "scores": _scores(rng, 82, 88)}]}, SYSTEM)
    kinds = list(SERVICE_KINDS)
    graduated = []
    for number in range(GRADUATED + 6):
        kind = kinds[number % len(kinds)]
        home = PLACES[number % len(PLACES)]
        name = (f"龙岗区{PREFIXES[number % len(PREFIXES)]}"
                f"{THEMES[kind][(number // len(PREFIXES)) % 2]}")
        if number >= len(PREFIXES) * 2:
            name = f"{name}{number // (len(PREFIXES) * 2) + 1}号"
        applied = start + timedelta(days=30 + 10 * number)
        organization = write(operations.add_organization, {
            "name": name, "service_kind": kind, "home_code": home,
            "places": [home, PLACES[(number + 7) % len(PLACES)]],
            "contacts": [{"name": f"负责人{number + 1}", "role": "理事长",
                          "phone": f"0755-2890{number + 1:04d}"}],
            "credit_code": None, "registered_on": None, "hub": False,
            "reason": "申请入驻孵化基地", "applied_on": applied}, SYSTEM)
        organization_id = organization["id"]
        if number >= GRADUATED + 3:  # two still applying, one that left
            if number == GRADUATED + 5:
                _stage(write, organization_id, "exited", applied + timedelta(days=12),
                       "未通过入驻评审")
            continue
        near_end = today + timedelta(days=20) if number == GRADUATED else None
        _stage(write, organization_id, "admitted", applied + timedelta(days=15),
               "评审通过，入驻孵化", deadline=near_end)
        _stage(write, organization_id, "incubating", applied + timedelta(days=30), "签订孵化协议",
               plan={"mentor": f"{'陈林王李张'[number % 5]}导师",
                     "training": ["财务管理", "项目设计"],
                     "milestones": [{"title": "完成民政登记", "done": True,
                                     "due_on": applied + timedelta(days=120)},
                                    {"title": "独立开展品牌项目", "done": True,
                                     "due_on": applied + timedelta(days=360)}]})
        if number >= GRADUATED:  # three still incubating, the first near its deadline
            activities += _activities(write, rng, organization_id, kind,
                                      applied + timedelta(days=40), today, 5, people)
            continue
        write(operations.update_organization, organization_id, {
            "credit_code": credit_code(number + 1),
            "registered_on": applied + timedelta(days=90)}, SYSTEM)
        activities += _activities(write, rng, organization_id, kind, applied + timedelta(days=40),
                                  today, ACTIVITIES_PER_ORGANIZATION, people)
        assessed_on = applied + timedelta(days=420)
        band = (86, 88) if number % 8 == 0 else (72, 78)  # a few 4A, most 3A
        write(operations.record_assessment, organization_id, {
            "assessed_on": assessed_on, "evaluator": "龙岗区社会组织评估委员会",
            "assessors": [{"name": "评估专家组", "scores": _scores(rng, *band)}]}, SYSTEM)
        _stage(write, organization_id, "assessed", assessed_on + timedelta(days=5), "等级评估完成")
        _stage(write, organization_id, "graduated", assessed_on + timedelta(days=20),
               "达到出壳条件，获得承接政府职能转移和购买服务资质")
        graduated.append(organization_id)
    _funds(write, hub["id"], graduated, start, today)
    return {"organizations": GRADUATED + 7, "graduated": len(graduated),
            "activities": activities,
            "beneficiaries": sum(len(handed) for handed in people.values())}


def _stage(write, organization_id, stage, on, reason, plan=None, deadline=None):
    write(operations.change_stage, organization_id, {
        "stage": stage, "reason": reason, "effective_on": on, "plan": plan,
        "incubation_deadline": deadline}, SYSTEM)


def _activities(write, rng, organization_id, kind, first, last, count, people) -> int:
    """``count`` activities spread from ``first`` to ``last``; beneficiaries mostly new
    people, one in ten a regular who came before."""
    span = max(1, (last - first).days)
    handed = people.setdefault(organization_id, [])
    items = []
    for number in range(count):
        held_on = first + timedelta(days=span * number // count)
        named = rng.randint(80, 140)
        chosen = set()
        while len(chosen) < named:
            if handed and rng.random() < 0.1:
                chosen.add(rng.choice(handed))
            else:
                handed.append(f"P{organization_id:03d}-{len(handed) + 1:05d}")
                chosen.add(handed[-1])
        items.append({
            "organization_id": organization_id, "kind": kind,
            "title": f"{ACTIVITY_TITLES[kind]}（第{number + 1}期）", "held_on": held_on,
            "place_code": PLACES[(organization_id + number) % len(PLACES)],
            "hours": Decimal(rng.choice(("2.0", "2.5", "3.0", "4.0"))),
            "participants": named + rng.randint(0, 40),
            "beneficiaries": [{"worker_id": None, "ref": ref} for ref in sorted(chosen)]})
    write(operations.report_activities, items, SYSTEM)
    return count


def _funds(write, hub_id, graduated, start, today):
    """The provincial special fund the hub won, and the district's own fund."""
    opens = now_utc() - timedelta(days=30)
    closes = now_utc() + timedelta(days=60)
    provincial = write(operations.create_fund, {
        "name": "广东省省级社会组织专项资金", "source": "provincial", "owner_code": DISTRICT,
        "budget": Decimal("3000000.00")}, SYSTEM)
    call = write(operations.open_call, provincial["id"], {
        "title": "省级社会组织专项资金扶持项目（1800余家候选）", "opens_at": opens,
        "closes_at": closes, "eligibility": {"min_grade": "3A", "registered": True},
        "max_award": Decimal("500000.00")}, SYSTEM)
    _award(write, call["id"], hub_id, "服务职工社会组织孵化培育项目", PROVINCIAL_AWARD,
           pay_first=True)
    district = write(operations.create_fund, {
        "name": "龙岗区职工服务社会组织扶持资金", "source": "district", "owner_code": DISTRICT,
        "budget": Decimal("2000000.00")}, SYSTEM)
    call = write(operations.open_call, district["id"], {
        "title": "职工服务品牌项目资助", "opens_at": opens, "closes_at": closes,
        "eligibility": {"min_grade": "3A", "stages": ["graduated"]},
        "max_award": Decimal("100000.00")}, SYSTEM)
    for organization_id in graduated[:10]:
        _award(write, call["id"], organization_id, "职工服务品牌项目", Decimal("80000.00"),
               pay_first=organization_id % 2 == 0)


def _award(write, call_id, organization_id, project, amount, pay_first):
    application = write(operations.apply_to_call, call_id, {
        "organization_id": organization_id, "project": project, "amount": amount}, SYSTEM)
    write(operations.review_application, application["id"],
           {"score": Decimal("90.00"), "note": "项目设计合理，成效明显"}, SYSTEM)
    award = write(operations.grant_award, application["id"],
                   {"amount": None, "tranches": None}, SYSTEM)
    if pay_first:
        report = write(operations.submit_progress_report, award["id"], {
            "tranche": 1, "summary": "项目启动，已完成第一阶段服务"}, SYSTEM)
        write(operations.decide_progress_report, report["id"], True, "同意拨付首期",
               SYSTEM)
        write(operations.disburse_tranche, award["id"], {"tranche": 1}, SYSTEM)
