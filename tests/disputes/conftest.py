"""Fixtures for the disputes tests: a migrated database with a small piece of Longgang.

The registry's read model is filled the way events would fill it (``apply_*``), so the
domain tests need no broker.
"""

from datetime import UTC, datetime

import pytest
from nameko.testing.services import replace_dependencies
from sqlalchemy import create_engine, inspect, text

from services.disputes import domain, operations, readmodel, views
from services.disputes.service import MIGRATIONS, DisputesService
from services.gateway.service import GatewayService
from shared.api import disputes as contract
from shared.caller import Caller
from shared.db import migrate
from shared.schemas import load
from shared.testing import outbox_envelopes
from tests.conftest import gateway_tokens
from tests.gateway.conftest import Client
from tests.gateway.fakes import FakeRegistry

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

# Callers as the gateway hands them over (``shared.caller``).
DISTRICT_ADMIN = Caller("admin@longgang", "admin", DISTRICT)
NANKENG_STAFF = Caller("staff@nankeng", "staff", NANKENG)
ZHANGBEI_STAFF = Caller("staff@zhangbei", "staff", ZHANGBEI)
BANTIAN_VIEWER = Caller("viewer@bantian", "viewer", BANTIAN)


# The tests' DISPUTES_PII_KEY; every test runs with it in the environment, so a service
# started without one in its config never writes a development key into var/.
TEST_KEY = "d1" * 32
KEYS = domain.load_keys({domain.ENV: TEST_KEY})


@pytest.fixture(autouse=True)
def pii_key(monkeypatch):
    monkeypatch.setenv(domain.ENV, TEST_KEY)


def at(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)


def fill_read_model(session):
    for organization in ORGANIZATIONS:
        readmodel.registry.apply_organization(session, organization, None)
    for enterprise in ENTERPRISES:
        readmodel.registry.apply_enterprise(session, enterprise, None)


def filled(db):
    """``db`` with the read model filled."""
    with db.unit_of_work() as uow:
        fill_read_model(uow.session)
    return db


@pytest.fixture
def database(db_url, database_factory):
    """A migrated disputes database (both backends) with the read model filled."""
    return filled(database_factory(db_url, "disputes", MIGRATIONS))


@pytest.fixture
def sqlite_database(sqlite_url, database_factory):
    return filled(database_factory(sqlite_url, "disputes", MIGRATIONS))


def report_data(**overrides) -> dict:
    """A report as the API receives it (validated by the schema)."""
    data = {"credit_code": FACTORY, "category": "unpaid_wages", "workers_affected": 12,
            "amount_owed": "86000.00", "description": "两个月工资未发，老板称资金紧张"}
    data.update(overrides)
    return load(contract.ReportSchema(), {k: v for k, v in data.items()
                                                 if v is not None})


def file_report(db, when, informant=None, **overrides) -> dict:
    """Submit a report the way the service does; an anonymous informant when none given."""
    data = report_data(**overrides)
    with db.unit_of_work() as uow:
        if informant is None:
            informant, _ = operations.register_informant(uow.session, "anonymous", when)
        result = operations.submit_report(uow, data, informant, when)
    result["informant"] = informant
    return result


def officer(db, organization=NANKENG, name="王信息员", phone="13800000000"):
    with db.unit_of_work() as uow:
        return operations.register_informant(uow.session, "officer", at(2025, 1, 1),
                                             organization,
                                             {"real_name": name, "phone": phone},
                                             with_token=True, keys=KEYS)


def walk(read_page, limit: int) -> list:
    """Every item of a list, read page by page (``read_page(cursor)``) as a client
    would; each page holds at most ``limit`` and only the last says it is the last."""
    items, cursor = [], None
    while True:
        page = read_page(cursor)
        assert len(page["items"]) <= limit
        items += page["items"]
        if (cursor := page["next_cursor"]) is None:
            return items
        assert len(page["items"]) == limit


def published(db, type_=None) -> list[dict]:
    """Events written to the outbox so far: [{"type", "data"}] in order."""
    events = [{"type": body["type"], "data": body["data"]} for body in outbox_envelopes(db)]
    return [event for event in events if type_ is None or event["type"] == type_]


def step_data(status, data) -> dict:
    """What a step of the standard process takes, as the service loads it."""
    status = load(contract.StepTargetSchema(), {"status": status})["status"]
    return load(contract.TRANSITION_SCHEMAS[status](), data, f"{status} rejected")


def move(db, case_id, status, when, actor=None, **data) -> dict:
    data = step_data(status, data)
    with db.unit_of_work() as uow:
        return operations.change_status(uow, case_id, status, data, actor or NANKENG_STAFF, when)


def view(db, case_id, actor=DISTRICT_ADMIN) -> dict:
    with db.session() as session:
        return views.case_view(session, case_id, actor)


# --- a gateway in front of a disputes service ----------------------------------------

GATEWAY_USERS = {"district_admin": ("admin", DISTRICT), "nankeng_staff": ("staff", NANKENG),
                 "bantian_viewer": ("viewer", BANTIAN), "zhangbei_staff": ("staff", ZHANGBEI),
                 "bantian_admin": ("admin", BANTIAN)}


@pytest.fixture
def stack(container_factory, make_service_config, database_factory, tmp_path):
    """A gateway and a disputes service on one broker vhost; returns (client, tokens)."""
    return make_stack(container_factory, make_service_config, database_factory, tmp_path)


def make_stack(container_factory, make_service_config, database_factory, tmp_path,
               service=DisputesService, **gateway_settings):
    """``stack`` with another disputes service class or gateway settings."""
    disputes_url = f"sqlite:///{tmp_path}/disputes.db"
    filled(database_factory(disputes_url, "disputes", MIGRATIONS))
    disputes = container_factory(service, make_service_config(
        disputes_url, DISPUTES_RATE_LIMITS={"source": (4, 3600)}))
    disputes.start()
    gateway_config = make_service_config(f"sqlite:///{tmp_path}/gateway.db",
                                         **gateway_settings)
    gateway = container_factory(GatewayService, gateway_config)
    replace_dependencies(gateway, registry_rpc=FakeRegistry())
    gateway.start()
    tokens = gateway_tokens(gateway_config["DATABASE_URL"], GATEWAY_USERS)
    return Client(gateway_config["WEB_SERVER_ADDRESS"]), tokens


# --- sealed identities ----------------------------------------------------------------

NAME, PHONE = "王秀英", "13912345678"
OTHER_KEY = "e2" * 32  # a DISPUTES_PII_KEY that did not seal them


def raw_dump(url) -> bytes:
    """Every row of every table, read with plain SQL: what a stolen copy would hold."""
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            tables = inspect(connection).get_table_names()
            rows = [row for table in tables
                    for row in connection.execute(text(f'SELECT * FROM "{table}"'))]
    finally:
        engine.dispose()
    return b"".join(bytes(value) if isinstance(value, bytes | memoryview)
                    else str(value).encode() for row in rows for value in row)


def reveal(db, informant, keys=KEYS, reason="支付奖励 #1"):
    with db.unit_of_work() as uow:
        return operations.reveal_identity(uow, informant, reason, DISTRICT_ADMIN, at(2025, 3, 1, 2),
                                      keys)


def audit(db, informant):
    with db.session() as session:
        return views.reveals(session, informant)


def clear_text_database(url):
    """A database at revision 0002 (identities in clear) holding two informants."""
    migrate(url, MIGRATIONS, "0002")
    engine = create_engine(url)
    with engine.begin() as connection:
        for informant, kind, name, phone in (("I-OLDOFFICR", "officer", NAME, PHONE),
                                             ("I-OLDANONYM", "anonymous", "李四", None)):
            connection.execute(text(
                "INSERT INTO informants (id, kind, active, created_at) "
                "VALUES (:id, :kind, :active, :at)"),
                {"id": informant, "kind": kind, "active": True,
                 "at": datetime(2024, 5, 1, tzinfo=UTC)})
            connection.execute(text(
                "INSERT INTO identities (informant_id, real_name, phone) "
                "VALUES (:id, :name, :phone)"), {"id": informant, "name": name, "phone": phone})
    engine.dispose()
