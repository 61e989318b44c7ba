"""Reliable consumption on the real broker: idempotency, bounded retry, dead letters."""

import json

import pytest
from kombu import Connection, Exchange
from nameko.testing.services import entrypoint_hook, entrypoint_waiter

from shared.consumers import list_dead_letters, replay_dead_letters
from shared.events import catalogue, make_envelope
from tests.shared.demo.service import DemoListener, DemoService

pytestmark = pytest.mark.usefixtures("rabbit_config")


@pytest.fixture
def listener(container_factory, make_service_config, tmp_path):
    config = make_service_config(f"sqlite:///{tmp_path}/listener.db")
    container = container_factory(DemoListener, config)
    container.start()
    DemoListener.attempts.clear()
    return container


@pytest.fixture
def demo(container_factory, make_service_config, tmp_path):
    config = make_service_config(f"sqlite:///{tmp_path}/demo.db")
    container = container_factory(DemoService, config)
    container.start()
    return container


def texts(container):
    with entrypoint_hook(container, "texts") as texts_:
        return texts_()


def publish_raw(amqp_uri, body, routing_key="note_written", message_id=None):
    with Connection(amqp_uri) as connection:
        producer = connection.Producer()
        producer.publish(
            body,
            exchange=Exchange("demo.events", type="topic", durable=True),
            routing_key=routing_key,
            serializer="json",
            message_id=message_id,
            declare=[Exchange("demo.events", type="topic", durable=True)],
        )


def test_an_event_written_by_one_service_is_handled_by_another(demo, listener):
    with entrypoint_waiter(listener, "handle_note_written", timeout=10):
        with entrypoint_hook(demo, "write") as write:
            write("hello")
    assert texts(listener) == ["hello"]


def test_a_redelivered_event_has_no_second_effect(listener, rabbit_config):
    envelope = make_envelope(catalogue.get("demo", "note_written"), {"text": "once"})
    for _ in range(3):
        with entrypoint_waiter(listener, "handle_note_written", timeout=10):
            publish_raw(rabbit_config["AMQP_URI"], envelope)
    assert texts(listener) == ["once"]


def test_a_failing_handler_is_retried_with_backoff_then_succeeds(demo, listener):
    def handled(worker_ctx, result, exc_info):
        return exc_info is None

    with entrypoint_waiter(listener, "handle_note_written", callback=handled, timeout=10):
        with entrypoint_hook(demo, "write") as write:
            write("flaky", fail_times=2)  # fails twice; EVENT_RETRY_DELAYS has two retries
    assert texts(listener) == ["flaky"]
    assert list(DemoListener.attempts.values()) == [3]


def test_a_handler_that_keeps_failing_is_parked_not_looped(demo, listener, rabbit_config):
    uri = rabbit_config["AMQP_URI"]

    def third_failure(worker_ctx, result, exc_info):
        return DemoListener.attempts and max(DemoListener.attempts.values()) >= 3

    with entrypoint_waiter(listener, "handle_note_written", callback=third_failure,
                           timeout=10):
        with entrypoint_hook(demo, "write") as write:
            write("poison", fail_times=99)
    parked = wait_for_dead_letters(uri, "listener", 1)
    assert parked[0]["attempts"] == 3
    assert "failing on purpose" in parked[0]["error"]
    assert parked[0]["queue"] == "evt-demo-note_written--listener.handle_note_written"
    assert json.loads(parked[0]["body"])["data"]["text"] == "poison"
    assert texts(listener) == []
    # bounded: exactly the first try plus two retries, no hot requeue loop
    assert list(DemoListener.attempts.values()) == [3]

    # ops fix the cause, then replay: the event is handled and leaves the queue
    DemoListener.attempts[next(iter(DemoListener.attempts))] = 1000  # past fail_times
    with entrypoint_waiter(listener, "handle_note_written", timeout=10):
        assert replay_dead_letters(uri, "listener") == 1
    assert texts(listener) == ["poison"]
    assert list_dead_letters(uri, "listener") == []


def test_a_malformed_event_goes_straight_to_the_dead_letter_queue(listener, rabbit_config):
    uri = rabbit_config["AMQP_URI"]
    publish_raw(uri, {"specversion": "1.0", "type": "note_written"}, message_id="bad-1")
    parked = wait_for_dead_letters(uri, "listener", 1)
    assert parked[0]["message_id"] == "bad-1"
    assert parked[0]["attempts"] == 0
    assert "envelope rejected" in parked[0]["error"]
    assert DemoListener.attempts == {}  # the handler never saw it


def test_listing_dead_letters_leaves_them_parked(listener, rabbit_config):
    uri = rabbit_config["AMQP_URI"]
    for i in range(3):
        publish_raw(uri, {"bad": i}, message_id=f"bad-{i}")
    assert len(wait_for_dead_letters(uri, "listener", 3)) == 3
    # browsing twice sees the same messages: nothing was consumed by the first look
    assert sorted(m["message_id"] for m in list_dead_letters(uri, "listener")) == [
        "bad-0", "bad-1", "bad-2"
    ]


def wait_for_dead_letters(uri, service, count, timeout=10):
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        parked = list_dead_letters(uri, service)
        if len(parked) >= count:
            return parked
        time.sleep(0.05)
    raise AssertionError(f"expected {count} dead letters, found {len(parked)}")


def test_queues_declared_before_start_keep_events_published_in_between(
        demo, container_factory, make_service_config, tmp_path, rabbit_config):
    from shared.consumers import declare_event_queues

    config = make_service_config(f"sqlite:///{tmp_path}/listener.db")
    assert declare_event_queues(DemoListener, config) == [
        "evt-demo-note_written--listener.handle_note_written"]
    with entrypoint_hook(demo, "write") as write:
        write("published before the listener ever ran")
    DemoListener.attempts.clear()
    listener = container_factory(DemoListener, config)
    with entrypoint_waiter(listener, "handle_note_written", timeout=10):
        listener.start()
    assert texts(listener) == ["published before the listener ever ran"]
