"""Fixtures for incubation: its database on each backend with a piece of Longgang in the
registry read model (as the registry's events would leave it), callers, and a running
service.
"""

from datetime import date, timedelta
from decimal import Decimal

import pytest

from services.incubation import operations, readmodel
from services.incubation.domain import today_in
from services.incubation.service import MIGRATIONS, IncubationService
from shared.api.incubation import account_code
from shared.api.registry import credit_code_check_digit
from shared.caller import Caller
from shared.testing import outbox_envelopes
from shared.timeutil import now_utc

DISTRICT, BANTIAN, LONGCHENG = "longgang", "longgang.bantian", "longgang.longcheng"
NANKENG, GANGTOU = "longgang.bantian.nankeng", "longgang.bantian.gangtou"
ZHANGBEI = "longgang.longcheng.zhangbei"
FACTORY = "91440300MA5DA0001X"  # an enterprise in 南坑 (the read model checks no digit)

ORGANIZATIONS = [
    {"code": DISTRICT, "name": "龙岗区总工会", "kind": "district_federation",
     "tier": "district", "parent_code": None, "path": [DISTRICT]},
    {"code": BANTIAN, "name": "坂田街道总工会", "kind": "street_federation", "tier": "street",
     "parent_code": DISTRICT, "path": [DISTRICT, BANTIAN]},
    {"code": LONGCHENG, "name": "龙城街道总工会", "kind": "street_federation",
     "tier": "street", "parent_code": DISTRICT, "path": [DISTRICT, LONGCHENG]},
    {"code": NANKENG, "name": "南坑社区工联会", "kind": "community_federation",
     "tier": "community", "parent_code": BANTIAN, "path": [DISTRICT, BANTIAN, NANKENG]},
    {"code": GANGTOU, "name": "岗头社区工联会", "kind": "community_federation",
     "tier": "community", "parent_code": BANTIAN, "path": [DISTRICT, BANTIAN, GANGTOU]},
    {"code": ZHANGBEI, "name": "嶂背社区工联会", "kind": "community_federation",
     "tier": "community", "parent_code": LONGCHENG, "path": [DISTRICT, LONGCHENG, ZHANGBEI]},
]
ENTERPRISES = [
    {"credit_code": FACTORY, "name": "南坑五金制品厂", "community_code": NANKENG,
     "path": [DISTRICT, BANTIAN, NANKENG], "headcount": 80, "union_status": "covered",
     "union_code": NANKENG, "key_enterprise": False, "status": "active"},
]

HUB_STAFF = Caller("孵化基地王主任", "staff", DISTRICT)
DISTRICT_VIEWER = Caller("区总工会观察员", "viewer", DISTRICT)
BANTIAN_STAFF = Caller("坂田工会李干事", "staff", BANTIAN)
LONGCHENG_STAFF = Caller("龙城工会陈干事", "staff", LONGCHENG)
NANKENG_VIEWER = Caller("南坑观察员", "viewer", NANKENG)


def own_account(organization_id, role="staff") -> Caller:
    return Caller(f"机构{organization_id}账号", role, account_code(organization_id))


def social_credit_code(number: int) -> str:
    first17 = f"52440307MJL{number:06d}"
    return first17 + credit_code_check_digit(first17)


def today() -> date:
    return today_in(now_utc())


def write(db, operation, *args):
    with db.unit_of_work() as uow:
        return operation(uow, *args)


def read(db, view, *args):
    with db.session() as session:
        return view(session, *args)


def outbox(db) -> list:
    return [(body["type"], body["data"]) for body in outbox_envelopes(db)]


def fill_registry(session):
    for data in ORGANIZATIONS:
        readmodel.apply_organization(session, data, None)
    for data in ENTERPRISES:
        readmodel.apply_enterprise(session, data, None)


def member_event(worker_id, status="active", membership_id=None, credit_code=FACTORY,
                 path=(DISTRICT, BANTIAN, NANKENG)) -> dict:
    return {"membership_id": membership_id or worker_id + 1000, "worker_id": worker_id,
            "union_code": NANKENG, "enterprise_credit_code": credit_code,
            "organization_path": list(path), "status": status}


@pytest.fixture
def db(db_url, database_factory):
    database = database_factory(db_url, "incubation", MIGRATIONS)
    with database.unit_of_work() as uow:
        fill_registry(uow.session)
    return database


def application(name="龙岗区彩虹职工法律服务中心", kind="legal_aid", home=NANKENG, **extra):
    return {"name": name, "service_kind": kind, "home_code": home, "places": [],
            "contacts": [{"name": "李晓红", "role": "理事长", "phone": "0755-28900001"}],
            "credit_code": None, "registered_on": None, "hub": False,
            "reason": "申请入驻孵化", "applied_on": None, **extra}


def transition(stage, reason="按规定办理", **extra):
    return {"stage": stage, "reason": reason, "effective_on": None, "plan": None,
            "incubation_deadline": None, **extra}


PLAN = {"mentor": "陈导师", "training": ["财务管理"],
        "milestones": [{"title": "完成民政登记", "due_on": date(2030, 6, 30), "done": False}]}


def scores(value) -> dict:
    return {name: Decimal(value) for name in ("basic_conditions", "internal_governance",
                                              "work_performance", "social_evaluation")}


def assessment(value, assessed_on=None) -> dict:
    return {"assessed_on": assessed_on or today(), "evaluator": "广东省社会组织评估中心",
            "assessors": [{"name": "专家组", "scores": scores(value)}]}


def activity(organization_id, place=NANKENG, held_on=None, beneficiaries=(), kind="legal_aid",
             participants=None) -> dict:
    named = [{"worker_id": item, "ref": None} if isinstance(item, int)
             else {"worker_id": None, "ref": item} for item in beneficiaries]
    return {"organization_id": organization_id, "kind": kind, "title": "劳动法律知识讲座",
            "held_on": held_on or today(), "place_code": place, "hours": Decimal("2.5"),
            "participants": participants or max(1, len(named)), "beneficiaries": named}


def incubating(db, caller=HUB_STAFF, **fields) -> dict:
    """An organization admitted and incubating (with a plan)."""
    organization = write(db, operations.add_organization, application(**fields), caller)
    write(db, operations.change_stage, organization["id"], transition("admitted"), caller)
    return write(db, operations.change_stage, organization["id"],
                 transition("incubating", plan=PLAN), caller)


def graded(db, value, caller=HUB_STAFF, registered=True, **fields) -> dict:
    """An incubating organization, registered, holding the grade ``value`` scores give."""
    organization = incubating(db, caller, **fields)
    if registered:
        write(db, operations.update_organization, organization["id"],
              {"credit_code": social_credit_code(organization["id"])}, caller)
    write(db, operations.record_assessment, organization["id"], assessment(value), caller)
    return read(db, lambda session, key: operations.views.get_organization(
        session, key, caller), organization["id"])


def in_days(days: int) -> date:
    return today() + timedelta(days=days)


@pytest.fixture
def running_incubation(container_factory, make_service_config, database_factory):
    """``running_incubation(url, **config)``: IncubationService started on a database whose
    registry read model already holds the places above."""

    def start(url, **config):
        database = database_factory(url, "incubation", MIGRATIONS)
        with database.unit_of_work() as uow:
            fill_registry(uow.session)
        container = container_factory(IncubationService, make_service_config(url, **config))
        container.start()
        return container

    return start
