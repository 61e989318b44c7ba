"""Fixtures for the competitions tests: a migrated database holding a small piece of
Longgang in its read models (filled the way events fill them), callers, and helpers
that run a competition from nomination to awards."""

from datetime import UTC, datetime, timedelta

import pytest

from services.competitions import operations, readmodel
from services.competitions.service import MIGRATIONS
from shared.caller import Caller
from shared.testing import outbox_envelopes

DISTRICT = "longgang"
BANTIAN, PINGDI = "longgang.bantian", "longgang.pingdi"
NANKENG, PINGDONG = "longgang.bantian.nankeng", "longgang.pingdi.pingdong"
CONSTRUCTION = "longgang.construction"

# Credit codes: an own-union plant and a covered workshop in 南坑, a shop with no union
# in 南坑, and a covered factory in 坪东.
NK_PLANT = "91440300MA5DC0001A"
NK_WORKSHOP = "91440300MA5DC0002B"
NK_SHOP = "91440300MA5DC0003C"
PD_FACTORY = "91440300MA5DD0001D"
NK_PLANT_UNION = f"{NANKENG}.{NK_PLANT.lower()}"


def organization(code, name, kind, tier, parent=None):
    path = (parent["path"] if parent else []) + [code]
    return {"code": code, "name": name, "kind": kind, "tier": tier,
            "parent_code": parent["code"] if parent else None, "path": path,
            "party_organization": None}


_district = organization(DISTRICT, "龙岗区总工会", "district_federation", "district")
_bantian = organization(BANTIAN, "坂田街道总工会", "street_federation", "street", _district)
_pingdi = organization(PINGDI, "坪地街道总工会", "street_federation", "street", _district)
_nankeng = organization(NANKENG, "南坑社区工会联合会", "community_federation", "community",
                        _bantian)
_pingdong = organization(PINGDONG, "坪东社区工会联合会", "community_federation", "community",
                         _pingdi)
ORGANIZATIONS = [
    _district, _bantian, _pingdi, _nankeng, _pingdong,
    organization(CONSTRUCTION, "龙岗区建筑业工会", "industry_union", "street", _district) |
    {"tier": "district"},
    organization(NK_PLANT_UNION, "南坑电子厂工会", "enterprise_union", "enterprise", _nankeng),
]


def enterprise(code, name, community, union_status, union_code=None, headcount=200):
    parent = {NANKENG: _nankeng, PINGDONG: _pingdong}[community]
    return {"credit_code": code, "name": name, "community_code": community,
            "path": list(parent["path"]), "headcount": headcount, "key_enterprise": False,
            "union_status": union_status, "union_code": union_code, "status": "active"}


ENTERPRISES = [
    enterprise(NK_PLANT, "南坑电子科技有限公司", NANKENG, "own", NK_PLANT_UNION, 900),
    enterprise(NK_WORKSHOP, "南坑五金制品厂", NANKENG, "covered", NANKENG, 40),
    enterprise(NK_SHOP, "南坑小商店", NANKENG, "none", None, 6),
    enterprise(PD_FACTORY, "愉升龙五金制品有限公司", PINGDONG, "covered", PINGDONG, 300),
]

T0 = datetime(2016, 3, 1, 9, 0, tzinfo=UTC)
DISTRICT_ADMIN = Caller("district-admin", "admin", DISTRICT)
DISTRICT_STAFF = Caller("staff@longgang", "staff", DISTRICT)
BANTIAN_STAFF = Caller("staff@bantian", "staff", BANTIAN)
PINGDI_STAFF = Caller("staff@pingdi", "staff", PINGDI)
NANKENG_STAFF = Caller("staff@nankeng", "staff", NANKENG)
PLANT_UNION = Caller("chair@plant", "staff", NK_PLANT_UNION)


def member_event(worker_id, credit_code, status="active", membership_id=None):
    found = next(e for e in ENTERPRISES if e["credit_code"] == credit_code)
    return {"membership_id": membership_id or worker_id, "worker_id": worker_id,
            "union_code": found["union_code"] or found["community_code"],
            "enterprise_credit_code": credit_code, "organization_path": found["path"],
            "status": status}


def fill(db, members=()):
    """The read models as the registry's and membership's events leave them."""
    with db.unit_of_work() as uow:
        for data in ORGANIZATIONS:
            readmodel.registry.apply_organization(uow.session, data, T0)
        for data in ENTERPRISES:
            readmodel.registry.apply_enterprise(uow.session, data, T0)
        for worker_id, credit_code in members:
            readmodel.memberships.apply_membership(uow.session,
                                                   member_event(worker_id, credit_code), T0)
    return db


@pytest.fixture
def database(db_url, database_factory):
    return fill(database_factory(db_url, "competitions", MIGRATIONS))


@pytest.fixture
def sqlite_database(sqlite_url, database_factory):
    return fill(database_factory(sqlite_url, "competitions", MIGRATIONS))


def write(db, operation, *args, **kwargs):
    with db.unit_of_work() as uow:
        return operation(uow, *args, **kwargs)


def read(db, view, *args, **kwargs):
    with db.session() as session:
        return view(session, *args, **kwargs)


def published(db, type_=None) -> list[dict]:
    events = [{"type": body["type"], "data": body["data"]} for body in outbox_envelopes(db)]
    return [event for event in events if type_ is None or event["type"] == type_]


def at(days=0, hours=0) -> datetime:
    return T0 + timedelta(days=days, hours=hours)


def nomination_data(worker_id, credit_code, nominated_by, group="innovation", **facts):
    return {"edition_id": "2016", "group": group, "worker_id": worker_id,
            "name": f"职工{worker_id}", "enterprise_credit_code": credit_code,
            "nominated_by": nominated_by, "statement": "技术革新，带徒传艺",
            "attachments": [], "facts": facts or {"years_on_front_line": 5}}


def edition(db, when=T0) -> dict:
    write(db, operations.create_edition, {"id": "2016", "year": 2016,
                                          "title": "龙岗区2016年“职工之星”评选",
                                          "rules_version": None}, DISTRICT_ADMIN, when)
    return {r["stage"] + ":" + r["organization_code"]: r
            for r in read(db, operations.edition_rounds, "2016")}


def round_id(rounds: dict, stage: str, code: str = DISTRICT) -> int:
    return rounds[f"{stage}:{code}"]["id"]


def open_(db, rounds, stage, code=DISTRICT, caller=DISTRICT_STAFF, when=T0, **kwargs):
    return write(db, operations.open_round, round_id(rounds, stage, code), caller, when,
                 **kwargs)


def close(db, rounds, stage, code=DISTRICT, caller=DISTRICT_STAFF, when=T0):
    return write(db, operations.close_round, round_id(rounds, stage, code), caller, when)


def judge_caller(user_name) -> Caller:
    return Caller(user_name, "judge", CONSTRUCTION)
