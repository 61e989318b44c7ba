"""Issue 3 end to end: registry, disputes, notifications and gateway on the real broker.

The registry is the only source of the tree: the disputes and notifications read models
fill from its events. A worker reports through the gateway's public API; the case
reaches the 南坑 community union, climbs to 坂田 and the district unacknowledged, stops
when acknowledged; a major matter reaches the party committees at once; the reward
ledger follows the case; killing the disputes service mid-stream loses no case and
tells nobody twice.
"""

import eventlet
import pytest
from nameko.testing.services import entrypoint_hook
from sqlalchemy import func, select, update

from services.disputes.service import DisputesService
from services.gateway import accounts
from services.gateway.service import GatewayService
from services.notifications.models import notifications as notifications_table
from services.notifications.service import NotificationsService
from services.registry.sample import credit_code
from services.registry.service import RegistryService
from shared.db import open_database, outbox_table
from tests.gateway.conftest import Client
from tests.notifications.conftest import fast_policy
from tests.notifications.test_service import eventually, told

pytestmark = pytest.mark.usefixtures("rabbit_config")

DISTRICT, BANTIAN = "longgang", "longgang.bantian"
NANKENG = "longgang.bantian.nankeng"
FACTORY = credit_code(7)
BASE = "/api/v1/disputes"
TREE = [
    {"code": DISTRICT, "name": "龙岗区总工会", "kind": "district_federation",
     "party_organization": {"name": "中共深圳市龙岗区委", "kind": "district_committee"}},
    {"code": BANTIAN, "name": "坂田街道总工会", "kind": "street_federation",
     "parent_code": DISTRICT,
     "party_organization": {"name": "坂田街道党工委", "kind": "street_working_committee"}},
    {"code": NANKENG, "name": "南坑社区工联会", "kind": "community_federation",
     "parent_code": BANTIAN,
     "party_organization": {"name": "南坑社区综合党委", "kind": "community_party_committee"}},
]


def call(container, method, *args, **kwargs):
    with entrypoint_hook(container, method) as hook:
        return hook(*args, **kwargs)


@pytest.fixture
def district(container_factory, make_service_config, tmp_path):
    urls = {name: f"sqlite:///{tmp_path}/{name}.db"
            for name in ("registry", "disputes", "notifications", "gateway")}
    configs = {
        "registry": make_service_config(urls["registry"]),
        "disputes": make_service_config(urls["disputes"]),
        "notifications": make_service_config(
            urls["notifications"], NOTIFICATIONS_POLICY=fast_policy(1.5),
            NOTIFICATIONS_DEADLINE_POLL_SECONDS=0.05),
        "gateway": make_service_config(urls["gateway"]),
    }
    classes = {"disputes": DisputesService, "notifications": NotificationsService,
               "registry": RegistryService, "gateway": GatewayService}
    containers = {}
    # Consumers first: an event published before its queue exists would reach nobody.
    for name in ("disputes", "notifications", "registry", "gateway"):
        containers[name] = container_factory(classes[name], configs[name])
        containers[name].start()
    registry = containers["registry"]
    for organization in TREE:
        call(registry, "register_organization", organization)
    call(registry, "register_enterprise", {
        "credit_code": FACTORY, "name": "南坑五金制品厂", "address": "坂田南坑村一巷1号",
        "community_code": NANKENG, "headcount": 80, "union_status": "covered"})
    disputes_db = open_database(urls["disputes"], "disputes", run_migrations=False)
    eventually(lambda: disputes_db.engine.connect().exec_driver_sql(
        "SELECT count(*) FROM enterprises").scalar() == 1, timeout=15)
    disputes_db.engine.dispose()
    gateway_db = open_database(urls["gateway"], "gateway", run_migrations=False)
    with gateway_db.unit_of_work() as uow:
        tokens = {name: accounts.create_user(uow.session, name, role, org)[1]
                  for name, role, org in (("admin", "admin", DISTRICT),
                                          ("nankeng", "staff", NANKENG))}
    gateway_db.engine.dispose()
    client = Client(configs["gateway"]["WEB_SERVER_ADDRESS"])
    return containers, configs, urls, client, tokens


def report(client, **changes):
    body = {"credit_code": FACTORY, "category": "unpaid_wages", "workers_affected": 6,
            "amount_owed": "30000.00", "description": "拖欠两个月工资"}
    body.update(changes)
    response = client.post(f"{BASE}/reports", body)
    assert response.status_code == 201, response.text
    return response.json()


def only_case(client, token, **query):
    cases = client.get(f"{BASE}/cases", token=token).json()
    return [c for c in cases if all(c[k] == v for k, v in query.items())]


def test_a_report_at_a_nankeng_enterprise_climbs_the_chain_until_acknowledged(district):
    containers, configs, _, client, tokens = district
    receipt = report(client)
    [case] = eventually(lambda: only_case(client, tokens["nankeng"]))
    notified = configs["notifications"]
    assert eventually(lambda: told(notified, case["id"])) == {(NANKENG, "union")}
    eventually(lambda: (BANTIAN, "union") in told(notified, case["id"]), timeout=8)
    eventually(lambda: (DISTRICT, "union") in told(notified, case["id"]), timeout=8)
    call(containers["notifications"], "acknowledge", case["id"], DISTRICT, "区总工会值班员")
    eventually(lambda: any(line["kind"] == "acknowledged" for line in client.get(
        f"{BASE}/cases/{case['id']}", token=tokens["admin"]).json()["timeline"]))
    audit = call(containers["notifications"], "case_audit", case["id"])
    eventlet.sleep(2)  # past another deadline: nothing more happens
    assert call(containers["notifications"], "case_audit", case["id"]) == audit
    assert [e["action"] for e in audit].count("escalated") == 2

    # the standard process and the reward ledger, followed by the informant's receipt
    url = f"{BASE}/cases/{case['id']}/transitions"
    for step in ({"status": "verified"},
                 {"status": "handling", "handled_by_tier": "community", "joint": False},
                 {"status": "resolved", "wages_recovered": 30000, "workers_covered": 6}):
        assert client.post(url, step, token=tokens["nankeng"]).status_code == 200
    status = client.post(f"{BASE}/receipts/status",
                         {"receipt_code": receipt["receipt_code"]}).json()
    assert status["status"] == "resolved"
    assert [(r["stage"], r["amount"], r["status"]) for r in status["rewards"]] == [
        ("verified", "100.00", "pending"), ("resolved", "50.00", "pending")]  # routine


def test_a_major_matter_reaches_every_party_committee_at_once(district):
    _, configs, _, client, tokens = district
    report(client, category="boss_absconded", workers_affected=40,
           description="老板失联，工人聚集讨薪")
    [case] = eventually(lambda: only_case(client, tokens["nankeng"], grade="major"))
    assert case["grade_rule"] == "major.boss_absconded"
    party = eventually(lambda: {code for code, kind in told(configs["notifications"],
                                                            case["id"]) if kind == "party"})
    assert party == {NANKENG, BANTIAN, DISTRICT}


def test_killing_disputes_mid_stream_loses_no_case_and_tells_nobody_twice(
        district, container_factory):
    containers, configs, urls, client, tokens = district
    reports = [{"credit_code": None, "name": f"南坑小厂{number}", "address": "南坑",
                "community_code": NANKENG, "category": "other", "workers_affected": 3,
                "amount_owed": "1000", "description": f"第{number}号报告"}
               for number in range(8)]
    disputes_db = open_database(urls["disputes"], "disputes", run_migrations=False)

    def unpublished():
        with disputes_db.session() as session:
            return session.execute(select(func.count()).select_from(outbox_table).where(
                outbox_table.c.published_at.is_(None))).scalar()

    created = [call(containers["disputes"], "submit_report", body) for body in reports[:4]]
    eventually(lambda: unpublished() == 0)
    # The service dies in the worst places: after the broker confirmed the first events but
    # before they were marked sent (so they go again), and with the last ones committed
    # but never sent.
    next(d for d in containers["disputes"].dependencies if d.attr_name == "db").relay.stop()
    created += [call(containers["disputes"], "submit_report", body) for body in reports[4:]]
    with disputes_db.unit_of_work() as uow:
        uow.session.execute(update(outbox_table).values(published_at=None))
    assert unpublished() >= 8
    containers["disputes"].kill()
    restarted = container_factory(DisputesService, configs["disputes"])
    restarted.start()  # takes over the relay lease once the dead holder's runs out

    case_ids = {result["case_id"] for result in created}
    assert len(case_ids) == 8
    notifications_db = open_database(urls["notifications"], "notifications",
                                     run_migrations=False)

    def told_each():
        with notifications_db.session() as session:
            rows = session.execute(
                select(notifications_table.c.case_id, func.count())
                .where(notifications_table.c.case_id.in_(case_ids),
                       notifications_table.c.reason == "opened")
                .group_by(notifications_table.c.case_id)).all()
        return len(rows) == 8 and rows

    rows = eventually(told_each, timeout=40)
    eventually(lambda: unpublished() == 0, timeout=10)
    eventlet.sleep(0.5)  # duplicates, if any, have arrived by now
    rows = told_each()
    notifications_db.engine.dispose()
    disputes_db.engine.dispose()
    # opened once each: only the community union (later rows are escalations, by design)
    assert {count for _, count in rows} == {1}
