"""Disputes and notifications together on the real broker: a report becomes a case, the
case climbs the 南坑 -> 坂田 -> district chain until acknowledged, and the acknowledgement
lands on the disputes case timeline."""

import pytest
from nameko.testing.services import entrypoint_waiter

from services.disputes.service import MIGRATIONS as DISPUTES_MIGRATIONS
from services.disputes.service import DisputesService
from services.notifications.service import NotificationsService
from shared.testing import call, eventually
from tests.disputes.conftest import FACTORY, NANKENG_STAFF, filled
from tests.disputes.fakes import src
from tests.notifications.conftest import (
    COMMUNITY,
    DISTRICT,
    DISTRICT_STAFF,
    MIGRATIONS,
    STREET,
    fast_policy,
    seed_chain,
    told,
)

pytestmark = pytest.mark.usefixtures("rabbit_config")


@pytest.fixture
def services(container_factory, make_service_config, database_factory, tmp_path):
    disputes_url = f"sqlite:///{tmp_path}/disputes.db"
    filled(database_factory(disputes_url, "disputes", DISPUTES_MIGRATIONS))
    notifications_url = f"sqlite:///{tmp_path}/notifications.db"
    with database_factory(notifications_url, "notifications", MIGRATIONS).unit_of_work() as uow:
        seed_chain(uow.session)
    disputes = container_factory(DisputesService, make_service_config(disputes_url))
    config = make_service_config(
        notifications_url, NOTIFICATIONS_POLICY=fast_policy(1.5),
        NOTIFICATIONS_DEADLINE_POLL_SECONDS=0.05)
    notifications = container_factory(NotificationsService, config)
    notifications.start()
    disputes.start()
    return disputes, notifications, config


def test_a_report_climbs_the_chain_until_acknowledged_and_the_case_timeline_says_so(services):
    disputes, notifications, config = services
    with entrypoint_waiter(notifications, "handle_case_opened", timeout=10):
        result = call(disputes, "submit_report", {
            "credit_code": FACTORY, "category": "unpaid_wages", "workers_affected": 6,
            "amount_owed": "30000.00", "description": "拖欠两个月工资"}, source=src("10.9.0.1"))
    case_id = result["case_id"]
    assert told(config, case_id) == {(COMMUNITY, "union")}  # routine: the community only

    eventually(lambda: (STREET, "union") in told(config, case_id), timeout=8)
    eventually(lambda: (DISTRICT, "union") in told(config, case_id), timeout=8)
    with entrypoint_waiter(disputes, "handle_case_acknowledged", timeout=10):
        call(notifications, "acknowledge", case_id, {"organization_code": DISTRICT},
             DISTRICT_STAFF.as_dict())
    timeline = call(disputes, "get_case", case_id, NANKENG_STAFF)["timeline"]
    assert [(t["kind"], t["actor"]) for t in timeline if t["kind"] == "acknowledged"] == [
        ("acknowledged", "区总工会值班员")]
    audit = call(notifications, "case_audit", case_id, DISTRICT_STAFF.as_dict())["items"]
    assert [e["action"] for e in audit].count("escalated") == 2
    assert audit[-1]["action"] == "escalation_stopped"


def test_a_major_matter_reaches_the_party_committees_at_once(services):
    disputes, notifications, config = services
    with entrypoint_waiter(notifications, "handle_case_opened", timeout=10):
        result = call(disputes, "submit_report", {
            "credit_code": FACTORY, "category": "boss_absconded", "workers_affected": 40,
            "amount_owed": "500000.00", "description": "老板失联，工人聚集讨薪"},
            source=src("10.9.0.2"))
    party = {code for code, kind in told(config, result["case_id"]) if kind == "party"}
    assert party == {COMMUNITY, STREET, DISTRICT}
