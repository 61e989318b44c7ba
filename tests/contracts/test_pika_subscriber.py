"""A client that knows nothing of nameko follows asyncapi.yaml and receives an event the
running registry service publishes.

The client is plain pika: it reads the committed document, declares its own durable queue,
binds it as the channel's AMQP binding says, and checks the message it gets against the
message's JSON Schema and the AMQP properties the document promises.
"""

import json
import time
from pathlib import Path
from urllib.parse import unquote, urlsplit

import jsonschema
import pika
import pytest
import yaml
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT7

from services.registry.service import RegistryService
from shared.testing import call

ROOT = Path(__file__).resolve().parents[2]
QUEUE = "contract-test.registry-organizations"


# The district federation: the one organization that needs no parent, registered by a
# caller of its own code.
ADMIN = {"name": "区总工会管理员", "role": "admin", "organization_code": "longgang"}
ORGANIZATION = {
    "code": "longgang",
    "name": "龙岗区总工会",
    "kind": "district_federation",
    "parent_code": None,
    "party_organization": {"name": "中共深圳市龙岗区委", "kind": "district_committee"},
}


@pytest.fixture(scope="module")
def contract():
    return yaml.safe_load((ROOT / "asyncapi.yaml").read_text(encoding="utf-8"))


def channel_for(contract, exchange, routing_key):
    for name, channel in contract["channels"].items():
        binding = channel["bindings"]["amqp"]
        if binding["is"] != "routingKey":  # a consumer's queue
            continue
        if binding["exchange"]["name"] == exchange and channel["address"] == routing_key:
            return name, channel
    raise AssertionError(f"asyncapi.yaml has no channel for {exchange} / {routing_key}")


def payload_validator(contract, channel):
    registry = Registry().with_resource("urn:contract", Resource.from_contents(contract, DRAFT7))
    (message,) = channel["messages"].values()
    return jsonschema.Draft7Validator({"$ref": "urn:contract" + message["$ref"] + "/payload"},
                                      registry=registry, format_checker=jsonschema.FormatChecker())


def connection_parameters(contract, rabbit_config):
    """The broker from the document's server; credentials and the test's own vhost from
    nameko's ``rabbit_config`` (its URI says ``pyamqp://``, which pika does not read)."""
    server = contract["servers"]["rabbitmq"]
    assert server["protocol"] == "amqp"
    host, _, port = server["host"].partition(":")
    uri = urlsplit(rabbit_config["AMQP_URI"])
    return pika.ConnectionParameters(
        host=host, port=int(port or 5672), virtual_host=unquote(uri.path[1:]) or "/",
        credentials=pika.PlainCredentials(unquote(uri.username), unquote(uri.password)),
    )


@pytest.fixture
def subscriber(rabbit_config, contract):
    """A pika connection with a queue bound the way asyncapi.yaml describes."""
    _, channel_doc = channel_for(contract, "registry.events", "organization_registered")
    binding = channel_doc["bindings"]["amqp"]
    assert binding["is"] == "routingKey"
    exchange = binding["exchange"]
    connection = pika.BlockingConnection(connection_parameters(contract, rabbit_config))
    channel = connection.channel()
    # Declared with the document's arguments: if they differ from what the publisher
    # declares, the broker refuses one side (PRECONDITION_FAILED) and the test fails.
    channel.exchange_declare(exchange["name"], exchange_type=exchange["type"],
                             durable=exchange["durable"], auto_delete=exchange["autoDelete"])
    channel.queue_declare(QUEUE, durable=True, auto_delete=False, exclusive=False)
    channel.queue_bind(QUEUE, exchange["name"], routing_key=channel_doc["address"])
    yield channel, channel_doc
    connection.close()


def receive(channel, queue=QUEUE, timeout=15.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        method, properties, body = channel.basic_get(queue, auto_ack=False)
        if method is not None:
            return method, properties, body
        time.sleep(0.05)
    raise AssertionError(f"nothing arrived in {queue} within {timeout}s")


def test_a_pika_client_following_asyncapi_receives_a_registry_event(
        container_factory, make_service_config, sqlite_url, subscriber, contract):
    channel, channel_doc = subscriber
    container = container_factory(RegistryService, make_service_config(sqlite_url))
    container.start()

    call(container, "register_organization", ORGANIZATION, ADMIN)

    method, properties, body = receive(channel)
    envelope = json.loads(body)
    errors = [e.message for e in payload_validator(contract, channel_doc).iter_errors(envelope)]
    assert errors == []
    assert envelope["type"] == method.routing_key == "organization_registered"
    assert envelope["source"] == "gonghui/registry"
    assert envelope["subject"] == ORGANIZATION["code"]
    assert envelope["data"]["path"] == [ORGANIZATION["code"]]
    assert envelope["data"]["name"] == ORGANIZATION["name"]
    assert envelope["data"]["tier"] == "district"
    # the AMQP properties the document's description promises
    assert properties.message_id == envelope["id"]
    assert properties.content_type == "application/json"
    assert properties.delivery_mode == 2
    # the message binding's messageType, as the AMQP `type` property
    (message_ref,) = channel_doc["messages"].values()
    message = contract["components"]["messages"][message_ref["$ref"].rsplit("/", 1)[-1]]
    assert properties.type == message["bindings"]["amqp"]["messageType"] == envelope["type"]

    channel.basic_ack(method.delivery_tag)
    assert channel.queue_declare(QUEUE, passive=True).method.message_count == 0


def test_a_queue_bound_to_another_routing_key_receives_nothing(
        container_factory, make_service_config, sqlite_url, subscriber):
    # The same client with a binding the document does not give: shows the test above
    # depends on the binding. A catch-all queue proves the event was published meanwhile.
    channel, channel_doc = subscriber
    exchange = channel_doc["bindings"]["amqp"]["exchange"]["name"]
    channel.queue_unbind(QUEUE, exchange, routing_key=channel_doc["address"])
    channel.queue_bind(QUEUE, exchange, routing_key="organization_updated")
    channel.queue_declare("contract-test.everything", durable=True)
    channel.queue_bind("contract-test.everything", exchange, routing_key="#")
    container = container_factory(RegistryService, make_service_config(sqlite_url))
    container.start()

    call(container, "register_organization", ORGANIZATION, ADMIN)

    method, _, _ = receive(channel, "contract-test.everything")
    assert method.routing_key == "organization_registered"
    assert channel.queue_declare(QUEUE, passive=True).method.message_count == 0
