"""Fixtures for the disputes tests: a migrated database with a small piece of Longgang.

The registry's read model is filled the way events would fill it (``apply_*``), so the
domain tests need no broker.
"""

from datetime import UTC, datetime

import pytest

from services.disputes import domain
from services.disputes.service import MIGRATIONS
from shared.db import open_database

DISTRICT = "longgang"
BANTIAN = "longgang.bantian"
NANKENG = "longgang.bantian.nankeng"
LONGCHENG = "longgang.longcheng"
ZHANGBEI = "longgang.longcheng.zhangbei"

ORGANIZATIONS = [
    {"code": DISTRICT, "name": "龙岗区总工会", "kind": "district_federation",
     "tier": "district", "path": [DISTRICT]},
    {"code": BANTIAN, "name": "坂田街道总工会", "kind": "street_federation", "tier": "street",
     "path": [DISTRICT, BANTIAN]},
    {"code": NANKENG, "name": "南坑社区工联会", "kind": "community_federation",
     "tier": "community", "path": [DISTRICT, BANTIAN, NANKENG]},
    {"code": LONGCHENG, "name": "龙城街道总工会", "kind": "street_federation",
     "tier": "street", "path": [DISTRICT, LONGCHENG]},
    {"code": ZHANGBEI, "name": "嶂背社区工联会", "kind": "community_federation",
     "tier": "community", "path": [DISTRICT, LONGCHENG, ZHANGBEI]},
]

# Credit codes in the right alphabet; the registry checks the check digit, not disputes.
FACTORY = "91440300MA5DA0001X"  # an ordinary factory in 南坑
KEY_PLANT = "91440300MA5DA0002Y"  # a key enterprise in 南坑
ZB_FACTORY = "91440300MA5DB0001W"  # a factory in 嶂背

ENTERPRISES = [
    {"credit_code": FACTORY, "name": "南坑五金制品厂", "address": "坂田南坑村一巷1号",
     "community_code": NANKENG, "path": [DISTRICT, BANTIAN, NANKENG], "headcount": 80,
     "union_status": "covered", "key_enterprise": False, "status": "active"},
    {"credit_code": KEY_PLANT, "name": "南坑电子科技有限公司", "address": "坂田南坑工业区",
     "community_code": NANKENG, "path": [DISTRICT, BANTIAN, NANKENG], "headcount": 900,
     "union_status": "own", "key_enterprise": True, "status": "active"},
    {"credit_code": ZB_FACTORY, "name": "嶂背塑胶厂", "address": "龙城嶂背二村",
     "community_code": ZHANGBEI, "path": [DISTRICT, LONGCHENG, ZHANGBEI], "headcount": 60,
     "union_status": "covered", "key_enterprise": False, "status": "active"},
]

DISTRICT_ADMIN = {"user": "admin@longgang", "role": "admin", "organization_code": DISTRICT}
NANKENG_STAFF = {"user": "staff@nankeng", "role": "staff", "organization_code": NANKENG}
ZHANGBEI_STAFF = {"user": "staff@zhangbei", "role": "staff", "organization_code": ZHANGBEI}
BANTIAN_VIEWER = {"user": "viewer@bantian", "role": "viewer", "organization_code": BANTIAN}


def at(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)


def fill_read_model(session):
    for organization in ORGANIZATIONS:
        domain.apply_organization(session, organization)
    for enterprise in ENTERPRISES:
        domain.apply_enterprise(session, enterprise)


@pytest.fixture
def database(db_url):
    """A migrated disputes database (both backends) with the read model filled."""
    db = open_database(db_url, "disputes", MIGRATIONS)
    with db.unit_of_work() as uow:
        fill_read_model(uow.session)
    yield db
    db.engine.dispose()


@pytest.fixture
def sqlite_database(sqlite_url):
    db = open_database(sqlite_url, "disputes", MIGRATIONS)
    with db.unit_of_work() as uow:
        fill_read_model(uow.session)
    yield db
    db.engine.dispose()
