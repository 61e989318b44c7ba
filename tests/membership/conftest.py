"""Fixtures for membership: a migrated database, keys, callers, and registry snapshots
(what the registry's events carry) for a small piece of 坂田 street."""

import csv

import pytest

from services.membership import readmodel
from services.membership.domain import MemberKeys, id_check_digit
from services.membership.service import MIGRATIONS
from shared.caller import Caller

TEST_KEY = "11" * 32
DISTRICT, STREET = "longgang", "longgang.bantian"
NANKENG, GANGTOU = "longgang.bantian.nankeng", "longgang.bantian.gangtou"
HUAWEI, SMALL, OTHER = "91440300TEST00001A", "91440300TEST00002B", "91440300TEST00003C"
HUAWEI_UNION = "longgang.bantian.nankeng.u-huawei"

ADMIN = Caller("区总管理员", "admin", DISTRICT)
NANKENG_STAFF = Caller("南坑工联会", "staff", NANKENG)
GANGTOU_STAFF = Caller("岗头工联会", "staff", GANGTOU)
NANKENG_VIEWER = Caller("统计员", "viewer", NANKENG)


def id_number(seq: int, birth="19900101", region="440307") -> str:
    body = f"{region}{birth}{seq:03d}"
    return body + id_check_digit(body)


def organization(code, parent, kind, tier, path):
    return {"code": code, "name": code.rsplit(".", 1)[-1], "kind": kind, "tier": tier,
            "parent_code": parent, "path": path, "party_organization": None,
            "enterprise_credit_code": None}


def enterprise(credit_code, community=NANKENG, headcount=100, union_status="covered",
               union_code=None, status="active", **extra):
    path = [DISTRICT, STREET, community]
    return {"credit_code": credit_code, "name": f"企业{credit_code[-3:]}", "address": None,
            "community_code": community, "path": path, "headcount": headcount,
            "union_status": union_status,
            "union_code": union_code if union_code is not None else community,
            "key_enterprise": False, "assigned_leader": None, "status": status, **extra}


TREE = [
    organization(DISTRICT, None, "district_federation", "district", [DISTRICT]),
    organization(STREET, DISTRICT, "street_federation", "street", [DISTRICT, STREET]),
    organization(NANKENG, STREET, "community_federation", "community",
                 [DISTRICT, STREET, NANKENG]),
    organization(GANGTOU, STREET, "community_federation", "community",
                 [DISTRICT, STREET, GANGTOU]),
    organization(HUAWEI_UNION, NANKENG, "enterprise_union", "enterprise",
                 [DISTRICT, STREET, NANKENG, HUAWEI_UNION]),
]
ENTERPRISES = [
    enterprise(HUAWEI, headcount=1000, union_status="own", union_code=HUAWEI_UNION),
    enterprise(SMALL, headcount=20),
    enterprise(OTHER, community=GANGTOU, headcount=300),
]


@pytest.fixture
def keys():
    return MemberKeys(bytes.fromhex(TEST_KEY))


@pytest.fixture
def db(db_url, database_factory):
    return database_factory(db_url, "membership", MIGRATIONS)


@pytest.fixture
def sqlite_db(sqlite_url, database_factory):
    return database_factory(sqlite_url, "membership", MIGRATIONS)


def load_registry(database):
    """The read model as the registry's events would leave it."""
    with database.unit_of_work() as uow:
        for data in TREE:
            readmodel.apply_organization(uow.session, data)
        for data in ENTERPRISES:
            readmodel.apply_enterprise(uow.session, data)


@pytest.fixture
def running_membership(container_factory, make_service_config, database_factory):
    """``running_membership(url, **config)``: MembershipService started on a database that
    already holds the registry's tree (as its events would have left it)."""

    def start(url, **config):
        from services.membership.service import MembershipService

        load_registry(database_factory(url, "membership", MIGRATIONS))
        container = container_factory(MembershipService, dict(
            make_service_config(url), MEMBERSHIP_PII_KEY=TEST_KEY, **config))
        container.start()
        return container

    return start


@pytest.fixture
def district(db):
    load_registry(db)
    return db


@pytest.fixture
def sqlite_district(sqlite_db):
    load_registry(sqlite_db)
    return sqlite_db


# --- helpers of the use-case tests ----------------------------------------------------

def application(seq=1, credit_code=HUAWEI, phone="13800138000", name="李四"):
    return {"name": name, "id_number": id_number(seq), "phone": phone,
            "enterprise_credit_code": credit_code}


def join(database, keys, seq=1, credit_code=HUAWEI, **extra) -> dict:
    """An active member at ``credit_code``, entered and approved by its community's staff."""
    from services.membership import operations

    staff = GANGTOU_STAFF if credit_code == OTHER else NANKENG_STAFF
    with database.unit_of_work() as uow:
        applied = operations.apply(uow, keys, application(seq, credit_code, **extra), staff,
                                   "staff")
    with database.unit_of_work() as uow:
        return operations.approve(uow, keys, applied["membership_id"], staff)


def rate(database, code) -> tuple[int, int]:
    """(members, workers) counted for ``code``."""
    from services.membership import views

    with database.session() as session:
        found = views.join_rate(session, code)
        return found.members, found.workers


def walk(database, read, between_pages=lambda: None) -> list[list[dict]]:
    """Every page ``read(session, cursor)`` gives, following next_cursor from the first."""
    pages, cursor = [], None
    while True:
        with database.session() as session:
            page = read(session, cursor)
        pages.append(page["items"])
        cursor = page["next_cursor"]
        if cursor is None:
            return pages
        between_pages()
        assert len(pages) < 20, "the cursor does not move forward"


def write_csv(path, rows, header=("name", "id_number", "phone", "enterprise_credit_code")):
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    return path
