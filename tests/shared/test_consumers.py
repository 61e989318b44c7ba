"""Reliable consumption on the real broker: idempotency, bounded retry, dead letters."""

import json
import time

import eventlet
import pytest
from kombu import Connection, Exchange
from nameko.testing.services import entrypoint_waiter

from shared.consumers import list_dead_letters, replay_dead_letters
from shared.events import catalogue, make_envelope
from shared.testing import call, publish_events, wait_for
from tests.shared.demo.service import DemoBatchListener, DemoListener, DemoService

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
    return call(container, "texts")


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
        call(demo, "write", "hello")
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
        # fails twice; EVENT_RETRY_DELAYS has two retries
        call(demo, "write", "flaky", fail_times=2)
    assert texts(listener) == ["flaky"]
    assert list(DemoListener.attempts.values()) == [3]


def test_a_handler_that_keeps_failing_is_parked_not_looped(demo, listener, rabbit_config):
    uri = rabbit_config["AMQP_URI"]

    def third_failure(worker_ctx, result, exc_info):
        return DemoListener.attempts and max(DemoListener.attempts.values()) >= 3

    with entrypoint_waiter(listener, "handle_note_written", callback=third_failure,
                           timeout=10):
        call(demo, "write", "poison", fail_times=99)
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
    call(demo, "write", "published before the listener ever ran")
    DemoListener.attempts.clear()
    listener = container_factory(DemoListener, config)
    with entrypoint_waiter(listener, "handle_note_written", timeout=10):
        listener.start()
    assert texts(listener) == ["published before the listener ever ran"]


@pytest.fixture
def queued_batch_listener(container_factory, make_service_config, tmp_path, rabbit_config):
    """``queued_batch_listener(notes)``: publishes the notes while the batch listener's
    queue exists but nobody consumes it, then starts the listener on the backlog."""
    from shared.consumers import declare_event_queues

    def start(notes):
        config = make_service_config(f"sqlite:///{tmp_path}/batch.db")
        declare_event_queues(DemoBatchListener, config)
        for text, fail_times in notes:
            publish_events(rabbit_config["AMQP_URI"], "demo", "note_written",
                           {"text": text, "fail_times": fail_times})
        DemoBatchListener.attempts.clear()
        DemoBatchListener.batch_sizes.clear()
        container = container_factory(DemoBatchListener, config)
        container.start()
        return container

    return start


def test_a_batch_handler_takes_a_backlog_in_a_few_calls(queued_batch_listener):
    listener = queued_batch_listener([(f"note {n}", 0) for n in range(60)])
    wait_for(lambda: sum(DemoBatchListener.batch_sizes) >= 60)
    eventlet.sleep(0.2)  # nothing more may arrive
    assert sum(DemoBatchListener.batch_sizes) == 60
    assert max(DemoBatchListener.batch_sizes) > 1  # batched, not one call per event
    assert len(DemoBatchListener.batch_sizes) < 60
    assert sorted(texts(listener)) == sorted(f"note {n}" for n in range(60))


def test_a_poison_event_in_a_batch_holds_back_none_of_the_others(
        queued_batch_listener, rabbit_config):
    notes = [(f"note {n}", 99 if n == 4 else 0) for n in range(10)]
    listener = queued_batch_listener(notes)
    parked = wait_for_dead_letters(rabbit_config["AMQP_URI"], "batch_listener", 1)
    assert sorted(texts(listener)) == sorted(f"note {n}" for n in range(10) if n != 4)
    assert len(parked) == 1
    assert json.loads(parked[0]["body"])["data"]["text"] == "note 4"
    assert parked[0]["attempts"] == 3  # alone: the first try and two retries
    assert "failing on purpose" in parked[0]["error"]


def test_a_lone_event_is_handled_at_once_in_a_batch_of_one(
        queued_batch_listener, demo):
    listener = queued_batch_listener([])
    with entrypoint_waiter(listener, "handle_notes_written", timeout=5):
        call(demo, "write", "alone")
    assert DemoBatchListener.batch_sizes == [1]
    assert texts(listener) == ["alone"]
