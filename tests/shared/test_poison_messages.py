"""Every message a consumer cannot use is parked with the reason, counted and replayable:
on the real broker, for an event handler, a batch handler and the RPC consumer (issue 12).

Without ``shared.consumers.ParkingQueueConsumer`` kombu logs the undecodable ones (not
JSON, bad UTF-8, nesting too deep, another content type, bad compression) and acks them:
they vanish."""

import json

import pytest
from amqp import Message
from kombu import Connection, Exchange, Queue
from nameko.rpc import RpcProxy
from nameko.testing.services import entrypoint_hook
from nameko.testing.utils import get_extension
from prometheus_client import REGISTRY

from shared.consumers import list_dead_letters, replay_dead_letters
from shared.events import catalogue, make_envelope
from shared.rpc import ReplyListener
from shared.testing import eventually
from tests.shared.demo.service import DemoBatchListener, DemoListener

pytestmark = pytest.mark.usefixtures("rabbit_config")

JSON = "application/json"


def envelope(**changes):
    body = make_envelope(catalogue.get("demo", "note_written"), {"text": "hi"})
    body.update(changes)
    return json.dumps({k: v for k, v in body.items() if v is not None}).encode()


# message id -> (body, content type, headers, what the parked reason says)
POISON = {
    "not-json": (b"{not json", JSON, {}, "undecodable message"),
    "bad-utf8": (b'{"a": "\xff\xfe"}', JSON, {}, "can't decode byte 0xff"),
    "too-deep": (b"[" * 100_000 + b"]" * 100_000, JSON, {}, "maximum recursion depth"),
    "unknown-type": (b"<note/>", "application/xml", {}, "ContentDisallowed"),
    "no-type": (b"hello", None, {}, "must be a JSON object"),  # kombu hands over a str
    "bad-compression": (b"not gzip at all", JSON, {"compression": "application/x-gzip"},
                        "while decompressing data"),
    "not-an-object": (b"[1, 2]", JSON, {}, "must be a JSON object"),
    "no-envelope": (b'{"text": "hi"}', JSON, {}, "envelope rejected"),
    "bad-envelope": (envelope(id=None), JSON, {}, "envelope rejected"),
    "unknown-version": (envelope(dataversion=99), JSON, {}, "is not the known version"),
}


def publish_raw(amqp_uri, exchange, routing_key, message_id, body, content_type, headers,
                **properties):
    """Straight through py-amqp: kombu would refuse to send some of these as they are."""
    fields = {"message_id": message_id, "application_headers": headers,
              "delivery_mode": 2, **properties}
    if content_type:
        fields["content_type"] = content_type
    with Connection(amqp_uri) as connection:
        connection.default_channel.basic_publish(Message(body, **fields), exchange,
                                                 routing_key)


def parked_by_id(uri, service, count):
    eventually(lambda: len(list_dead_letters(uri, service, 200)) >= count, timeout=15)
    return {m["message_id"]: m for m in list_dead_letters(uri, service, 200)}


def rejected(service, queue, reason):
    return REGISTRY.get_sample_value("gonghui_messages_rejected_total",
                                     {"service": service, "queue": queue,
                                      "reason": reason}) or 0


@pytest.mark.parametrize("listener_cls", [DemoListener, DemoBatchListener],
                         ids=["event handler", "batch handler"])
def test_every_kind_of_poison_event_is_parked_with_its_reason_and_counted(
        listener_cls, container_factory, make_service_config, rabbit_config, tmp_path):
    uri = rabbit_config["AMQP_URI"]
    container = container_factory(listener_cls, make_service_config(
        f"sqlite:///{tmp_path}/listener.db"))
    container.start()
    listener_cls.attempts.clear()
    service = listener_cls.name
    method = "handle_note_written" if listener_cls is DemoListener else "handle_notes_written"
    queue = f"evt-demo-note_written--{service}.{method}"
    before = {reason: rejected(service, queue, reason) for reason in ("undecodable", "invalid")}

    for message_id, (body, content_type, headers, _) in POISON.items():
        publish_raw(uri, "demo.events", "note_written", message_id, body, content_type,
                    headers)

    parked = parked_by_id(uri, service, len(POISON))
    assert set(parked) == set(POISON)
    for message_id, (body, _, _, reason) in POISON.items():
        assert reason in parked[message_id]["error"], message_id
        assert parked[message_id]["queue"] == queue
        assert parked[message_id]["attempts"] == 0
        assert parked[message_id]["body"] == body.decode("utf-8", "replace")  # as it came
    assert listener_cls.attempts == {}  # the handler never saw one
    assert rejected(service, queue, "undecodable") - before["undecodable"] == 5
    assert rejected(service, queue, "invalid") - before["invalid"] == 5


def test_a_parked_message_is_replayed_byte_for_byte(
        container_factory, make_service_config, rabbit_config, tmp_path):
    uri = rabbit_config["AMQP_URI"]
    container = container_factory(DemoListener, make_service_config(
        f"sqlite:///{tmp_path}/listener.db"))
    container.start()
    body, content_type, headers, _ = POISON["bad-compression"]
    publish_raw(uri, "demo.events", "note_written", "bad-compression", body, content_type,
                headers)
    parked_by_id(uri, "listener", 1)
    # Stop the listener, replay, and read what lands in its queue: the very message.
    container.stop()
    assert replay_dead_letters(uri, "listener") == 1
    with Connection(uri) as connection:  # py-amqp's get: kombu's would decompress
        message = connection.default_channel.basic_get(
            "evt-demo-note_written--listener.handle_note_written", no_ack=True)
    assert message.body == body
    assert message.properties["content_type"] == content_type
    assert message.headers["compression"] == "application/x-gzip"
    assert message.properties["message_id"] == "bad-compression"


class Answering:
    name = "answering"

    from shared.rpc import rpc

    @rpc
    def echo(self, text):
        return text


RPC_POISON = {key: POISON[key] for key in
              ("not-json", "bad-utf8", "too-deep", "unknown-type", "no-type",
               "bad-compression", "not-an-object", "no-envelope")}


def test_an_rpc_request_that_cannot_be_decoded_is_answered_and_parked(
        container_factory, make_service_config, rabbit_config, sqlite_url):
    uri = rabbit_config["AMQP_URI"]
    container = container_factory(Answering, make_service_config(sqlite_url))
    container.start()
    with Connection(uri) as connection:
        replies = Queue("poison-replies", Exchange("nameko-rpc", type="topic", durable=True),
                        routing_key="poison-replies", exclusive=True)(connection.default_channel)
        replies.declare()
        for message_id, (body, content_type, headers, _) in RPC_POISON.items():
            publish_raw(uri, "nameko-rpc", "answering.echo", message_id, body,
                        content_type, headers, reply_to="poison-replies",
                        correlation_id=message_id)
        answers = {}

        def all_answered():
            message = replies.get(no_ack=True)
            if message is not None:
                answers[message.properties["correlation_id"]] = message.payload
            return len(answers) == len(RPC_POISON)

        eventually(all_answered, timeout=15)
    assert {answer["error"]["exc_type"] for answer in answers.values()} == {"MalformedRequest"}
    parked = parked_by_id(uri, "answering", len(RPC_POISON))
    assert set(parked) == set(RPC_POISON)
    for message_id, (_, _, _, reason) in RPC_POISON.items():
        if reason in ("must be a JSON object", "envelope rejected"):
            reason = "not an RPC request"
        assert reason in parked[message_id]["error"], message_id
        assert parked[message_id]["routing_key"] == "answering.echo"

    # once replayed, a request goes back through the RPC exchange to the same method
    container.stop()
    assert replay_dead_letters(uri, "answering", ["no-envelope"]) == 1
    with Connection(uri) as connection:
        queue = Queue("rpc-answering", no_declare=True)(connection.default_channel)
        message = queue.get(no_ack=True)
    assert message.delivery_info["routing_key"] == "answering.echo"
    assert message.body == RPC_POISON["no-envelope"][0]


class CallingProxy(RpcProxy):
    rpc_reply_listener = ReplyListener()


class Calling:
    name = "calling"
    answering = CallingProxy("answering")

    from shared.rpc import rpc

    @rpc
    def ask(self, text):
        return self.answering.echo(text)


RPC_REPLY_POISON = {**{key: POISON[key] for key in
                       ("not-json", "bad-utf8", "too-deep", "unknown-type", "bad-compression",
                        "not-an-object")},
                    "no-result": (b'{"text": "hi"}', JSON, {}, "not an RPC reply")}


def test_a_reply_that_cannot_be_read_is_parked_and_the_caller_still_works(
        container_factory, make_service_config, rabbit_config, sqlite_url):
    uri = rabbit_config["AMQP_URI"]
    container_factory(Answering, make_service_config(sqlite_url)).start()
    calling = container_factory(Calling, make_service_config(sqlite_url))
    calling.start()
    listener = get_extension(calling, ReplyListener)
    before = rejected("calling", listener.queue.name, "undecodable")
    for message_id, (body, content_type, headers, _) in RPC_REPLY_POISON.items():
        publish_raw(uri, "nameko-rpc", listener.routing_key, message_id, body, content_type,
                    headers, correlation_id=message_id)
    parked = parked_by_id(uri, "calling", len(RPC_REPLY_POISON))
    assert set(parked) == set(RPC_REPLY_POISON)
    for message_id, (_, _, _, reason) in RPC_REPLY_POISON.items():
        if reason == "must be a JSON object":
            reason = "not an RPC reply"
        assert reason in parked[message_id]["error"], message_id
    assert rejected("calling", listener.queue.name, "undecodable") == before + 5
    # the listener still takes real replies
    with entrypoint_hook(calling, "ask") as ask:
        assert ask("你好") == "你好"

