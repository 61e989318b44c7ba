"""Incubation and notifications together on the real broker: when an incubation period
nears its end, the hub's staff (the district federation that runs the hub) find one
reminder in their inbox, however often the event comes."""

from datetime import timedelta

import pytest
from kombu import Connection, Exchange
from nameko.testing.services import entrypoint_waiter

from services.incubation.service import MIGRATIONS as INCUBATION_MIGRATIONS
from services.incubation.service import IncubationService
from services.notifications.service import NotificationsService
from shared.testing import call, outbox_envelopes
from shared.timeutil import now_utc
from tests.incubation.conftest import HUB_STAFF, NANKENG, fill_registry
from tests.notifications.conftest import DISTRICT, DISTRICT_STAFF, MIGRATIONS, seed_chain


@pytest.fixture
def services(container_factory, make_service_config, database_factory, tmp_path):
    incubation_url = f"sqlite:///{tmp_path}/incubation.db"
    incubation_db = database_factory(incubation_url, "incubation", INCUBATION_MIGRATIONS)
    with incubation_db.unit_of_work() as uow:
        fill_registry(uow.session)
    notifications_url = f"sqlite:///{tmp_path}/notifications.db"
    with database_factory(notifications_url, "notifications", MIGRATIONS).unit_of_work() as uow:
        seed_chain(uow.session)
    incubation = container_factory(IncubationService, make_service_config(incubation_url))
    notifications = container_factory(NotificationsService,
                                      make_service_config(notifications_url))
    notifications.start()
    incubation.start()
    return incubation, incubation_db, notifications


def reminders(notifications):
    page = call(notifications, "inbox", DISTRICT, DISTRICT_STAFF.as_dict())
    return [item for item in page["items"] if item["kind"] == "reminder"]


def test_the_hub_is_reminded_once_of_an_incubation_period_nearing_its_end(services,
                                                                            rabbit_config):
    incubation, incubation_db, notifications = services
    staff = HUB_STAFF.as_dict()
    created = call(incubation, "add_organization", {
        "name": "龙岗区彩虹职工法律服务中心", "service_kind": "legal_aid", "home_code": NANKENG,
        "contacts": [{"name": "李晓红", "phone": "0755-28900001"}]}, staff)
    soon = (now_utc() + timedelta(days=10)).date().isoformat()
    call(incubation, "change_stage", created["id"], {
        "stage": "admitted", "reason": "评审通过", "incubation_deadline": soon}, staff)
    with entrypoint_waiter(notifications, "handle_incubation_deadline_approaching",
                           timeout=15):
        call(incubation, "watch_deadlines")
    call(incubation, "watch_deadlines")  # raised once per period
    [reminder] = reminders(notifications)
    assert reminder["case_id"] == f"incubation:{created['id']}:{soon}"
    assert "龙岗区彩虹职工法律服务中心" in reminder["title"] and soon in reminder["title"]
    assert reminder["message"]["incubation"]["organization_id"] == created["id"]
    # the broker delivering the event again changes nothing
    [envelope] = [body for body in outbox_envelopes(incubation_db)
                  if body["type"] == "incubation_deadline_approaching"]
    with entrypoint_waiter(notifications, "handle_incubation_deadline_approaching",
                           timeout=15):
        with Connection(rabbit_config["AMQP_URI"]) as connection:
            connection.Producer().publish(
                envelope, exchange=Exchange("incubation.events", type="topic", durable=True),
                routing_key=envelope["type"], serializer="json")
    assert len(reminders(notifications)) == 1
