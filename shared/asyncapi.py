"""The AsyncAPI 3.0 document of every event the services publish, generated from the catalogue.

``render(consumers=...)`` is what ``gonghui asyncapi`` prints and ``make asyncapi`` commits
as ``asyncapi.yaml`` (and, ``bundled=True``, as ``asyncapi.bundled.yaml``, every reference a
tool may not follow inlined); tests fail when they differ, so the document cannot drift
from ``shared.events`` or from the services' handlers. Payload schemas come from the
marshmallow schemas through apispec's converter, so the JSON Schema a non-nameko client
validates with is the one the publisher checks with. Each message carries an example
envelope (``shared.examples``) its schema accepts.

Producers are ``send`` operations on a routing-key channel per event type; consumers
(``consumers``: rows of ``shared.consumers.consumers``, given by the caller because
``shared`` does not know the services) are ``receive`` operations on a channel per queue.

Only types defined in the ``shared.events`` package belong to the public contract; a
type a test defines on the fly (``tests/shared/demo``) is left out.
"""

from importlib import metadata

import yaml
from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin

from shared.config import SETTINGS
from shared.consumers import (
    ATTEMPT_HEADER,
    ERROR_HEADER,
    FAILED_AT_HEADER,
    QUEUE_HEADER,
    ROUTING_HEADER,
    dead_letter_queue_name,
    retry_queue,
)
from shared.events import catalogue, make_envelope
from shared.events.envelope import SOURCE_PREFIX, SPECVERSION
from shared.examples import payload as example_payload

ASYNCAPI_VERSION = "3.0.0"
AMQP_BINDING_VERSION = "0.3.0"
SERVER = "rabbitmq"
PUBLIC_PACKAGE = "shared.events."
EXAMPLE_ID = "0f8fad5bd9cb469fa16570867728950e"
EXAMPLE_TIME = "2026-11-21T10:00:00+00:00"


def public_types(catalogue_=None):
    return [t for t in (catalogue_ or catalogue) if t.schema.__module__.startswith(PUBLIC_PACKAGE)]


def schema_name(schema) -> str:
    """``registry.Enterprise`` for ``shared.events.registry.EnterpriseSchema``.

    The source prefix keeps two sources' ``ContactSchema`` apart.
    """
    cls = schema if isinstance(schema, type) else type(schema)
    source = cls.__module__.rsplit(".", 1)[-1]
    return f"{source}.{cls.__name__.removesuffix('Schema')}"


def channel_id(event_type) -> str:
    return f"{event_type.source}.{event_type.type}"


def _ref(*parts) -> dict:
    return {"$ref": "#/" + "/".join(parts)}


def _default_setting(env: str) -> str:
    return next(s.default for s in SETTINGS if s.env == env)


def payload_schemas(types) -> dict:
    """JSON Schemas of the payloads and what they nest, keyed by ``schema_name``."""
    # OpenAPI 3.1 output is plain JSON Schema (nullable as `type: [x, "null"]`).
    plugin = MarshmallowPlugin(schema_name_resolver=schema_name)
    spec = APISpec("gonghui", "1", "3.1.0", plugins=[plugin])
    for event_type in types:
        name = schema_name(event_type.schema)
        if name not in spec.components.schemas:
            spec.components.schema(name, schema=event_type.schema)
    schemas = spec.to_dict()["components"]["schemas"]
    for schema in schemas.values():
        # A consumer must tolerate fields added later (additive changes keep the type),
        # so the contract does not forbid unknown properties.
        schema.pop("additionalProperties", None)
    return schemas


def envelope_schema(event_type) -> dict:
    """The CloudEvents envelope of one type, with ``data`` pointing at its payload schema."""
    return {
        "type": "object",
        "required": ["specversion", "id", "source", "type", "dataversion", "time", "data"],
        "properties": {
            "specversion": {"type": "string", "const": SPECVERSION},
            "id": {"type": "string", "minLength": 1, "maxLength": 64,
                   "description": "Unique per event; the same on a redelivery: dedupe by it."},
            "source": {"type": "string", "const": SOURCE_PREFIX + event_type.source},
            "type": {"type": "string", "const": event_type.type},
            "dataversion": {"type": "integer", "const": event_type.version,
                            "description": "Payload version (CloudEvents extension)."},
            "time": {"type": "string", "format": "date-time"},
            "subject": {"type": ["string", "null"],
                        "description": "What the event is about (e.g. a code or credit code)."},
            "datacontenttype": {"type": "string", "const": "application/json"},
            "dataschema": {"type": "string", "const": event_type.dataschema},
            "data": _ref("components", "schemas", schema_name(event_type.schema)),
        },
    }


def example_envelope(event_type) -> dict:
    """An envelope as the service publishes it, with a payload built from its schema and
    a fixed id and time, so the document renders the same every time."""
    envelope = make_envelope(event_type, example_payload(event_type), event_id=EXAMPLE_ID)
    return dict(envelope, time=EXAMPLE_TIME)


def message(event_type) -> dict:
    return {
        "name": event_type.type,
        "title": event_type.type.replace("_", " "),
        "summary": event_type.description or event_type.type,
        "contentType": "application/json",
        "correlationId": {"location": "$message.payload#/id"},
        "payload": envelope_schema(event_type),
        "examples": [{"name": event_type.type,
                      "summary": f"{event_type.type} as published (values made up)",
                      "payload": example_envelope(event_type)}],
        "bindings": {"amqp": {"contentEncoding": "utf-8", "messageType": event_type.type,
                              "bindingVersion": AMQP_BINDING_VERSION}},
    }


def channel(event_type) -> dict:
    return {
        "address": event_type.type,
        "title": f"{event_type.exchange} / {event_type.type}",
        "description": (f"Routing key `{event_type.type}` on the topic exchange "
                        f"`{event_type.exchange}`."),
        "servers": [_ref("servers", SERVER)],
        "messages": {event_type.type: _ref("components", "messages", channel_id(event_type))},
        "bindings": {"amqp": {
            "is": "routingKey",
            # no vhost: it is the deployment's (the server's `vhost` variable, AMQP_URI)
            "exchange": {"name": event_type.exchange, "type": "topic", "durable": True,
                         "autoDelete": False},
            "bindingVersion": AMQP_BINDING_VERSION,
        }},
    }


def operation(event_type) -> dict:
    cid = channel_id(event_type)
    return {
        "action": "send",
        "channel": _ref("channels", cid),
        "messages": [_ref("channels", cid, "messages", event_type.type)],
        "summary": f"The {event_type.source} service publishes {event_type.type}.",
        "description": (f"Written to the {event_type.source} service's outbox in the same "
                        "transaction as the change it reports, then relayed with publisher "
                        "confirms: at least once, in commit order."),
        "tags": [{"name": event_type.source}],
        "bindings": {"amqp": {"deliveryMode": 2, "mandatory": False,
                              "bindingVersion": AMQP_BINDING_VERSION}},
    }


def queue_channel_id(consumer) -> str:
    return f"{consumer['service']}.{consumer['method']}"


def queue_channel(consumer, event_type) -> dict:
    """The durable queue one handler consumes from, bound to the event's exchange."""
    return {
        "address": consumer["queue"],
        "title": f"{consumer['service']} / {consumer['queue']}",
        "description": (f"The queue of `{consumer['service']}`'s handler "
                        f"`{consumer['method']}`, bound to the topic exchange "
                        f"`{event_type.exchange}` with routing key `{event_type.type}`; "
                        "its retries and dead letters: see the document's description."),
        "servers": [_ref("servers", SERVER)],
        "messages": {event_type.type: _ref("components", "messages", channel_id(event_type))},
        "bindings": {"amqp": {
            "is": "queue",
            "queue": {"name": consumer["queue"], "durable": True, "exclusive": False,
                      "autoDelete": False},
            "bindingVersion": AMQP_BINDING_VERSION,
        }},
    }


def receive_operation(consumer, event_type) -> dict:
    cid = queue_channel_id(consumer)
    how = "in batches of what has arrived" if consumer["batch"] else "one at a time"
    return {
        "action": "receive",
        "channel": _ref("channels", cid),
        "messages": [_ref("channels", cid, "messages", event_type.type)],
        "summary": (f"The {consumer['service']} service consumes {event_type.source}'s "
                    f"{event_type.type}."),
        "description": (f"Handled by `{consumer['service']}.{consumer['method']}` {how}, "
                        "acknowledged once its effects are committed; a redelivery is "
                        "recognised by the envelope id and has no second effect."),
        "tags": [{"name": consumer["service"]}],
        "bindings": {"amqp": {"ack": True, "bindingVersion": AMQP_BINDING_VERSION}},
    }


def description() -> str:
    delays = ", ".join(_default_setting("EVENT_RETRY_DELAYS").split(","))
    example_queue = "evt-registry-enterprise_moved--membership.handle_enterprise_moved"
    return f"""\
Events published by the gonghui services (trade-union governance, Longgang district).
Generated from `shared.events` by `make asyncapi`: do not edit by hand.

## Wire format

Each event is one JSON object: a CloudEvents {SPECVERSION} envelope in structured mode
(`specversion`, `id`, `source`, `type`, `dataversion`, `time`, `subject`, `datacontenttype`,
`dataschema`) whose `data` is the payload. A service publishes to the durable topic exchange
`<source>.events` with routing key = the event `type` (each channel's `address`). AMQP
properties: `content_type` application/json, `content_encoding` utf-8, `delivery_mode` 2
(persistent), `message_id` = the envelope `id`. Events leave through each service's
transactional outbox: at least once, in commit order per service.

## Subscribing without nameko

1. Declare your own queue, durable and not auto-delete (e.g. `myapp.registry-events`).
2. Bind it to the exchange `<source>.events` (topic, durable; declare it with exactly these
   arguments or passively) with each routing key you want (`#` takes all of a source).
   Events published before the binding exists are not kept for you: bind first.
3. Consume with manual acknowledgement; ack only after your processing has committed.
   Reject a message you can never process to a dead-letter queue of your own rather than
   requeueing it in a loop.
4. Deduplicate by `id`: a redelivery or a relay restart can bring the same event twice.
   Record handled ids in the same transaction as their effect.
5. Check `type` and `dataversion`, and ignore payload fields you do not know.

## Versioning

`dataversion` (a CloudEvents extension attribute) is the version of a type's payload, and
`dataschema` names it (`urn:gonghui:event:<source>:<type>:<version>`). Additive changes (a new
field) keep the type and its version, so consumers must ignore unknown fields. A breaking
change (a field removed, renamed, retyped or given another meaning) is published as a new
type, e.g. `enterprise_registered_v2` on its own routing key, and the old type is still
published until nobody consumes it.

## nameko consumers: queues, retries, dead letters

`@event_handler("<source>", "<type>")` on method `<method>` of service `<service>` consumes
from the durable queue `evt-<source>-<type>--<service>.<method>` (e.g. `{example_queue}`).
A body whose envelope or payload is rejected goes straight to
`{dead_letter_queue_name("<service>")}`. A handler that raises has its message republished to
a delay queue `<queue>.retry-<N>s` (e.g. `{retry_queue("<queue>", 5).name}`), whose per-queue
TTL of N seconds dead-letters it back into `<queue>` through the default exchange; N runs
through `EVENT_RETRY_DELAYS` (default {delays} seconds). After the last retry the message is
parked in `{dead_letter_queue_name("<service>")}` with the headers `{ERROR_HEADER}`,
`{ATTEMPT_HEADER}`, `{QUEUE_HEADER}`, `{ROUTING_HEADER}` and `{FAILED_AT_HEADER}`;
`gonghui dlq list <service>` shows them and `gonghui dlq replay <service> [ids]` sends them
back to the queue they failed in.
"""


def _project_version() -> str:
    try:
        return metadata.version("gonghui")
    except metadata.PackageNotFoundError:  # running from a source tree never installed
        return "0.0.0"


def document(catalogue_=None, consumers=()) -> dict:
    types = public_types(catalogue_)
    by_key = {(t.source, t.type): t for t in types}
    received = sorted(consumers, key=queue_channel_id)
    unknown = [c["queue"] for c in received if (c["source"], c["type"]) not in by_key]
    if unknown:
        raise ValueError(f"handlers of event types outside the catalogue: {unknown}")
    channels = {channel_id(t): channel(t) for t in types}
    operations = {f"{channel_id(t)}.send": operation(t) for t in types}
    for consumer in received:
        event_type = by_key[consumer["source"], consumer["type"]]
        channels[queue_channel_id(consumer)] = queue_channel(consumer, event_type)
        operations[f"{queue_channel_id(consumer)}.receive"] = receive_operation(consumer,
                                                                               event_type)
    return {
        "asyncapi": ASYNCAPI_VERSION,
        "id": "urn:gonghui:events",
        "defaultContentType": "application/json",
        "info": {
            "title": "gonghui events",
            "version": _project_version(),
            "description": description(),
            "tags": [{"name": source} for source in sorted({t.source for t in types})],
        },
        "servers": {
            SERVER: {
                "host": "127.0.0.1:5672",
                "protocol": "amqp",
                "protocolVersion": "0.9.1",
                "pathname": "/{vhost}",
                "description": ("RabbitMQ of a developer machine (guest/guest); "
                                "deployments set host, credentials and vhost through "
                                "AMQP_URI."),
                "variables": {"vhost": {
                    "default": "%2F",
                    "description": "The virtual host, URL-encoded as in AMQP_URI (%2F: `/`).",
                }},
            }
        },
        "channels": channels,
        "operations": operations,
        "components": {
            "messages": {channel_id(t): message(t) for t in types},
            "schemas": payload_schemas(types),
        },
    }


class _Dumper(yaml.SafeDumper):
    """Multi-line text as literal blocks, so the committed file reads like the source."""


def _represent_str(dumper, text):
    style = "|" if "\n" in text else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", text, style=style)


_Dumper.add_representer(str, _represent_str)


# Where AsyncAPI 3.0 requires a reference: an operation's channel and messages, a
# channel's servers. Every other reference is inlined in the bundled variant.
KEPT_REFS = {("operations", "channel"), ("operations", "messages"), ("channels", "servers")}


def bundled(doc: dict) -> dict:
    """``doc`` with every reference inlined but those AsyncAPI requires (``KEPT_REFS``),
    for tools that cannot follow them (a JSON Schema validator given one message)."""
    def resolve(ref):
        node = doc
        for part in ref.removeprefix("#/").split("/"):
            node = node[part.replace("~1", "/").replace("~0", "~")]
        return node

    def inline(node):
        if isinstance(node, dict):
            if set(node) == {"$ref"}:
                return inline(resolve(node["$ref"]))
            return {name: inline(value) for name, value in node.items()}
        if isinstance(node, list):
            return [inline(value) for value in node]
        return node

    def in_section(section, value):
        if section not in ("operations", "channels"):
            return inline(value)
        return {name: {key: part if (section, key) in KEPT_REFS else inline(part)
                       for key, part in item.items()}
                for name, item in value.items()}

    return {section: in_section(section, value) for section, value in doc.items()}


def render(catalogue_=None, consumers=(), bundle=False) -> str:
    """The document as YAML text (``bundle``: with references inlined); the same catalogue
    and consumers always give the same bytes."""
    doc = document(catalogue_, consumers)
    return yaml.dump(bundled(doc) if bundle else doc, Dumper=_Dumper, sort_keys=True,
                     allow_unicode=True, default_flow_style=False, width=100)
