"""The `gonghui` CLI for people and machines: a table by default, `--json` on request,
every error one line on stderr with a non-zero exit, never a traceback."""

import json

import pytest
from click.testing import CliRunner
from kombu import Connection, Producer

from services import SERVICES
from services.cli import main
from shared.consumers import (
    ATTEMPT_HEADER,
    ERROR_HEADER,
    QUEUE_HEADER,
    dead_letter_queue,
    invalid_reason,
)
from shared.events import InvalidEvent


def gonghui(env, *args):
    return CliRunner(env=env).invoke(main, list(args), catch_exceptions=False)


def one_line_error(result, code=1):
    assert result.exit_code == code, result.output
    assert result.stdout == ""
    assert result.stderr.startswith("Error: ") and result.stderr.count("\n") == 1, \
        result.stderr
    assert "Traceback" not in result.stderr
    return result.stderr


@pytest.fixture
def env(rabbit_config, tmp_path):
    return {"AMQP_URI": rabbit_config["AMQP_URI"], "GONGHUI_VAR_DIR": str(tmp_path),
            "REGISTRY_DATABASE_URL": f"sqlite:///{tmp_path}/registry.db"}


def test_migrating_a_service_that_does_not_exist_is_a_usage_error_naming_the_known_ones(
        tmp_path):
    error = one_line_error(gonghui({"GONGHUI_VAR_DIR": str(tmp_path)}, "migrate", "nosuch"),
                           code=2)
    assert "'nosuch' is not one of" in error and "'registry'" in error
    assert "migrate --help" in error
    assert not list(tmp_path.iterdir()), "nothing migrated"


def test_migrate_prints_a_table_or_json(env):
    table = gonghui(env, "migrate", "registry")
    assert table.exit_code == 0, table.output
    header, _, row = table.stdout.splitlines()
    assert header.split() == ["service", "database", "state"]
    assert row.split()[0] == "registry" and row.split()[-1] == "migrated"
    [answer] = json.loads(gonghui(env, "migrate", "registry", "--json").stdout)
    assert answer["service"] == "registry" and answer["state"] == "migrated"


def test_an_empty_dead_letter_queue_says_so(env):
    result = gonghui(env, "dlq", "list", "registry")
    assert result.exit_code == 0
    assert result.stdout == "no messages parked in registry.dead-letters\n"
    assert json.loads(gonghui(env, "dlq", "list", "registry", "--json").stdout) == []


def park_one(amqp_uri, service, message_id, target_queue):
    with Connection(amqp_uri) as connection:
        channel = connection.channel()
        queue = dead_letter_queue(service)(channel)
        queue.declare()
        channel.queue_declare(target_queue, durable=True, auto_delete=False)
        Producer(channel).publish(
            {"not": "an envelope"}, routing_key=queue.name, message_id=message_id,
            headers={QUEUE_HEADER: target_queue, ATTEMPT_HEADER: 3,
                     ERROR_HEADER: "invalid event: event body must be a JSON object, got str"})
        channel.close()


def queue_depth(amqp_uri, name):
    with Connection(amqp_uri) as connection:
        channel = connection.channel()
        try:
            return channel.queue_declare(name, passive=True).message_count
        finally:
            channel.close()


def test_parked_messages_are_listed_as_a_table_and_replayed_by_id(env):
    park_one(env["AMQP_URI"], "registry", "m-1", "cli-test.target")
    listing = gonghui(env, "dlq", "list", "registry")
    header, _, row = listing.stdout.splitlines()
    assert header.split() == ["message_id", "routing_key", "attempts", "failed_at", "error"]
    assert row.split()[0] == "m-1" and row.endswith("got str")
    [parked] = json.loads(gonghui(env, "dlq", "list", "registry", "--json").stdout)
    assert parked["message_id"] == "m-1" and parked["queue"] == "cli-test.target"

    unknown = gonghui(env, "dlq", "replay", "registry", "m-1", "nosuchid")
    error = one_line_error(unknown)
    assert "nosuchid" in error and "nothing replayed" in error
    assert queue_depth(env["AMQP_URI"], "registry.dead-letters") == 1

    replayed = gonghui(env, "dlq", "replay", "registry", "m-1")
    assert replayed.exit_code == 0, replayed.output
    assert replayed.stdout.splitlines()[3].split() == ["replayed", "1"]
    assert queue_depth(env["AMQP_URI"], "cli-test.target") == 1
    nothing = json.loads(gonghui(env, "dlq", "replay", "registry", "--json").stdout)
    assert nothing == {"service": "registry", "replayed": 0}


def test_an_unreachable_broker_is_one_line_not_a_traceback(tmp_path):
    result = gonghui({"AMQP_URI": "amqp://guest:guest@127.0.0.1:1/",
                      "GONGHUI_VAR_DIR": str(tmp_path)}, "dlq", "list", "registry")
    assert "Connection" in one_line_error(result) or "refused" in result.stderr


def test_a_dead_letter_reason_names_only_what_was_wrong():
    assert invalid_reason(InvalidEvent("event body must be a JSON object, got str")) == \
        "invalid event: event body must be a JSON object, got str"
    reason = invalid_reason(InvalidEvent("payload rejected", {"name": ["必填"]}))
    assert reason == 'invalid event: payload rejected: {"name": ["必填"]}'


def test_sample_load_answers_what_each_service_did(env):
    # A small district first: the registry's first-run hook then loads nothing more.
    assert gonghui(env, "registry", "load-sample", "--enterprises", "30").exit_code == 0
    result = gonghui(env, "sample", "load", "--json")
    assert result.exit_code == 0, result.output
    prepared = {row["service"]: row for row in json.loads(result.stdout)}
    assert set(prepared) == set(SERVICES)
    assert all(row["event_queues"] >= 0 for row in prepared.values())
    assert "registered already" in prepared["registry"]["done"][0]
