"""A Longgang-like sample district, the same every time (seeded).

龙岗区总工会 with its 11 streets, 3-5 communities or parks per street (南坑 in 坂田, 嶂背
in 龙城 among them), four industry unions, contacts everywhere, and enterprises:

- 南坑 (``longgang.bantian.nankeng``) holds exactly the real figures: 227 enterprises,
  10,200 workers, 42 with their own union, 176 covered by the 南坑 federation, so its
  establishment rate is 0.9604;
- 嶂背 (``longgang.longcheng.zhangbei``) has 380 enterprises, enough for the 336 its
  union visited in 2015 (the disputes sample visits them);
- 坂田's other communities and parks hold 2,853 enterprises with 91,300 workers, so the
  street has the 3,000+ enterprises and 100,000+ workers of the figures (3,080 / 101,500);
- the rest are spread over the other communities: like the district's 320,000 market
  entities with over 2,000,000 workers (DOMAIN.md), most are micro businesses of a few
  workers and about one in nine a company (median ~20 workers, a few thousand at most),
  so 320,000 rows hold about 2.13 million workers (``DISTRICT_FIGURES``).

``generate_enterprises(n)`` makes district-shaped import rows of any size (benchmarks use
320,000); ``load_sample(db)`` registers the tree and imports the rows; ``prepare`` is
the first-run hook of ``gonghui up``.
"""

import os
import random

from services.registry import domain, operations, views
from services.registry.importer import import_rows
from shared.api.registry import CREDIT_CODE_CHARSET, NewOrganizationSchema, credit_code_check_digit
from shared.caller import Caller
from shared.db import open_database
from shared.schemas import load

SEED = 20160501
SAMPLE_ENTERPRISES = 6000
DISTRICT = "longgang"
BANTIAN = "longgang.bantian"
NANKENG = "longgang.bantian.nankeng"
ZHANGBEI = "longgang.longcheng.zhangbei"
# Who loads the sample: an admin of the district, who registers the root itself.
LOADER = Caller("sample", "admin", DISTRICT)
NANKENG_FIGURES = {"enterprises": 227, "workers": 10_200, "own_union": 42, "covered": 176}
ZHANGBEI_ENTERPRISES = 380
# DOMAIN.md: 坂田 street, 3,000+ enterprises and 100,000+ workers (南坑 among them).
BANTIAN_FIGURES = {"enterprises": 3_080, "workers": 101_500}
# DOMAIN.md: 320,000+ market entities and 2,000,000+ workers, about 6.3 workers each.
DISTRICT_FIGURES = {"enterprises": 320_000, "workers": 2_000_000}
# Outside 南坑, a share of companies among micro businesses (individual traders, shops,
# workshops): lognormal headcounts, (mu, sigma) of each, chosen to give the district's
# 6-7 workers per entity with a tail of key enterprises (500+ workers, ~110 in 320,000).
COMPANY_SHARE = 0.11
COMPANY_HEADCOUNT = (3.0, 1.2)
MICRO_HEADCOUNT = (0.8, 0.7)
MAX_HEADCOUNT = 8000

# (code, name, [(code, name, kind)]): the 11 streets of Longgang and some of their
# communities and industrial parks.
PARK = "park_federation"
COMMUNITY = "community_federation"
STREETS = [
    ("pinghu", "平湖", [("pinghu", "平湖社区", COMMUNITY), ("shanxia", "山厦社区", COMMUNITY),
                      ("egongling", "鹅公岭社区", COMMUNITY),
                      ("huanancheng", "华南城园区", PARK)]),
    ("bantian", "坂田", [("nankeng", "南坑社区", COMMUNITY), ("gangtou", "岗头社区", COMMUNITY),
                       ("wuhe", "五和社区", COMMUNITY), ("maantang", "马安堂社区", COMMUNITY),
                       ("tianan-cloud", "天安云谷园区", PARK)]),
    ("buji", "布吉", [("dafen", "大芬社区", COMMUNITY), ("mumianwan", "木棉湾社区", COMMUNITY),
                    ("changlong", "长龙社区", COMMUNITY)]),
    ("nanwan", "南湾", [("shawan", "沙湾社区", COMMUNITY), ("danzhutou", "丹竹头社区", COMMUNITY),
                      ("nanling", "南岭村社区", COMMUNITY)]),
    ("henggang", "横岗", [("liuyue", "六约社区", COMMUNITY), ("silian", "四联社区", COMMUNITY),
                        ("henggang", "横岗社区", COMMUNITY)]),
    ("longcheng", "龙城", [("zhangbei", "嶂背社区", COMMUNITY),
                         ("huilongpu", "回龙埔社区", COMMUNITY),
                         ("ailian", "爱联社区", COMMUNITY), ("longxi", "龙西社区", COMMUNITY)]),
    ("longgang", "龙岗", [("nanlian", "南联社区", COMMUNITY), ("longdong", "龙东社区", COMMUNITY),
                        ("pingnan", "平南社区", COMMUNITY)]),
    ("pingdi", "坪地", [("pingdong", "坪东社区", COMMUNITY), ("pingxi", "坪西社区", COMMUNITY),
                      ("liulian", "六联社区", COMMUNITY)]),
    ("jihua", "吉华", [("gankeng", "甘坑社区", COMMUNITY), ("sanlian", "三联社区", COMMUNITY),
                     ("shuijing", "水径社区", COMMUNITY)]),
    ("baolong", "宝龙", [("longxin", "龙新社区", COMMUNITY), ("tongle", "同乐社区", COMMUNITY),
                       ("baolong-industrial", "宝龙工业园区", PARK)]),
    ("yuanshan", "园山", [("baoan", "保安社区", COMMUNITY), ("dakang", "大康社区", COMMUNITY),
                        ("heao", "荷坳社区", COMMUNITY)]),
]
INDUSTRIES = [("construction", "建筑业"), ("transport", "交通运输业"), ("education", "教育系统"),
              ("health", "卫生系统")]

SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何林罗郑梁谢宋唐许邓冯韩曹曾彭萧蔡潘田董袁"
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰志红建国海燕春梅文斌辉"
BRANDS = "华兴创宏达信安泰鑫隆盛恒源富丰利明通宇新科德嘉美晟昌凯锦瑞"
TRADES = ["电子科技", "精密机械", "塑胶制品", "服装", "物流", "通信技术", "五金制品", "包装材料",
          "印刷", "光电", "家具", "食品", "建筑工程", "餐饮管理", "物业管理"]
ROADS = ["环城路", "坂雪岗大道", "五和大道", "龙岗大道", "深惠路", "布龙路", "宝荷路", "吉华路"]


# --- organizations ---------------------------------------------------------------------

def _person(rng) -> str:
    return rng.choice(SURNAMES) + "".join(rng.choice(GIVEN) for _ in range(rng.randint(1, 2)))


def _contacts(rng, code, hooks=False) -> list[dict]:
    slug = code.replace(".", "-")
    chair = {"name": _person(rng), "role": "主席", "phone": f"0755-2{rng.randrange(10**7):07d}",
             "email": f"{slug}@gonghui.example.org", "webhook_url": None}
    if hooks:
        chair["webhook_url"] = f"https://hooks.gonghui.example.org/{slug}"
    officer = {"name": _person(rng), "role": "信息员", "phone": f"1{rng.randrange(3, 9)}"
               f"{rng.randrange(10**9):09d}", "email": None, "webhook_url": None}
    return [chair, officer]


def district_organizations(seed=SEED) -> list[dict]:
    """register_organization inputs, parents before children."""
    rng = random.Random(seed)
    items = [{
        "code": DISTRICT, "name": "龙岗区总工会", "kind": "district_federation",
        "party_organization": {"name": "中共深圳市龙岗区委", "kind": "district_committee"},
        "contacts": _contacts(rng, DISTRICT, hooks=True),
    }]
    for street_code, street, communities in STREETS:
        code = f"{DISTRICT}.{street_code}"
        items.append({
            "code": code, "name": f"{street}街道总工会", "kind": "street_federation",
            "parent_code": DISTRICT,
            "party_organization": {"name": f"中共深圳市龙岗区{street}街道工作委员会",
                                   "kind": "street_working_committee"},
            "contacts": _contacts(rng, code, hooks=True),
        })
        for community_code, community, kind in communities:
            child = f"{code}.{community_code}"
            if kind == PARK:
                name, party = f"{community}工会联合会", {
                    "name": f"{community}党委", "kind": "park_party_organization"}
            else:
                name, party = f"{community}工会联合会", {
                    "name": f"中共深圳市龙岗区{street}街道{community}综合委员会",
                    "kind": "community_party_committee"}
            items.append({"code": child, "name": name, "kind": kind, "parent_code": code,
                          "party_organization": party, "contacts": _contacts(rng, child)})
    for industry_code, industry in INDUSTRIES:
        code = f"{DISTRICT}.{industry_code}"
        items.append({
            "code": code, "name": f"龙岗区{industry}工会", "kind": "industry_union",
            "parent_code": DISTRICT,
            "party_organization": {"name": f"中共深圳市龙岗区{industry}委员会",
                                   "kind": "industry_party_committee"},
            "contacts": _contacts(rng, code),
        })
    return items


# --- credit codes ----------------------------------------------------------------------

_ORG_CODE_WEIGHTS = (3, 7, 9, 10, 5, 8, 4, 2)  # GB 11714 organization code
_ALNUM = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
_SPACE = 31 ** 6


def credit_code(number: int) -> str:
    """A valid, unique credit code for each ``number`` < 31**6, scattered like real ones:
    registered in Shenzhen Longgang (440307), a company (91), a new-style 'MA' code."""
    scrambled = (number * 387_420_489 + 1_234_567) % _SPACE  # 9**9 is coprime with 31
    body = ""
    for _ in range(6):
        scrambled, digit = divmod(scrambled, 31)
        body += CREDIT_CODE_CHARSET[digit]
    org = "MA" + body
    check = 11 - sum(_ALNUM.index(c) * w for c, w in zip(org, _ORG_CODE_WEIGHTS, strict=True)) % 11
    org += {10: "X", 11: "0"}.get(check, str(check))
    first17 = "91440307" + org
    return first17 + credit_code_check_digit(first17)


# --- enterprises -----------------------------------------------------------------------

def _fit_total(values, total, adjustable, minimum):
    """Spreads ``total - sum(values)`` over the ``adjustable`` positions, each >= minimum."""
    values = list(values)
    gap = total - sum(values)
    share, rest = divmod(gap, len(adjustable))
    for n, index in enumerate(adjustable):
        values[index] += share + (1 if n < rest else 0)
        if values[index] < minimum:
            raise ValueError("cannot fit the total with these values")
    return values


def _enterprise(rng, number, street, community_code, community, headcount, union_status,
                union_code=None, leader=None):
    row = {
        "credit_code": credit_code(number),
        "name": f"深圳市{rng.choice(BRANDS)}{rng.choice(BRANDS)}{rng.choice(TRADES)}有限公司",
        "address": f"深圳市龙岗区{street}街道{community}{rng.choice(ROADS)}{rng.randint(1, 999)}号",
        "community_code": community_code,
        "headcount": headcount,
        "union_status": union_status,
        "union_code": union_code,
    }
    if leader is not None:
        row.update(key_enterprise=True, assigned_leader=leader)
    elif headcount >= domain.KEY_ENTERPRISE_HEADCOUNT:
        row["key_enterprise"] = True  # flagged, no leader assigned yet
    return row


def _leaders(rng, street, count):
    titles = ["街道党工委副书记", "街道办事处副主任", "街道总工会主席", "街道党工委委员"]
    return [{"name": _person(rng), "title": f"{street}{rng.choice(titles)}",
             "phone": f"1{rng.randrange(3, 9)}{rng.randrange(10**9):09d}"}
            for _ in range(count)]


def nankeng_enterprises(rng, first_number=0) -> list[dict]:
    """227 enterprises, 10,200 workers, 42 own union, 176 covered, 9 without a union."""
    own = [860] + [rng.randint(40, 200) for _ in range(41)]
    covered = [rng.randint(3, 40) for _ in range(176)]
    none = [rng.randint(2, 12) for _ in range(9)]
    own = _fit_total(own, NANKENG_FIGURES["workers"] - sum(covered) - sum(none), range(1, 42),
                     domain.MIN_HEADCOUNT_FOR_OWN_UNION)
    leader = _leaders(rng, "坂田", 1)[0]
    # The first own-union enterprise is 南坑's key enterprise, with its assigned leader.
    kinds = ([("own", h, n == 0) for n, h in enumerate(own)]
             + [("covered", h, False) for h in covered] + [("none", h, False) for h in none])
    rng.shuffle(kinds)
    rows = []
    for number, (status, headcount, key) in enumerate(kinds, start=first_number):
        union_code = NANKENG if status == "covered" else None
        rows.append(_enterprise(rng, number, "坂田", NANKENG, "南坑社区", headcount, status,
                                union_code, leader if key else None))
    return rows


def _headcount(rng, company_share=COMPANY_SHARE) -> tuple[int, bool]:
    company = rng.random() < company_share
    mu, sigma = COMPANY_HEADCOUNT if company else MICRO_HEADCOUNT
    return max(1, min(MAX_HEADCOUNT, int(rng.lognormvariate(mu, sigma)))), company


def _union(rng, headcount, community_code):
    if headcount >= domain.MIN_HEADCOUNT_FOR_OWN_UNION and rng.random() < 0.25 + min(
            0.6, headcount / 2000):
        return "own", None
    if rng.random() < 0.85:
        return "covered", community_code
    return "none", None


def _places(street_code=None, exclude=()):
    return [(f"{DISTRICT}.{s}.{c}", street, name, s)
            for s, street, communities in STREETS for c, name, _ in communities
            if (street_code is None or s == street_code)
            and f"{DISTRICT}.{s}.{c}" not in exclude]


def _bantian_headcounts(rng, count, workers) -> list[int]:
    """``count`` headcounts adding up to ``workers``: 坂田 is an industrial street (more
    companies than the district's average), the gap to the total spread over them."""
    drawn = [_headcount(rng, company_share=0.3) for _ in range(count)]
    companies = [n for n, (_, company) in enumerate(drawn) if company]
    return _fit_total([h for h, _ in drawn], workers, companies, 1)


def generate_enterprises(total=SAMPLE_ENTERPRISES, seed=SEED):
    """District-shaped import rows: 南坑's 227 first, then 嶂背's 380, then the rest of
    坂田 (3,080 enterprises in the street), then ``total - 3,460`` elsewhere (fewer when
    ``total`` is smaller: the rows stop at ``total``)."""
    rng = random.Random(seed)
    number = 0
    for row in nankeng_enterprises(rng):
        if number == total:
            return
        yield row
        number += 1
    leaders = {s: _leaders(rng, street, 13) for s, street, _ in STREETS}

    def place_row(place, headcount):
        code, street, community, street_code = place
        status, union_code = _union(rng, headcount, code)
        leader = None
        if headcount >= domain.KEY_ENTERPRISE_HEADCOUNT or rng.random() < 0.002:
            leader = rng.choice(leaders[street_code])
        return _enterprise(rng, number, street, code, community, headcount, status,
                           union_code, leader)

    zhangbei = _places("longcheng")[0]
    bantian = _places("bantian", exclude=(NANKENG,))
    bantian_count = BANTIAN_FIGURES["enterprises"] - NANKENG_FIGURES["enterprises"]
    bantian_heads = _bantian_headcounts(rng, bantian_count, BANTIAN_FIGURES["workers"]
                                        - NANKENG_FIGURES["workers"])
    planned = ([(zhangbei, _headcount(rng)[0]) for _ in range(ZHANGBEI_ENTERPRISES)]
               + [(bantian[rng.randrange(len(bantian))], h) for h in bantian_heads])
    elsewhere = _places(exclude=[p[0] for p in _places("bantian")] + [zhangbei[0]])
    while number < total:
        if planned:
            place, headcount = planned.pop(0)
        else:
            place, headcount = elsewhere[rng.randrange(len(elsewhere))], _headcount(rng)[0]
        yield place_row(place, headcount)
        number += 1


def register_organizations(db, items, caller=LOADER):
    """Registers ``items`` (register_organization inputs, parents first), each as the RPC
    entrypoint would: loaded with the contract, then the use case."""
    schema = NewOrganizationSchema()
    for data in items:
        with db.unit_of_work() as uow:
            operations.register_organization(uow, load(schema, data), caller)


def load_sample(db, enterprises=SAMPLE_ENTERPRISES, seed=SEED, progress=None) -> dict:
    """Registers the district's organizations and imports ``enterprises`` enterprises."""
    register_organizations(db, district_organizations(seed))
    rows = enumerate(generate_enterprises(enterprises, seed), start=1)
    report = import_rows(db, rows, LOADER, progress=progress)
    if report.rejected:
        raise RuntimeError(f"the sample has rejected rows: {report.errors[:3]}")
    return {"organizations": len(district_organizations(seed)), **report.as_dict()}


def sample_size(env=os.environ) -> int:
    """Enterprises the first run registers (``REGISTRY_SAMPLE_ENTERPRISES``): the
    district's 320,000 unless told (about 25 s on SQLite), never fewer than the 6,000 the
    other services' samples count on (disputes waits for them)."""
    text = env.get("REGISTRY_SAMPLE_ENTERPRISES", str(DISTRICT_FIGURES["enterprises"]))
    try:
        count = int(text)
    except ValueError:
        count = 0
    if count < SAMPLE_ENTERPRISES:
        raise ValueError(f"REGISTRY_SAMPLE_ENTERPRISES must be a whole number of at least "
                         f"{SAMPLE_ENTERPRISES:,}, got {text!r}")
    return count


def prepare(database_url, migrations_dir):
    """First run (``gonghui up``): migrate the registry and load the sample district into
    a registry that has no district yet (``sample_size()`` enterprises)."""
    size = sample_size()
    db = open_database(database_url, "registry", migrations_dir)
    try:
        with db.session() as session:
            district = views.district_code(session)
        if district is None:
            summary = load_sample(db, enterprises=size)
            yield (f"loaded the sample district: {summary['organizations']} organizations, "
                   f"{summary['created']} enterprises (南坑 is {NANKENG})")
        else:
            yield f"the district {district} is registered already; sample not loaded"
    finally:
        db.engine.dispose()
