"""The notifications service on the real broker: events in, timers firing, RPC out."""

import json
from datetime import UTC, datetime

import eventlet
import pytest
from eventlet import wsgi
from nameko.testing.services import entrypoint_waiter
from sqlalchemy import func, select, update

from services.notifications.adapters import verify_signature
from services.notifications.models import audit_entries, cases, deadlines
from services.notifications.service import NotificationsService
from shared.errors import Forbidden, InvalidInput, NotFound
from shared.testing import call, eventually
from shared.testing import publish_events as publish
from tests.notifications.conftest import (
    COMMUNITY,
    COMMUNITY_STAFF,
    DISTRICT,
    DISTRICT_STAFF,
    MIGRATIONS,
    ORGANIZATIONS,
    STREET,
    STREET_STAFF,
    case_data,
    fast_policy,
    make_notifier,
    opened,
    seed_chain,
    told,
)
from tests.shared.test_poison_messages import POISON, parked_by_id, publish_raw

pytestmark = pytest.mark.usefixtures("rabbit_config")

SECRET = "test-webhook-secret"


@pytest.fixture
def make_config(make_service_config):
    def make(url, seconds=1.0):
        return make_service_config(
            url, NOTIFICATIONS_POLICY=fast_policy(seconds),
            NOTIFICATIONS_DEADLINE_POLL_SECONDS=0.05, NOTIFICATIONS_DELIVERY_POLL_SECONDS=0.05,
            NOTIFICATIONS_WEBHOOK_SECRET=SECRET)
    return make


@pytest.fixture
def tap(event_tap):
    """(type, data) of what the service published on notifications.events since the last
    call."""
    events = event_tap("notifications")
    return lambda: [(body["type"], body["data"]) for body in events.drain()]


def test_a_case_on_the_broker_reaches_the_community_union_s_inbox(
        container_factory, make_config, sqlite_url, rabbit_config):
    config = make_config(sqlite_url, seconds=60)
    container = container_factory(NotificationsService, config)
    container.start()
    uri = rabbit_config["AMQP_URI"]
    for organization in ORGANIZATIONS:
        with entrypoint_waiter(container, "handle_organization_registered", timeout=10):
            publish(uri, "registry", "organization_registered", organization)
    with entrypoint_waiter(container, "handle_case_opened", timeout=10):
        publish(uri, "disputes", "case_opened", case_data(grade="routine"))

    inbox = call(container, "inbox", COMMUNITY, COMMUNITY_STAFF.as_dict())
    [message] = inbox["items"]
    assert inbox["next_cursor"] is None
    assert message["case_id"] == "case-1"
    assert message["message"]["recipient"]["name"] == "南坑社区工联会"
    assert datetime.fromisoformat(message["received_at"]).utcoffset() is not None
    assert told(config) == {(COMMUNITY, "union")}


def test_unacknowledged_it_climbs_on_the_timer_and_an_acknowledgement_stops_it(
        container_factory, make_config, sqlite_url, rabbit_config, tap):
    config = make_config(sqlite_url, seconds=1.5)
    container = container_factory(NotificationsService, config)
    container.start()
    with entrypoint_waiter(container, "handle_case_opened", timeout=10):
        publish(rabbit_config["AMQP_URI"], "disputes", "case_opened", case_data())

    eventually(lambda: (STREET, "union") in told(config), timeout=6)
    signed = call(container, "acknowledge", "case-1", {"organization_code": STREET},
                  STREET_STAFF.as_dict())
    assert (signed["acknowledged_by"], signed["already_acknowledged"]) == ("陈部长", False)
    eventlet.sleep(3.5)  # past the street's deadline: the district must not hear of it
    assert told(config) == {(COMMUNITY, "union"), (STREET, "union")}

    seen = []

    def escalated_and_acknowledged():
        seen.extend(tap())
        return {"case_escalated", "case_acknowledged"} <= {type_ for type_, _ in seen}

    eventually(escalated_and_acknowledged, timeout=5)
    [escalated] = [data for type_, data in seen if type_ == "case_escalated"]
    assert (escalated["from_tier"], escalated["to_tier"]) == ("community", "street")
    assert escalated["reason"] == "no acknowledgement within 1.5s (一般) at community"
    [acknowledged] = [data for type_, data in seen if type_ == "case_acknowledged"]
    assert (acknowledged["organization_code"], acknowledged["by"]) == (STREET, "陈部长")


def test_two_replicas_on_one_database_fire_each_deadline_once(
        container_factory, make_config, db_url, database_factory):
    """Deadlines written while no replica ran are due at start; both replicas race for them."""
    cases = 12
    database = database_factory(db_url, "notifications", MIGRATIONS)
    notifier = make_notifier(fast_policy(0.5))
    now = datetime.now(UTC)
    with database.unit_of_work() as uow:
        seed_chain(uow.session)
        for n in range(cases):
            notifier.open_case(uow, opened(f"case-{n}"), now)
    replicas = [container_factory(NotificationsService, make_config(db_url, seconds=0.5))
                for _ in range(2)]
    for replica in replicas:
        replica.start()

    def count(action):
        with database.session() as session:
            return session.execute(select(func.count()).where(
                audit_entries.c.action == action)).scalar()

    # per case: reminders at community (1 waiting), street (2), district (3), top (3)
    eventually(lambda: count("reminded") == 9 * cases, timeout=30)
    eventlet.sleep(1.0)  # anything left to fire twice would have fired by now
    with database.session() as session:
        open_left = session.execute(select(func.count()).where(
            deadlines.c.state == "open")).scalar()
    assert count("escalated") == 2 * cases  # community -> street -> district, once each
    assert count("escalation_exhausted") == cases
    assert count("reminded") == 9 * cases
    assert count("notified") == 3 * cases
    assert open_left == 0


@pytest.fixture
def receiver():
    """A webhook receiver that answers 503 to the first request, then 200."""
    calls = []

    def app(environ, start_response):
        body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
        calls.append((environ.get("HTTP_X_GONGHUI_SIGNATURE"),
                      environ.get("HTTP_X_GONGHUI_DELIVERY"), body))
        status = "503 Service Unavailable" if len(calls) == 1 else "200 OK"
        start_response(status, [("Content-Type", "text/plain")])
        return [b"ok"]

    listener = eventlet.listen(("127.0.0.1", 0))
    server = eventlet.spawn(wsgi.server, listener, app, log_output=False)
    yield f"http://127.0.0.1:{listener.getsockname()[1]}/hook", calls
    server.kill()


def test_a_signed_webhook_reaches_the_street_after_a_retry(
        container_factory, make_config, sqlite_url, receiver, database_factory):
    url, calls = receiver
    database = database_factory(sqlite_url, "notifications", MIGRATIONS)
    with database.unit_of_work() as uow:
        seed_chain(uow.session, webhooks={STREET: url})
    config = make_config(sqlite_url, seconds=60)
    container = container_factory(NotificationsService, config)
    container.start()
    with entrypoint_waiter(container, "handle_case_opened", timeout=10):
        publish(config["AMQP_URI"], "disputes", "case_opened", case_data(grade="urgent"))

    def delivered():
        entries = call(container, "case_audit", "case-1", DISTRICT_STAFF.as_dict())
        return [e for e in entries["items"] if e["channel"] == "webhook"
                and e["action"] == "delivered"]

    [entry] = eventually(delivered, timeout=10)
    assert (entry["organization_code"], entry["recipient_kind"]) == (STREET, "union")
    assert entry["detail"]["attempts"] == 2
    assert len(calls) == 2  # the street union (urgent), refused once then delivered
    for signature, delivery_id, body in calls:
        assert verify_signature(SECRET, body, signature)
        assert delivery_id == json.loads(body)["delivery_id"]
    assert calls[0][1] == calls[1][1]  # the same delivery id: the receiver can deduplicate


def test_bad_calls_get_a_clear_error_and_change_nothing(
        container_factory, make_config, sqlite_url, rabbit_config):
    config = make_config(sqlite_url, seconds=60)
    container = container_factory(NotificationsService, config)
    container.start()
    with entrypoint_waiter(container, "handle_case_opened", timeout=10):
        publish(rabbit_config["AMQP_URI"], "disputes", "case_opened", case_data())
    staff = COMMUNITY_STAFF.as_dict()

    def refused(error, method, *args):
        with pytest.raises(error) as caught:
            call(container, method, *args)
        return caught.value

    assert set(refused(InvalidInput, "acknowledge", "case-1", {}, staff).details) == {
        "organization_code"}
    # who signed is the caller: nobody can name someone else
    assert "by" in refused(InvalidInput, "acknowledge", "case-1",
                           {"organization_code": COMMUNITY, "by": "李主席"}, staff).details
    assert set(refused(InvalidInput, "acknowledge", "case-1",
                       {"organization_code": COMMUNITY},
                       {"user": "王主席", "role": "staff", "org_code": COMMUNITY}).details) == {
        "user", "org_code", "name", "organization_code"}
    stranger = refused(Forbidden, "acknowledge", "case-1", {"organization_code": DISTRICT},
                       DISTRICT_STAFF.as_dict())
    assert "was not notified" in stranger.message
    refused(NotFound, "case_audit", "nope", staff)
    refused(InvalidInput, "case_audit", "x" * 65, staff)
    bad_query = refused(InvalidInput, "inbox", COMMUNITY, staff,
                        {"limit": 0, "recipient_kind": "boss"})
    assert set(bad_query.details) == {"limit", "recipient_kind"}
    assert refused(InvalidInput, "case_notifications", "case-1", staff,
                   {"cursor": "not-a-cursor"}).details == {"cursor": ["invalid cursor"]}
    assert told(config) == {(COMMUNITY, "union")}
    assert call(container, "case_escalation", "case-1", staff)["acknowledged_at"] is None

    signed = call(container, "acknowledge", "case-1", {"organization_code": COMMUNITY}, staff)
    assert signed["acknowledged_by"] == "王主席"
    assert datetime.fromisoformat(signed["acknowledged_at"]).utcoffset() is not None
    view = call(container, "case_escalation", "case-1", staff)
    assert (view["acknowledged_by"], view["open_deadlines"]) == (COMMUNITY, [])


def test_a_replica_killed_mid_stream_loses_no_case_and_tells_nobody_twice(
        container_factory, make_config, sqlite_url, rabbit_config, database_factory):
    config = make_config(sqlite_url, seconds=60)
    first = container_factory(NotificationsService, config)
    first.start()
    handled = []
    total = 120  # cases arrive in batches of at most the prefetch (max_workers)

    def count_handled(worker_ctx, result, exc_info):
        handled.append(exc_info is None)
        return len(handled) >= 1  # kill after the first batch

    with entrypoint_waiter(first, "handle_case_opened", callback=count_handled, timeout=20):
        publish(config["AMQP_URI"], "disputes", "case_opened",
                *[case_data(f"case-{n}") for n in range(total)])
    first.kill()  # mid-stream: the rest are unacknowledged or not yet delivered

    database = database_factory(sqlite_url, "notifications", MIGRATIONS)

    def notified():
        with database.session() as session:
            return session.execute(select(func.count()).where(
                audit_entries.c.action == "notified")).scalar()

    assert notified() < total  # the kill really was mid-stream
    second_config = make_config(sqlite_url, seconds=60)  # same database and broker
    second = container_factory(NotificationsService, second_config)
    second.start()

    eventually(lambda: notified() >= total, timeout=20)
    eventlet.sleep(0.5)
    inbox = call(second, "inbox", COMMUNITY, COMMUNITY_STAFF.as_dict(),
                 {"limit": 200})["items"]
    assert notified() == total
    assert sorted(m["case_id"] for m in inbox) == sorted(f"case-{n}" for n in range(total))


def test_a_deadline_that_cannot_fire_is_postponed_and_does_not_hold_up_the_others(
        container_factory, make_config, sqlite_url, database_factory):
    database = database_factory(sqlite_url, "notifications", MIGRATIONS)
    notifier = make_notifier(fast_policy(0.3))
    now = datetime.now(UTC)
    with database.unit_of_work() as uow:
        seed_chain(uow.session)
        notifier.open_case(uow, opened("case-good"), now)
        notifier.open_case(uow, opened("case-broken"), now)
        # a case whose stored enterprise lost its place: working out its chain raises
        uow.session.execute(update(cases).where(cases.c.case_id == "case-broken")
                            .values(enterprise={"name": "坏数据"}))
    container = container_factory(NotificationsService, make_config(sqlite_url, seconds=0.3))
    container.start()

    def actions(case_id):
        with database.session() as session:
            return session.execute(select(audit_entries.c.action).where(
                audit_entries.c.case_id == case_id)).scalars().all()

    eventually(lambda: "escalated" in actions("case-good"), timeout=10)
    eventually(lambda: "deadline_postponed" in actions("case-broken"), timeout=10)
    assert "escalated" not in actions("case-broken")


def test_deadlines_keep_firing_through_a_broker_outage_and_every_event_gets_out(
        container_factory, make_config, sqlite_url, rabbit_config, tcp_proxy, tap,
        database_factory):
    """The broker is cut while escalations fall due: they happen anyway (the database is
    all they need) and their events leave once the broker is back, none lost."""
    db_url = sqlite_url  # the backend matters not here; the two-replica test covers both
    cases = 8
    database = database_factory(db_url, "notifications", MIGRATIONS)
    notifier = make_notifier(fast_policy(1.0))
    proxy = tcp_proxy(5672)
    config = make_config(db_url, seconds=1.0)
    config["AMQP_URI"] = proxy.rewrite(rabbit_config["AMQP_URI"])
    container = container_factory(NotificationsService, config)
    container.start()
    with database.unit_of_work() as uow:
        seed_chain(uow.session)
        for n in range(cases):
            notifier.open_case(uow, opened(f"case-{n}"), datetime.now(UTC))

    proxy.cut()
    eventlet.sleep(3.5)  # community -> street -> district, then the top of the chain
    with database.session() as session:
        escalated = session.execute(select(func.count()).where(
            audit_entries.c.action == "escalated")).scalar()
    assert escalated == 2 * cases  # fired while the broker was away
    proxy.restore()

    seen = {}

    def all_out():
        for type_, data in tap():
            if type_ == "case_escalated":
                seen.setdefault((data["case_id"], data["to_tier"]), 0)
                seen[(data["case_id"], data["to_tier"])] += 1
        return len(seen) == 2 * cases

    eventually(all_out, timeout=30)
    assert set(seen) == {(f"case-{n}", tier) for n in range(cases)
                         for tier in ("street", "district")}


def test_events_it_cannot_decode_are_parked_not_dropped(
        container_factory, make_config, sqlite_url, rabbit_config):
    """The three kinds issue 12 saw vanish (not JSON, bad UTF-8, 100k deep), sent to its
    batch consumer of cases and to a registry handler."""
    container = container_factory(NotificationsService, make_config(sqlite_url))
    container.start()
    uri = rabbit_config["AMQP_URI"]
    targets = {"disputes.events": "case_opened", "registry.events": "organization_registered"}
    for exchange, routing_key in targets.items():
        for kind in ("not-json", "bad-utf8", "too-deep"):
            body, content_type, headers, _ = POISON[kind]
            publish_raw(uri, exchange, routing_key, f"{routing_key}/{kind}", body,
                        content_type, headers)
    parked = parked_by_id(uri, "notifications", 6)
    assert {message["queue"] for message in parked.values()} == {
        "evt-disputes-case_opened--notifications.handle_case_opened",
        "evt-registry-organization_registered--notifications.handle_organization_registered"}
    assert all(message["error"].startswith("undecodable message")
               for message in parked.values())
