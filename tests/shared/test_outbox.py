"""The unit of work: the transactional outbox and its relay, and events applied once; on
SQLite and PostgreSQL, against RabbitMQ."""

import dataclasses
import json
from datetime import UTC, datetime
from pathlib import Path

import eventlet
import pytest
from sqlalchemy import func, insert, select

from shared.db import outbox_table
from shared.events import Event
from shared.outbox import OutboxRelay
from shared.testing import unpublished, wait_for
from tests.shared.demo.service import notes

MIGRATIONS = Path(__file__).parent / "demo" / "migrations"


@pytest.fixture
def db(db_url, database_factory):
    return database_factory(db_url, "demo", MIGRATIONS)


@pytest.fixture
def bound_queue(event_tap):
    """A durable queue bound to demo.events, as any consumer would have."""
    return event_tap("demo")


def write_notes(db, texts):
    for text in texts:
        with db.unit_of_work() as uow:
            uow.session.execute(insert(notes).values(text=text))
            uow.publish("note_written", {"text": text})


def test_state_and_event_commit_together(db):
    write_notes(db, ["a"])
    with pytest.raises(RuntimeError):
        with db.unit_of_work() as uow:
            uow.session.execute(insert(notes).values(text="b"))
            uow.publish("note_written", {"text": "b"})
            raise RuntimeError("the request fails after publishing")
    with db.session() as session:
        assert [r.text for r in session.execute(select(notes.c.text))] == ["a"]
    assert unpublished(db) == 1


def note_texts(db):
    with db.session() as session:
        return [r.text for r in session.execute(select(notes.c.text).order_by(notes.c.id))]


def note_event(event_id, text):
    return Event(id=event_id, source="demo", type="note_written", time="2026-11-21T08:00:00Z",
                 subject=None, data={"text": text}, consumer="listener.handle_note_written")


def add_note(session, data, suffix):
    session.execute(insert(notes).values(text=data["text"] + suffix))


def test_a_second_apply_of_the_same_event_has_no_effect(db):
    event = note_event("evt-1", "a")
    assert db.apply_once(event, add_note, "!") is True
    assert db.apply_once(event, add_note, "?") is False
    assert note_texts(db) == ["a!"]
    # Another consumer of the same event applies it once too.
    other = dataclasses.replace(event, consumer="other.handle_note_written")
    assert db.apply_once(other, add_note, "+") is True
    assert note_texts(db) == ["a!", "a+"]


def test_an_apply_that_fails_leaves_the_event_unhandled(db):
    event = note_event("evt-2", "b")

    def add_then_fail(session, data):
        add_note(session, data, "")
        raise RuntimeError("the handler fails after writing")

    with pytest.raises(RuntimeError):
        db.apply_once(event, add_then_fail)
    # The record rolled back with the write, so the retry applies the event.
    assert note_texts(db) == []
    assert db.apply_once(event, add_note, "") is True
    assert note_texts(db) == ["b"]


def test_the_relay_publishes_in_order_with_confirms_and_marks_rows(db, rabbit_config,
                                                                    bound_queue):
    texts = [f"note {i}" for i in range(25)]
    write_notes(db, texts)
    relay = OutboxRelay(db.engine, rabbit_config["AMQP_URI"], "demo", batch_size=10)
    assert relay.publish_pending() == 10
    assert relay.publish_pending() == 10
    assert relay.publish_pending() == 5
    assert relay.publish_pending() == 0
    relay.publisher.close()
    assert unpublished(db) == 0
    bodies = bound_queue.take(25, timeout=0)
    assert [body["data"]["text"] for body in bodies] == texts
    assert all(body["type"] == "note_written" for body in bodies)


def test_a_broker_outage_delays_events_and_loses_none(db, rabbit_config, bound_queue):
    write_notes(db, ["before"])
    dead = OutboxRelay(db.engine, "amqp://guest:guest@127.0.0.1:1/", "demo")
    with pytest.raises(OSError):
        dead.publish_pending()
    write_notes(db, ["during"])  # requests keep succeeding while the broker is away
    assert unpublished(db) == 2
    relay = OutboxRelay(db.engine, rabbit_config["AMQP_URI"], "demo")
    relay.holder = dead.holder  # same process, back online: it holds the lease
    assert relay.publish_pending() == 2
    relay.publisher.close()
    assert [b["data"]["text"] for b in bound_queue.take(2, timeout=0)] == ["before", "during"]


def test_only_the_lease_holder_publishes(db, rabbit_config, bound_queue):
    write_notes(db, ["x"])
    first = OutboxRelay(db.engine, rabbit_config["AMQP_URI"], "demo")
    second = OutboxRelay(db.engine, rabbit_config["AMQP_URI"], "demo")
    assert first.publish_pending() == 1
    write_notes(db, ["y"])
    assert second.publish_pending() == 0  # the first still holds the lease
    assert first.publish_pending() == 1
    first.publisher.close()
    second.publisher.close()


def test_an_event_the_schema_rejects_rolls_back_the_change(db):
    from shared.events import InvalidEvent

    with pytest.raises(InvalidEvent):
        with db.unit_of_work() as uow:
            uow.session.execute(insert(notes).values(text="z"))
            uow.publish("note_written", {"text": None})
    with db.session() as session:
        assert session.execute(select(func.count()).select_from(notes)).scalar() == 0
    assert unpublished(db) == 0


def test_outbox_rows_are_plain_json_for_any_client(db):
    write_notes(db, ["json"])
    with db.session() as session:
        body = session.execute(select(outbox_table.c.body)).scalar()
    assert json.loads(body)["data"] == {"text": "json"}


def test_sqlite_engine_uses_wal(sqlite_url, database_factory):
    database = database_factory(sqlite_url, "demo", MIGRATIONS)
    with database.engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"


def test_a_second_migration_run_changes_nothing(db_url, database_factory):
    from shared.db import migrate

    migrate(db_url, MIGRATIONS)
    migrate(db_url, MIGRATIONS)
    database = database_factory(db_url, "demo", run_migrations=False)
    with database.unit_of_work() as uow:
        uow.session.execute(insert(notes).values(text="ok"))


@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
def test_replicas_starting_together_migrate_one_after_the_other(db_url, database_factory):
    """Three replicas of a service started at once (a Deployment's rollout), each its own
    process, run the migrations on the same new database: one does them, the others wait
    and find them done, none crashes."""
    import subprocess
    import sys

    from services.registry.service import MIGRATIONS as REGISTRY_MIGRATIONS

    script = ("import sys; from shared.db import migrate; "
              "migrate(sys.argv[1], sys.argv[2])")
    root = Path(__file__).resolve().parents[2]
    replicas = [subprocess.Popen([sys.executable, "-c", script, db_url,
                                  str(REGISTRY_MIGRATIONS)], cwd=root,
                                 stderr=subprocess.PIPE, text=True) for _ in range(3)]
    crashed = [(replica.wait(120), replica.stderr.read()[-800:]) for replica in replicas]
    assert [code for code, _ in crashed] == [0, 0, 0], crashed
    database = database_factory(db_url, "registry", run_migrations=False)
    with database.session() as session:
        assert session.execute(select(func.count()).select_from(outbox_table)).scalar() == 0


def test_unknown_event_types_cannot_be_published(db):
    from shared.events import InvalidEvent

    with pytest.raises(InvalidEvent, match="unknown event type"):
        with db.unit_of_work() as uow:
            uow.publish("nothing_like_this", {})



def lease_expiry(db):
    from shared.db import relay_lease_table

    with db.session() as session:
        return session.execute(select(relay_lease_table.c.expires_at)).scalar()


def test_the_lease_is_renewed_only_when_half_of_it_is_gone(db, rabbit_config, bound_queue):
    relay = OutboxRelay(db.engine, rabbit_config["AMQP_URI"], "demo")
    write_notes(db, ["a"])
    assert relay.publish_pending() == 1
    taken = lease_expiry(db)
    write_notes(db, ["b"])
    assert relay.publish_pending() == 1
    assert lease_expiry(db) == taken  # no write to the lease on this pass
    relay._held_until = datetime.now(UTC)  # as if the lease were about to run out
    write_notes(db, ["c"])
    assert relay.publish_pending() == 1
    assert lease_expiry(db) > taken  # renewed
    relay.publisher.close()


def test_a_relay_stopped_gracefully_hands_the_lease_over_at_once(db, rabbit_config,
                                                                 bound_queue):
    first = OutboxRelay(db.engine, rabbit_config["AMQP_URI"], "demo", poll_seconds=0.05)
    runner = eventlet.spawn(first.run)
    write_notes(db, ["by the first"])
    first.wake()
    wait_for(lambda: unpublished(db) == 0, timeout=5)
    first.stop()
    runner.wait()
    second = OutboxRelay(db.engine, rabbit_config["AMQP_URI"], "demo")
    write_notes(db, ["by the second"])
    assert second.publish_pending() == 1  # no 15 s wait for the first one's lease
    second.publisher.close()
    assert [b["data"]["text"] for b in bound_queue.take(2, timeout=0)] == [
        "by the first", "by the second"]


def test_a_service_told_not_to_migrate_refuses_a_database_nobody_migrated(
        container_factory, make_service_config, tmp_path):
    from shared.db import NotMigrated, migrate
    from tests.shared.demo.service import DemoService

    url = f"sqlite:///{tmp_path}/demo.db"
    config = make_service_config(url, DATABASE_MIGRATE=False)
    with pytest.raises(NotMigrated, match="no revision.*migrate it"):
        container_factory(DemoService, config).start()
    migrate(url, MIGRATIONS)
    container_factory(DemoService, make_service_config(url, DATABASE_MIGRATE=False)).start()
