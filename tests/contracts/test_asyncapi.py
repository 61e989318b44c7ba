"""The committed AsyncAPI document and its bundled variant: current, valid AsyncAPI 3.0,
complete (every type sent, every handler a receive operation on its queue, an example
each), and true to the payloads ``make_envelope`` produces."""

import copy
import json
from functools import cache
from pathlib import Path

import jsonschema
import pytest
import yaml
from pydantic import ValidationError
from pydantic_asyncapi.v3 import AsyncAPI
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT7

from services import event_consumers
from shared.asyncapi import KEPT_REFS, channel_id, public_types, queue_channel_id, render
from shared.events import catalogue, make_envelope, parse_envelope
from shared.examples import payload

ROOT = Path(__file__).resolve().parents[2]
COMMITTED = ROOT / "asyncapi.yaml"
BUNDLED = ROOT / "asyncapi.bundled.yaml"
SPEC_SCHEMA = Path(__file__).parent / "asyncapi-spec" / "3.0.0.json"
DOCUMENT_URI = "urn:gonghui:asyncapi"

TYPES = public_types()
CONSUMERS = event_consumers()


@cache
def rendered(bundle=False) -> str:
    """The text ``make asyncapi`` writes, rendered once per run (the bundled one takes
    seconds)."""
    return render(consumers=CONSUMERS, bundle=bundle)


def parse(text):
    return yaml.load(text, Loader=yaml.CSafeLoader)  # libyaml: the pure-Python one is slow


@pytest.fixture(scope="module")
def document():
    return parse(rendered())


@pytest.fixture(scope="module")
def bundled():
    return parse(rendered(bundle=True))


@pytest.fixture(scope="module")
def spec_validator():
    schema = json.loads(SPEC_SCHEMA.read_text())
    return jsonschema.Draft7Validator(schema)


def message_validator(document, event_type):
    """Validates an envelope against one message's payload, resolving refs in the document."""
    registry = Registry().with_resource(DOCUMENT_URI, Resource.from_contents(document, DRAFT7))
    pointer = f"{DOCUMENT_URI}#/components/messages/{channel_id(event_type)}/payload"
    return jsonschema.Draft7Validator({"$ref": pointer}, registry=registry,
                                      format_checker=jsonschema.FormatChecker())


def refs(node, path="#"):
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str):
                yield path, value
            else:
                yield from refs(value, f"{path}/{key}")
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from refs(value, f"{path}/{index}")


def resolve(document, ref):
    assert ref.startswith("#/"), f"{ref} points outside the document"
    node = document
    for part in ref[2:].split("/"):
        part = part.replace("~1", "/").replace("~0", "~")
        assert isinstance(node, dict) and part in node, f"{ref}: no {part!r}"
        node = node[part]
    if isinstance(node, dict) and set(node) == {"$ref"}:  # a ref to a ref: follow it
        return resolve(document, node["$ref"])
    return node


@pytest.mark.parametrize("path,bundle", [(COMMITTED, False), (BUNDLED, True)],
                         ids=["asyncapi.yaml", "asyncapi.bundled.yaml"])
def test_the_committed_documents_are_what_the_catalogue_and_handlers_render(path, bundle):
    assert path.exists(), f"{path.name} is missing: run `make asyncapi` and commit it"
    assert path.read_text(encoding="utf-8") == rendered(bundle), (
        f"{path.name} is out of date with shared/events or the services' handlers: run "
        "`make asyncapi` and commit it"
    )


def test_rendering_twice_gives_the_same_text():
    assert render(consumers=CONSUMERS) == rendered()


def test_the_document_validates_against_the_official_asyncapi_3_0_schema(document,
                                                                          spec_validator):
    assert document["asyncapi"] == "3.0.0"
    errors = [f"{'/'.join(map(str, e.absolute_path))}: {e.message}"
              for e in spec_validator.iter_errors(document)]
    assert errors == []


def test_the_bundled_document_validates_and_keeps_only_the_references_asyncapi_requires(
        bundled, spec_validator):
    errors = [f"{'/'.join(map(str, e.absolute_path))}: {e.message}"
              for e in spec_validator.iter_errors(bundled)]
    assert errors == []
    for where, ref in refs(bundled):
        section, _, key = where.split("/")[1:4]
        assert (section, key) in KEPT_REFS, f"{where}: {ref} is not inlined"
        assert resolve(bundled, ref) is not None, f"{where}: {ref}"


@pytest.mark.parametrize("event_type", TYPES, ids=channel_id)
def test_a_bundled_message_schema_validates_its_example_with_no_references_to_follow(
        bundled, event_type):
    message = bundled["components"]["messages"][channel_id(event_type)]
    validator = jsonschema.Draft7Validator(message["payload"],
                                           format_checker=jsonschema.FormatChecker())
    (example,) = message["examples"]
    assert list(validator.iter_errors(example["payload"])) == []
    assert not validator.is_valid(dict(example["payload"], type="another_type"))


def test_the_official_schema_rejects_a_broken_document(document, spec_validator):
    # Shows the validation above can fail: an unknown action and a wrong AMQP binding kind.
    broken = copy.deepcopy(document)
    first = next(iter(broken["operations"].values()))
    first["action"] = "publish"
    assert not spec_validator.is_valid(broken)
    broken = copy.deepcopy(document)
    next(iter(broken["channels"].values()))["bindings"]["amqp"]["is"] = "exchange"
    assert not spec_validator.is_valid(broken)


def for_pydantic_asyncapi(document):
    """A copy translated where pydantic-asyncapi 0.3.2 lags the spec, and only there.

    It knows the AMQP channel binding `is: exchange` where the spec says `routingKey`, and
    takes only strings in `enum` where JSON Schema allows null. The official schema above
    checks both as written.
    """
    adapted = copy.deepcopy(document)
    for channel in adapted["channels"].values():
        binding = channel["bindings"]["amqp"]
        assert binding["is"] in ("routingKey", "queue")
        if binding["is"] == "routingKey":
            binding["is"] = "exchange"
    for schema in _schemas_with_enums(adapted["components"]["schemas"]):
        schema["enum"] = [value for value in schema["enum"] if value is not None]
    return adapted


def _schemas_with_enums(node):
    if isinstance(node, dict):
        if isinstance(node.get("enum"), list):
            yield node
        for value in node.values():
            yield from _schemas_with_enums(value)
    elif isinstance(node, list):
        for value in node:
            yield from _schemas_with_enums(value)


def test_the_document_validates_with_pydantic_asyncapi(document):
    AsyncAPI.model_validate(for_pydantic_asyncapi(document))


def test_pydantic_asyncapi_rejects_an_operation_without_a_channel(document):
    broken = for_pydantic_asyncapi(document)
    del next(iter(broken["operations"].values()))["channel"]
    with pytest.raises(ValidationError):
        AsyncAPI.model_validate(broken)


def test_every_ref_in_the_document_resolves(document):
    found = list(refs(document))
    assert len(found) >= 3 * len(TYPES)  # channel->message, operation->channel and ->message
    for where, ref in found:
        assert resolve(document, ref) is not None, f"{where}: {ref}"


def test_a_dangling_ref_is_caught(document):
    with pytest.raises(AssertionError):
        resolve(document, "#/components/schemas/registry.NoSuchSchema")


def test_every_catalogue_type_has_a_channel_a_message_and_a_send_operation(document):
    # Every type but those tests define on the fly; one defined outside shared/events would
    # be missing from the document, and this says so.
    published = [t for t in catalogue if not t.schema.__module__.startswith("tests.")]
    assert published, "the catalogue is empty"
    for event_type in published:
        assert channel_id(event_type) in document["channels"], (
            f"{channel_id(event_type)} is not in the document: define its schema in shared/events"
        )
        cid = channel_id(event_type)
        channel = document["channels"][cid]
        assert channel["address"] == event_type.type
        binding = channel["bindings"]["amqp"]
        assert binding["is"] == "routingKey"
        # no vhost: it is the deployment's, not the contract's
        assert binding["exchange"] == {"name": f"{event_type.source}.events", "type": "topic",
                                       "durable": True, "autoDelete": False}
        operation = document["operations"][f"{cid}.send"]
        assert operation["action"] == "send"
        assert resolve(document, operation["channel"]["$ref"]) is channel
        message = resolve(document, operation["messages"][0]["$ref"])
        payload_schema = message["payload"]
        assert payload_schema["properties"]["type"]["const"] == event_type.type
        assert payload_schema["properties"]["dataversion"]["const"] == event_type.version
        data = resolve(document, payload_schema["properties"]["data"]["$ref"])
        assert set(data["properties"]) == set(event_type.schema().fields)


def test_the_vhost_is_a_server_variable_not_written_into_any_binding(document):
    server = document["servers"]["rabbitmq"]
    assert server["pathname"] == "/{vhost}" and "vhost" in server["variables"]
    for name, channel in document["channels"].items():
        assert "vhost" not in str(channel["bindings"]), name


def test_every_handler_is_a_receive_operation_on_its_queue(document):
    assert CONSUMERS, "no service has an event handler"
    for consumer in CONSUMERS:
        operation = document["operations"][f"{queue_channel_id(consumer)}.receive"]
        assert operation["action"] == "receive"
        assert operation["tags"] == [{"name": consumer["service"]}]
        channel = resolve(document, operation["channel"]["$ref"])
        assert channel["address"] == consumer["queue"]
        assert channel["bindings"]["amqp"]["is"] == "queue"
        assert channel["bindings"]["amqp"]["queue"]["name"] == consumer["queue"]
        message = resolve(document, operation["messages"][0]["$ref"])
        assert message["payload"]["properties"]["type"]["const"] == consumer["type"]
        assert message["payload"]["properties"]["source"]["const"].endswith(
            "/" + consumer["source"])
    receives = [op for op in document["operations"].values() if op["action"] == "receive"]
    assert len(receives) == len(CONSUMERS)


def test_who_consumes_an_event_is_read_off_the_services():
    # membership keeps its enterprises' places from the registry's events
    assert {"service": "membership", "method": "handle_enterprise_moved",
            "source": "registry", "type": "enterprise_moved",
            "queue": "evt-registry-enterprise_moved--membership.handle_enterprise_moved",
            "batch": False} in CONSUMERS


def test_a_handler_of_a_type_outside_the_catalogue_is_refused():
    stray = dict(CONSUMERS[0], type="no_such_event")
    with pytest.raises(ValueError, match="outside the catalogue"):
        render(consumers=[stray])


@pytest.mark.parametrize("event_type", TYPES, ids=channel_id)
def test_every_message_has_an_example_its_schema_and_a_nameko_consumer_accept(document,
                                                                              event_type):
    message = document["components"]["messages"][channel_id(event_type)]
    (example,) = message["examples"]
    envelope = example["payload"]
    errors = [e.message for e in message_validator(document, event_type).iter_errors(envelope)]
    assert errors == []
    parse_envelope(envelope, event_type.source, event_type.type)


def test_the_description_tells_a_non_nameko_client_how_to_subscribe_and_version(document):
    text = " ".join(document["info"]["description"].split())
    for phrase in ("durable", "<source>.events", "ack", "`id`", "dataversion",
                   "published as a new type", "<service>.dead-letters", ".retry-"):
        assert phrase in text


@pytest.mark.parametrize("nulls", [False, True], ids=["every-field-set", "nullable-fields-null"])
@pytest.mark.parametrize("event_type", TYPES, ids=channel_id)
def test_envelopes_from_make_envelope_validate_against_their_message_schema(document,
                                                                           event_type, nulls):
    envelope = make_envelope(event_type, payload(event_type, nulls), subject="440307")
    wire = json.loads(json.dumps(envelope))  # exactly what the relay puts on the wire
    errors = [e.message for e in message_validator(document, event_type).iter_errors(wire)]
    assert errors == []
    # and what the schema accepts is what a nameko consumer accepts
    parse_envelope(wire, event_type.source, event_type.type)


def test_a_payload_missing_a_required_field_fails_its_message_schema(document):
    event_type = catalogue.get("registry", "enterprise_registered")
    wire = json.loads(json.dumps(make_envelope(event_type, payload(event_type))))
    validator = message_validator(document, event_type)
    assert validator.is_valid(wire)
    del wire["data"]["credit_code"]
    assert not validator.is_valid(wire)


def test_an_envelope_of_another_type_fails_the_message_schema(document):
    registered = catalogue.get("registry", "enterprise_registered")
    closed = catalogue.get("registry", "enterprise_closed")
    wire = json.loads(json.dumps(make_envelope(closed, payload(closed))))
    assert not message_validator(document, registered).is_valid(wire)
