"""Issue 3 end to end: registry, disputes, notifications and gateway on the real broker.

The registry is the only source of the tree: the disputes and notifications read models
fill from its events. A worker reports through the gateway's public API; the case
reaches the 南坑 community union, climbs to 坂田 and the district unacknowledged, stops
when acknowledged; a major matter reaches the party committees at once; the reward
ledger follows the case; killing the disputes service mid-stream loses no case and
tells nobody twice.

Every service reaches RabbitMQ through one TCP proxy (``District.broker``): cutting it
takes the broker from all of them at once, as a broker restart does, while the shared
broker stays up for the rest of the suite. With reports streaming in through the gateway
(5/s, a major matter in five), the broker is cut for 5 s, in flight (the sender's
bytes reach the broker, its confirm never comes back): every report is still accepted
(201) within the gateway's deadline, filed once in a case of its own, and each
recipient its grade names is told of the opening exactly once; every outbox drains.
A second cut outlasting the deadline gets a 504 (outcome unknown) at the deadline for
each report, and none of them is filed once the broker is back.
"""

import time
from typing import NamedTuple

import eventlet
import pytest
import requests
from sqlalchemy import func, select, update

from services.disputes.models import cases as cases_table
from services.disputes.models import reports as reports_table
from services.disputes.service import DisputesService
from services.gateway.dependencies import DEFAULT_RPC_TIMEOUT
from services.gateway.service import GatewayService
from services.notifications.models import inbox_messages
from services.notifications.models import notifications as notifications_table
from services.notifications.policy import Policy
from services.notifications.service import NotificationsService
from services.registry.sample import credit_code
from services.registry.service import RegistryService
from shared import deadlines
from shared.db import outbox_table
from shared.testing import TcpProxy, call, database_provider, eventually, unpublished
from tests.conftest import gateway_tokens
from tests.gateway.conftest import Client
from tests.notifications.conftest import DISTRICT_STAFF, fast_policy, told

pytestmark = pytest.mark.usefixtures("rabbit_config")

DISTRICT, BANTIAN = "longgang", "longgang.bantian"
NANKENG = "longgang.bantian.nankeng"
FACTORY = credit_code(7)
BASE = "/api/v1/disputes"
OUTAGE_SECONDS = 5  # about what a broker restart takes here (~6 s, ENGINEERING.md)
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


class District(NamedTuple):
    containers: dict
    configs: dict
    urls: dict
    client: Client
    tokens: dict
    broker: TcpProxy  # every service reaches RabbitMQ through it: cut it, all lose it


@pytest.fixture
def district(container_factory, make_service_config, database_factory, tcp_proxy,
             rabbit_config, tmp_path):
    broker = tcp_proxy(5672)
    amqp_uri = broker.rewrite(rabbit_config["AMQP_URI"])
    urls = {name: f"sqlite:///{tmp_path}/{name}.db"
            for name in ("registry", "disputes", "notifications", "gateway")}
    configs = {
        "registry": make_service_config(urls["registry"], AMQP_URI=amqp_uri),
        "disputes": make_service_config(urls["disputes"], AMQP_URI=amqp_uri,
                                        DISPUTES_RATE_LIMITS={"source": (1000, 3600)}),
        "notifications": make_service_config(
            urls["notifications"], AMQP_URI=amqp_uri, NOTIFICATIONS_POLICY=fast_policy(1.5),
            NOTIFICATIONS_DEADLINE_POLL_SECONDS=0.05),
        # Every informant of these streams is 127.0.0.1: during an outage their waiting
        # requests pass the per-client connection limit meant for one person.
        # The deadline leaves the outage, the services' reconnection under load and the
        # commit margin (RPC_COMMIT_MARGIN: no commit in the last second) room enough.
        "gateway": make_service_config(urls["gateway"], AMQP_URI=amqp_uri,
                                       HTTP_CONNECTIONS_PER_CLIENT=200,
                                       GATEWAY_RPC_TIMEOUT=12),
    }
    classes = {"disputes": DisputesService, "notifications": NotificationsService,
               "registry": RegistryService, "gateway": GatewayService}
    containers = {}
    # Consumers first: an event published before its queue exists would reach nobody.
    for name in ("disputes", "notifications", "registry", "gateway"):
        containers[name] = container_factory(classes[name], configs[name])
        containers[name].start()
    registry = containers["registry"]
    admin = {"name": "区总工会管理员", "role": "admin", "organization_code": DISTRICT}
    for organization in TREE:
        call(registry, "register_organization", organization, admin)
    call(registry, "register_enterprise", {
        "credit_code": FACTORY, "name": "南坑五金制品厂", "address": "坂田南坑村一巷1号",
        "community_code": NANKENG, "headcount": 80, "union_status": "covered"}, admin)
    disputes_db = database_factory(urls["disputes"], "disputes", run_migrations=False)
    eventually(lambda: disputes_db.engine.connect().exec_driver_sql(
        "SELECT count(*) FROM enterprises").scalar() == 1, timeout=15)
    tokens = gateway_tokens(urls["gateway"], {"admin": ("admin", DISTRICT),
                                              "nankeng": ("staff", NANKENG)})
    client = Client(configs["gateway"]["WEB_SERVER_ADDRESS"])
    return District(containers, configs, urls, client, tokens, broker)


def report(client, **changes):
    body = {"credit_code": FACTORY, "category": "unpaid_wages", "workers_affected": 6,
            "amount_owed": "30000.00", "description": "拖欠两个月工资"}
    body.update(changes)
    response = client.post(f"{BASE}/reports", body)
    assert response.status_code == 201, response.text
    return response.json()


def only_case(client, token, **query):
    cases = client.get(f"{BASE}/cases", token=token).json()["items"]
    return [c for c in cases if all(c[k] == v for k, v in query.items())]


def test_a_report_at_a_nankeng_enterprise_climbs_the_chain_until_acknowledged(district):
    containers, configs, _, client, tokens, _ = district
    receipt = report(client)
    [case] = eventually(lambda: only_case(client, tokens["nankeng"]))
    notified = configs["notifications"]
    assert eventually(lambda: told(notified, case["id"])) == {(NANKENG, "union")}
    eventually(lambda: (BANTIAN, "union") in told(notified, case["id"]), timeout=8)
    eventually(lambda: (DISTRICT, "union") in told(notified, case["id"]), timeout=8)
    call(containers["notifications"], "acknowledge", case["id"], {"organization_code": DISTRICT},
         DISTRICT_STAFF.as_dict())
    eventually(lambda: any(line["kind"] == "acknowledged" for line in client.get(
        f"{BASE}/cases/{case['id']}", token=tokens["admin"]).json()["timeline"]))
    audit = call(containers["notifications"], "case_audit", case["id"],
                 DISTRICT_STAFF.as_dict(), {"limit": 500})["items"]
    eventlet.sleep(2)  # past another deadline: nothing more happens
    assert call(containers["notifications"], "case_audit", case["id"],
                DISTRICT_STAFF.as_dict(), {"limit": 500})["items"] == audit
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
    _, configs, _, client, tokens, _ = district
    report(client, category="boss_absconded", workers_affected=40,
           description="老板失联，工人聚集讨薪")
    [case] = eventually(lambda: only_case(client, tokens["nankeng"], grade="major"))
    assert case["grade_rule"] == "major.boss_absconded"
    party = eventually(lambda: {code for code, kind in told(configs["notifications"],
                                                            case["id"]) if kind == "party"})
    assert party == {NANKENG, BANTIAN, DISTRICT}


def test_killing_disputes_mid_stream_loses_no_case_and_tells_nobody_twice(
        district, container_factory, database_factory):
    containers, configs, urls, _, _, _ = district
    reports = [{"credit_code": None, "name": f"南坑小厂{number}", "address": "南坑",
                "community_code": NANKENG, "category": "other", "workers_affected": 3,
                "amount_owed": "1000", "description": f"第{number}号报告"}
               for number in range(8)]
    disputes_db = database_factory(urls["disputes"], "disputes", run_migrations=False)
    created = [call(containers["disputes"], "submit_report", body) for body in reports[:4]]
    eventually(lambda: unpublished(disputes_db) == 0)
    # The service dies in the worst places: after the broker confirmed the first events but
    # before they were marked sent (so they go again), and with the last ones committed
    # but never sent.
    database_provider(containers["disputes"]).relay.stop()
    created += [call(containers["disputes"], "submit_report", body) for body in reports[4:]]
    with disputes_db.unit_of_work() as uow:
        uow.session.execute(update(outbox_table).values(published_at=None))
    assert unpublished(disputes_db) >= 8
    containers["disputes"].kill()
    restarted = container_factory(DisputesService, configs["disputes"])
    restarted.start()  # takes over the relay lease once the dead holder's runs out

    case_ids = {result["case_id"] for result in created}
    assert len(case_ids) == 8
    notifications_db = database_factory(urls["notifications"], "notifications",
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
    eventually(lambda: unpublished(disputes_db) == 0, timeout=10)
    eventlet.sleep(0.5)  # duplicates, if any, have arrived by now
    rows = told_each()
    # opened once each: only the community union (later rows are escalations, by design)
    assert {count for _, count in rows} == {1}


def post_report(address, name, major=False):
    """One anonymous report through the gateway: what came back, and how long it took."""
    body = {"credit_code": None, "name": name, "address": "南坑", "community_code": NANKENG,
            "category": "boss_absconded" if major else "other",
            "workers_affected": 40 if major else 3, "amount_owed": "1000",
            "description": f"{name}拖欠工资"}
    started = time.monotonic()
    try:
        response = requests.post(f"http://{address}{BASE}/reports", json=body, timeout=60)
        status, answer = response.status_code, response.json()
    except requests.RequestException as exc:  # no answer at all: the assertions say so
        status, answer = None, repr(exc)
    return {"name": name, "started": started, "took": time.monotonic() - started,
            "status": status, "answer": answer}


def stream(address, prefix, count, per_second):
    """``count`` reports at a steady rate, each in its own green thread (one that hangs
    holds up no other), a major matter now and then: ``[thread.wait() ...]`` gives them."""
    return [eventlet.spawn_after(n / per_second, post_report, address, f"{prefix}{n}",
                                 major=n % 5 == 4)
            for n in range(count)]


def test_restarting_the_broker_mid_stream_loses_no_report_and_tells_nobody_twice(
        district, database_factory):
    configs, urls, broker = district.configs, district.urls, district.broker
    databases = {name: database_factory(url, name, run_migrations=False)
                 for name, url in urls.items()}
    address = configs["gateway"]["WEB_SERVER_ADDRESS"]
    deadline = float(configs["gateway"].get("GATEWAY_RPC_TIMEOUT", DEFAULT_RPC_TIMEOUT))
    # room for the services to reconnect, and for the commit margin
    assert OUTAGE_SECONDS < deadline - 3 - deadlines.COMMIT_MARGIN

    # 5 reports/s for 10 s; every service loses RabbitMQ at once from 2 s to 7 s
    threads = stream(address, "南坑流水厂", 50, per_second=5)
    eventlet.sleep(1.95)
    # Cut as the next bytes go out (most often the gateway sending the 10th report): the
    # broker has them, the sender never hears back and sends again; a delivery in
    # progress comes back too. Each must still take effect once.
    assert broker.cut_in_flight()
    cut_at = time.monotonic()
    eventlet.sleep(OUTAGE_SECONDS)
    broker.restore()
    posts = [thread.wait() for thread in threads]
    # a restart shorter than the gateway's deadline costs informants time, not reports
    assert [post for post in posts if post["status"] != 201] == []
    assert max(post["took"] for post in posts) < deadline
    assert broker.dropped > 0
    during = [post for post in posts if cut_at <= post["started"] < cut_at + OUTAGE_SECONDS]
    assert len(during) >= 4 * OUTAGE_SECONDS

    # an outage past the deadline: a 504 at the deadline (the gateway cannot tell whether
    # one of its tries to publish reached the broker: a report, so the outcome is unknown
    # and the informant resends with its Idempotency-Key), and nothing filed later
    broker.cut()
    refused = [thread.wait() for thread in stream(address, "南坑停摆厂", 4, per_second=2)]
    broker.restore()
    assert {post["status"] for post in refused} == {504}
    assert {post["answer"]["code"] for post in refused} == {"OUTCOME_UNKNOWN"}
    assert all(deadline <= post["took"] < deadline + 2 for post in refused)
    # the services are back within the deadline; a refused request still queued would
    # have run before this one
    last = post_report(address, "南坑复工厂")
    assert last["status"] == 201, last
    accepted = {post["answer"]["report"]: post["name"] for post in [*posts, last]}

    with databases["disputes"].session() as session:
        filed = session.execute(select(
            reports_table.c.pseudonym, reports_table.c.enterprise_name, cases_table.c.id,
            cases_table.c.grade, cases_table.c.reports_count).join(cases_table)).all()
    # each accepted report filed once, in a case of its own; the refused ones nowhere
    assert {row.pseudonym: row.enterprise_name for row in filed} == accepted
    assert len({row.id for row in filed}) == len(accepted)
    assert {row.reports_count for row in filed} == {1}
    grades = {row.id: row.grade for row in filed}
    assert set(grades.values()) == {"routine", "major"}

    # every case reaches notifications: each recipient its grade names is told of the
    # opening exactly once (one notification, one inbox notice), and no one else is
    chain = {"community": NANKENG, "street": BANTIAN, "district": DISTRICT}
    policy = Policy.load(configs["notifications"]["NOTIFICATIONS_POLICY"])
    expected = sorted((case_id, chain[tier], kind) for case_id, grade in grades.items()
                      for tier in policy.ladder for kind, _ in policy.at_once(grade, tier))
    def told_of_openings():
        with databases["notifications"].session() as session:
            return sorted(tuple(row) for row in session.execute(
                select(notifications_table.c.case_id, notifications_table.c.organization_code,
                       notifications_table.c.recipient_kind)
                .join(inbox_messages,
                      inbox_messages.c.notification_id == notifications_table.c.id)
                .where(notifications_table.c.reason == "opened",
                       inbox_messages.c.message_kind == "notice")))

    eventually(lambda: len(told_of_openings()) >= len(expected), timeout=30)
    # every outbox drains: nothing waits unpublished once the broker is back
    eventually(lambda: not any(unpublished(db) for db in databases.values()), timeout=15)
    eventlet.sleep(0.5)  # duplicates, if any, have arrived by now
    assert told_of_openings() == expected
