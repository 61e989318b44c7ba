"""Fixtures for the registry: its database on each backend, its entrypoints called
without a broker, a small tree, callers, helpers."""

import pytest
from nameko.testing.services import worker_factory

from services.registry.sample import credit_code
from services.registry.service import MIGRATIONS, RegistryService
from shared.testing import outbox_envelopes

DISTRICT, BANTIAN, LONGCHENG = "longgang", "longgang.bantian", "longgang.longcheng"
NANKENG, GANGTOU = "longgang.bantian.nankeng", "longgang.bantian.gangtou"
TIANAN, ZHANGBEI = "longgang.bantian.tianan", "longgang.longcheng.zhangbei"
CONSTRUCTION = "longgang.construction"


def caller(organization_code, role="admin", name=None):
    return {"name": name or f"{role}@{organization_code}", "role": role,
            "organization_code": organization_code}


ADMIN = caller(DISTRICT)  # the district's admin: everything is in scope
LEADER = {"name": "王伟", "title": "坂田街道办事处副主任", "phone": "13800000000"}


def party(name, kind):
    return {"name": name, "kind": kind}


CHAIR = {"name": "宋主席", "role": "主席", "phone": "0755-28000001"}

# A small district: two streets, three communities, a park, an industry union.
TREE = [
    {"code": DISTRICT, "name": "龙岗区总工会", "kind": "district_federation",
     "party_organization": party("中共深圳市龙岗区委", "district_committee"),
     "contacts": [CHAIR]},
    {"code": BANTIAN, "name": "坂田街道总工会", "kind": "street_federation",
     "parent_code": DISTRICT,
     "party_organization": party("坂田街道党工委", "street_working_committee")},
    {"code": LONGCHENG, "name": "龙城街道总工会", "kind": "street_federation",
     "parent_code": DISTRICT,
     "party_organization": party("龙城街道党工委", "street_working_committee")},
    {"code": NANKENG, "name": "南坑社区工会联合会", "kind": "community_federation",
     "parent_code": BANTIAN,
     "party_organization": party("南坑社区综合党委", "community_party_committee"),
     "contacts": [{"name": "南坑信息员", "role": "信息员", "email": "nk@example.org"}]},
    {"code": GANGTOU, "name": "岗头社区工会联合会", "kind": "community_federation",
     "parent_code": BANTIAN,
     "party_organization": party("岗头社区综合党委", "community_party_committee")},
    {"code": TIANAN, "name": "天安云谷园区工会联合会", "kind": "park_federation",
     "parent_code": BANTIAN,
     "party_organization": party("天安云谷园区党委", "park_party_organization")},
    {"code": ZHANGBEI, "name": "嶂背社区工会联合会", "kind": "community_federation",
     "parent_code": LONGCHENG,
     "party_organization": party("嶂背社区综合党委", "community_party_committee")},
    {"code": CONSTRUCTION, "name": "龙岗区建筑业工会", "kind": "industry_union",
     "parent_code": DISTRICT},
]


def enterprise(number, community=NANKENG, headcount=30, **fields):
    return {"credit_code": credit_code(number), "name": f"企业{number}",
            "community_code": community, "headcount": headcount, **fields}


def stats(registry, code) -> tuple:
    """(enterprises, workers, own_union, covered) of ``code``'s subtree."""
    figures = registry.statistics(code)
    return (figures["enterprises"], figures["workers"], figures["own_union"],
            figures["covered"])


def every_page(list_call, *args, limit, **kwargs) -> list[list]:
    """The items of each page of a cursor list, walked from the first to the last."""
    pages, cursor = [], None
    while True:
        page = list_call(*args, cursor=cursor, limit=limit, **kwargs)
        assert set(page) == {"items", "next_cursor"} and len(page["items"]) <= limit
        pages.append(page["items"])
        cursor = page["next_cursor"]
        if cursor is None:
            return pages


def outbox(db, envelopes=False) -> list:
    """(type, data) of every event written so far, in publishing order (or the envelopes)."""
    bodies = outbox_envelopes(db)
    return bodies if envelopes else [(body["type"], body["data"]) for body in bodies]


@pytest.fixture
def db(db_url, database_factory):
    return database_factory(db_url, "registry", MIGRATIONS)


@pytest.fixture
def registry(db):
    """The service's entrypoints on ``db``, called in the test's thread: arguments loaded
    and answers dumped by the contract as over RPC, without the broker."""
    return worker_factory(RegistryService, db=db)


@pytest.fixture
def tree(db, registry):
    for data in TREE:
        registry.register_organization(data, ADMIN)
    return db
