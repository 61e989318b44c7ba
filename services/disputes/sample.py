"""A sample of handled disputes reproducing the figures in the articles (deterministic).

- District: 3,264 disputes in 2014 (318 handled alone) and 3,900 in 2015 (1,272 alone):
  +19.5% and four times as many handled alone. Nearly half are settled at community or
  enterprise level.
- 嶂背 community (龙城 street), 2015: 336 enterprises visited (visit, revisit, interview
  of the factory manager), 175 with irregular labour practice, 109 disputes mediated of
  which 9 wage-flight cases (欠薪逃逸) involving 193 people and 1.9 million yuan.
- 南坑 community (坂田 street), 2015: 16 disputes mediated.

Rows are written straight into this service's tables (a sample, not reports replayed).
"""

import random
from datetime import datetime, timedelta

from sqlalchemy import insert

from services.disputes import policy
from services.disputes.domain import CHINA_TIME
from services.disputes.models import cases, visits

DISTRICT = "longgang"
STREETS = ("pinghu", "bantian", "buji", "nanwan", "henggang", "longcheng", "longgang",
           "pingdi", "jihua", "baolong", "yuanshan")
ZHANGBEI = "longgang.longcheng.zhangbei"
NANKENG = "longgang.bantian.nankeng"
YEARS = {2014: (3264, 318), 2015: (3900, 1272)}  # disputes, handled alone
ZHANGBEI_DISPUTES = 109
NANKENG_DISPUTES = 16
WAGE_FLIGHT_WORKERS = (12, 18, 35, 9, 27, 22, 30, 16, 24)  # 193 people
WAGE_FLIGHT_YUAN = (150_000, 210_000, 380_000, 90_000, 260_000, 200_000, 250_000, 150_000,
                    210_000)  # 1,900,000 yuan
VISITED, IRREGULAR = 336, 175
# Handling tiers in every 100 disputes: 49 settled at community or enterprise level.
TIER_CYCLE = ["community"] * 38 + ["enterprise"] * 11 + ["street"] * 36 + ["district"] * 15
OTHER_CATEGORIES = ("unpaid_wages", "unpaid_social_insurance", "relocation", "closure",
                    "supplier_blockade", "collective_petition", "other")


def _path(community):
    street = community.rsplit(".", 1)[0]
    return [DISTRICT, street, community]


def _community(rng):
    street = rng.choice(STREETS)
    return f"{DISTRICT}.{street}.c{rng.randint(1, 8)}"


def _moment(rng, year):
    start = datetime(year, 1, 1, tzinfo=CHINA_TIME)
    return start + timedelta(seconds=rng.randrange(364 * 86400))


def _case(rng, grading, number, year, community, tier, joint, category=None, workers=None,
          yuan=None):
    category = category or rng.choice(OTHER_CATEGORIES)
    workers = workers if workers is not None else rng.randint(3, 60)
    yuan = yuan if yuan is not None else rng.randint(5, 400) * 1000
    grade, rule = policy.grade(grading, policy.GradingFacts(
        category=category, workers_affected=workers, amount_owed=policy.yuan(yuan)))
    opened = _moment(rng, year)
    key = f"sample:{community}:{number}"
    path = _path(community)
    return {
        "id": f"{year}{number:028d}", "risk_key": f"{key}|{category}",
        "enterprise_key": key, "credit_code": None, "enterprise_name": f"样本企业{number}",
        "address": None, "district_code": DISTRICT, "street_code": path[1],
        "community_code": community, "path": path, "key_enterprise": False,
        "category": category, "workers_affected": workers, "amount_owed_fen": yuan * 100,
        "expected_at": None, "grade": grade, "grade_rule": rule, "status": "closed",
        "handled_by_tier": tier, "joint": joint,
        "departments": ["区人力资源局"] if joint else [],
        "wages_recovered_fen": yuan * 80, "workers_covered": workers, "reports_count": 1,
        "opened_at": opened, "opened_year": year, "updated_at": opened + timedelta(days=20),
        "resolved_at": opened + timedelta(days=15),
    }


def sample_cases(seed=2015) -> list[dict]:
    rng = random.Random(seed)
    grading = policy.load("grading", policy.default_body("grading"))
    rows = []
    for year, (total, alone) in YEARS.items():
        communities = [_community(rng) for _ in range(total)]
        if year == 2015:
            communities[:ZHANGBEI_DISPUTES] = [ZHANGBEI] * ZHANGBEI_DISPUTES
            communities[ZHANGBEI_DISPUTES:ZHANGBEI_DISPUTES + NANKENG_DISPUTES] = (
                [NANKENG] * NANKENG_DISPUTES)
        alone_flags = [True] * alone + [False] * (total - alone)
        rng.shuffle(alone_flags)
        for index, community in enumerate(communities):
            flight = year == 2015 and index < len(WAGE_FLIGHT_WORKERS)
            rows.append(_case(
                rng, grading, len(rows), year, community, TIER_CYCLE[index % 100],
                not alone_flags[index],
                category="boss_absconded" if flight else None,
                workers=WAGE_FLIGHT_WORKERS[index] if flight else None,
                yuan=WAGE_FLIGHT_YUAN[index] if flight else None))
    return rows


def sample_visits(seed=2015) -> list[dict]:
    rng = random.Random(seed)
    rows = []
    path = _path(ZHANGBEI)
    for number in range(VISITED):
        irregular = number < IRREGULAR
        key = f"sample:{ZHANGBEI}:visited{number}"
        kinds = ["visit"] + (["revisit", "interview"] if irregular and number % 4 == 0
                             else ["revisit"] if irregular else [])
        for kind in kinds:
            at = _moment(rng, 2015)
            rows.append({
                "enterprise_key": key, "credit_code": None,
                "enterprise_name": f"嶂背走访企业{number}", "district_code": DISTRICT,
                "street_code": path[1], "community_code": ZHANGBEI, "path": path,
                "case_id": None, "kind": kind, "at": at, "year": 2015,
                "irregular_practice": irregular, "workers_affected": None,
                "amount_owed_fen": None, "recorded_by": "sample",
                "findings": "未签劳动合同、超时加班" if irregular else "用工规范",
            })
    return rows


def load_sample(session, seed=2015) -> dict:
    case_rows = sample_cases(seed)
    visit_rows = sample_visits(seed)
    session.execute(insert(cases), case_rows)
    session.execute(insert(visits), visit_rows)
    return {"cases": len(case_rows), "visits": len(visit_rows)}
