import pytest
from marshmallow import Schema, fields

from shared.events import InvalidEvent, catalogue, make_envelope, parse_envelope
from shared.events.envelope import Catalogue


class Payload(Schema):
    name = fields.String(required=True)
    workers = fields.Integer(required=True)


@pytest.fixture
def local_catalogue():
    local = Catalogue()
    local.define("demo", "thing_happened", Payload, version=2)
    return local


def test_an_envelope_carries_the_cloudevents_attributes(local_catalogue):
    envelope = make_envelope(local_catalogue.get("demo", "thing_happened"),
                             {"name": "南坑", "workers": 10200}, subject="nankeng")
    assert envelope["specversion"] == "1.0"
    assert envelope["source"] == "gonghui/demo"
    assert envelope["type"] == "thing_happened"
    assert envelope["dataversion"] == 2
    assert envelope["dataschema"] == "urn:gonghui:event:demo:thing_happened:2"
    assert envelope["subject"] == "nankeng"
    assert len(envelope["id"]) == 32 and envelope["time"].endswith("+00:00")
    assert envelope["data"] == {"name": "南坑", "workers": 10200}


def test_a_payload_the_schema_rejects_cannot_be_published(local_catalogue):
    with pytest.raises(InvalidEvent) as raised:
        make_envelope(local_catalogue.get("demo", "thing_happened"), {"name": "x"})
    assert "workers" in raised.value.messages


def test_a_received_event_is_checked_against_its_schema(local_catalogue):
    envelope = make_envelope(local_catalogue.get("demo", "thing_happened"),
                             {"name": "a", "workers": 3})
    event = parse_envelope(envelope, "demo", "thing_happened", local_catalogue)
    assert event.data == {"name": "a", "workers": 3} and event.id == envelope["id"]

    broken = dict(envelope, data={"name": "a", "workers": "many"})
    with pytest.raises(InvalidEvent, match="payload rejected"):
        parse_envelope(broken, "demo", "thing_happened", local_catalogue)


@pytest.mark.parametrize(
    "change, reason",
    [
        ({"specversion": "0.3"}, "envelope rejected"),
        ({"id": ""}, "envelope rejected"),
        ({"dataversion": 1}, "not the known version"),
    ],
)
def test_a_malformed_envelope_is_refused(local_catalogue, change, reason):
    envelope = make_envelope(local_catalogue.get("demo", "thing_happened"),
                             {"name": "a", "workers": 3})
    with pytest.raises(InvalidEvent, match=reason):
        parse_envelope(dict(envelope, **change), "demo", "thing_happened", local_catalogue)


def test_a_body_that_is_not_an_object_is_refused():
    with pytest.raises(InvalidEvent, match="JSON object"):
        parse_envelope(["not", "an", "event"], "registry", "organization_registered")


def test_an_event_type_cannot_be_defined_twice(local_catalogue):
    with pytest.raises(ValueError, match="defined twice"):
        local_catalogue.define("demo", "thing_happened", Payload)


def test_the_shared_catalogue_knows_the_registry_events():
    assert catalogue.get("registry", "organization_registered").exchange == "registry.events"


class Leader(Schema):
    name = fields.String(required=True)


class WithNested(Schema):
    leader = fields.Nested(Leader, required=True)
    deputies = fields.List(fields.Nested(Leader), required=True)


def test_fields_added_by_a_newer_publisher_are_ignored_at_every_level():
    local = Catalogue()
    local.define("demo", "leader_named", WithNested)
    envelope = make_envelope(local.get("demo", "leader_named"),
                             {"leader": {"name": "a"}, "deputies": [{"name": "b"}]})
    envelope["data"]["added_later"] = 1
    envelope["data"]["leader"]["phone"] = "138"
    envelope["data"]["deputies"][0]["title"] = "x"
    event = parse_envelope(envelope, "demo", "leader_named", local)
    assert event.data == {"leader": {"name": "a"}, "deputies": [{"name": "b"}]}


# --- the plain-values loader against marshmallow ------------------------------------------

ODD_VALUES = [None, "", "x" * 300, "5", "own", "active", 0, -1, 7, 1.5, True, False, [],
              ["a"], [1], {}, {"name": "王伟"}, "91440300MA5D00000X"]


def compiled_types():
    from shared.events.envelope import quick_loader

    return sorted(key for key, event_type in catalogue.types.items()
                  if quick_loader(event_type.schema) is not None)


def variants(payload: dict):
    """The payload with each field in turn missing, odd, or given an unknown neighbour
    (one level down too), every odd value in every place."""
    yield dict(payload, unknown_field="ignored")
    for name, value in payload.items():
        yield {key: v for key, v in payload.items() if key != name}
        for odd in ODD_VALUES:
            yield dict(payload, **{name: odd})
        inner = value[0] if isinstance(value, list) and value else value
        if isinstance(inner, dict):
            for nested in variants(inner):
                yield dict(payload, **{name: [nested] if isinstance(value, list) else nested})


@pytest.mark.parametrize("key", compiled_types(), ids=lambda key: ".".join(key))
def test_the_plain_values_loader_agrees_with_marshmallow_or_leaves_it_to_it(key):
    from shared.events.envelope import NOT_PLAIN, known_fields_only, quick_loader
    from shared.examples import EXAMPLES, example

    event_type = catalogue.get(*key)
    schema, quick = event_type.schema(), quick_loader(event_type.schema)
    base = EXAMPLES.get(key) or example(event_type.schema)
    assert quick(base) == schema.load(base)  # a plain payload does not need marshmallow
    taken = 0
    for data in variants(base):
        loaded = quick(data)
        if loaded is NOT_PLAIN:
            continue
        taken += 1
        assert loaded == schema.load(known_fields_only(schema, data)), data
    assert taken  # the unknown field at least
