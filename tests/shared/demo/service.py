"""A small service exercising the kit: writes with events, handles events, serves ops."""

from pathlib import Path

from marshmallow import Schema, fields
from nameko.rpc import rpc
from sqlalchemy import Column, Integer, MetaData, String, Table, insert, select

from shared.consumers import event_handler
from shared.dependencies import Database, Metrics
from shared.events import catalogue
from shared.web import OpsEndpoints

metadata = MetaData()
notes = Table(
    "notes", metadata,
    Column("id", Integer, primary_key=True),
    Column("text", String(200), nullable=False),
)


class NoteSchema(Schema):
    text = fields.String(required=True)
    fail_times = fields.Integer(load_default=0)


if ("demo", "note_written") not in catalogue.types:
    catalogue.define("demo", "note_written", NoteSchema, description="test event")


class DemoService(OpsEndpoints):
    name = "demo"
    db = Database(Path(__file__).parent / "migrations")
    metrics = Metrics()
    attempts = {}

    @rpc
    def write(self, text, fail_times=0):
        with self.db.unit_of_work() as uow:
            uow.session.execute(insert(notes).values(text=text))
            uow.publish("note_written", {"text": text, "fail_times": fail_times})

    @rpc
    def texts(self):
        with self.db.session() as session:
            return [row.text for row in session.execute(select(notes.c.text).order_by(notes.c.id))]


class DemoListener:
    """Copies demo notes into its own table; fails on purpose when asked to."""

    name = "listener"
    db = Database(Path(__file__).parent / "migrations")
    attempts = {}

    @event_handler("demo", "note_written")
    def handle_note_written(self, event):
        seen = DemoListener.attempts.get(event.id, 0) + 1
        DemoListener.attempts[event.id] = seen
        if seen <= event.data["fail_times"]:
            raise RuntimeError(f"failing on purpose ({seen})")
        with self.db.unit_of_work() as uow:
            if uow.is_duplicate(event):
                return
            uow.session.execute(insert(notes).values(text=event.data["text"]))

    @rpc
    def texts(self):
        with self.db.session() as session:
            return [row.text for row in session.execute(select(notes.c.text).order_by(notes.c.id))]


class DemoBatchListener:
    """The same copy as ``DemoListener``, handled a batch at a time."""

    name = "batch_listener"
    db = Database(Path(__file__).parent / "migrations")
    attempts = {}
    batch_sizes = []

    @event_handler("demo", "note_written", batch=True)
    def handle_notes_written(self, events):
        DemoBatchListener.batch_sizes.append(len(events))
        for event in events:
            seen = DemoBatchListener.attempts.get(event.id, 0) + 1
            DemoBatchListener.attempts[event.id] = seen
            if seen <= event.data["fail_times"]:
                raise RuntimeError(f"failing on purpose ({seen})")
        with self.db.unit_of_work() as uow:
            uow.session.execute(insert(notes), [
                {"text": event.data["text"]} for event in uow.fresh(events)])

    @rpc
    def texts(self):
        with self.db.session() as session:
            return [row.text for row in session.execute(select(notes.c.text).order_by(notes.c.id))]
