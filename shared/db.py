"""Database per service: engines, the kit's own tables, migrations, the unit of work.

A service owns one database. Besides its own tables every service database holds the
kit's tables (``kit_metadata``): the outbox of events to publish and the record of
events already handled. A service's first Alembic migration creates them with
``create_kit_tables()``, so they are versioned like everything else.
"""

import io
import logging
import zlib
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    TypeDecorator,
    create_engine,
    event,
    func,
    insert,
    select,
    text,
)
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.orm import sessionmaker
from sqlalchemy.pool import NullPool

from shared import deadlines
from shared.errors import OutcomeUnknown, Unavailable
from shared.events import catalogue, make_envelope

log = logging.getLogger(__name__)

kit_metadata = MetaData()

# Events waiting to be published; `seq` gives the publishing order.
outbox_table = Table(
    "outbox",
    kit_metadata,
    Column("seq", BigInteger().with_variant(Integer, "sqlite"), primary_key=True,
           autoincrement=True),
    Column("event_id", String(64), nullable=False, unique=True),
    Column("exchange", String(128), nullable=False),
    Column("routing_key", String(128), nullable=False),
    Column("body", Text, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("published_at", DateTime(timezone=True), nullable=True, index=True),
)
# The relay's scan: without it, a long published history is walked on every batch.
Index(
    "ix_outbox_unpublished_seq",
    outbox_table.c.seq,
    postgresql_where=outbox_table.c.published_at.is_(None),
    sqlite_where=outbox_table.c.published_at.is_(None),
)

# One row per (event, consumer) already handled: the idempotency record.
processed_events_table = Table(
    "processed_events",
    kit_metadata,
    Column("event_id", String(64), primary_key=True),
    Column("consumer", String(200), primary_key=True),
    Column("handled_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

# Which relay process may publish this database's outbox (one at a time keeps the order).
relay_lease_table = Table(
    "outbox_relay_lease",
    kit_metadata,
    Column("id", Integer, primary_key=True),
    Column("holder", String(64), nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=False),
)


def create_kit_tables(op):
    """Call from a service's first migration: creates the outbox and idempotency tables."""
    bind = op.get_bind()
    kit_metadata.create_all(bind)


def drop_kit_tables(op):
    kit_metadata.drop_all(op.get_bind())


def _green_postgres():
    # psycopg2 is a C driver: without this every query blocks the eventlet hub.
    from eventlet import patcher

    if patcher.is_monkey_patched("socket"):
        from psycogreen.eventlet import patch_psycopg

        patch_psycopg()


def make_engine(url: str, **kwargs):
    if url.startswith("sqlite"):
        if url.startswith("sqlite:///") and not url.startswith("sqlite:///:memory:"):
            Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": 30}, **kwargs)

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection, _record):
            cursor = dbapi_connection.cursor()
            # WAL lets the outbox relay read while a request writes.
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.close()

        return engine
    if url.startswith("postgresql"):
        _green_postgres()
        kwargs.setdefault("pool_size", 10)
        kwargs.setdefault("max_overflow", 20)
        # No ping before every checkout (a round trip per unit of work, ~4% of a report's
        # CPU): after a PostgreSQL restart the first statement on a dead connection fails,
        # SQLAlchemy then drops every pooled connection, and the caller's retry (the
        # consumer's retry queue, the relay's backoff, a client's resend) gets a fresh one.
        kwargs.setdefault("pool_recycle", 1800)
    return create_engine(url, **kwargs)


def migrate(url: str, migrations_dir, revision="head", settings=None):
    """Upgrade a service database to ``revision`` with the service's Alembic scripts.

    ``settings``: the service's nameko config, for a data migration that needs one of
    its settings (``migration_settings()``); without it such a migration reads the
    environment, as the service would.
    """
    from alembic import command
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(migrations_dir))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    config.attributes["configure_logger"] = False
    config.attributes["settings"] = settings
    with _migration_lock(url):
        command.upgrade(config, revision)


# pg_advisory_lock key of the migrations (any 64-bit number the services agree on)
MIGRATION_LOCK = zlib.crc32(b"gonghui migrations")


@contextmanager
def _migration_lock(url: str):
    """On PostgreSQL, one migrating process at a time per database: replicas started
    together (a rollout) would otherwise race to create the same tables, and all but
    one crash. The lock is the session's, on a connection of its own, so it is released
    however the upgrade ends. A SQLite file has one service process (``gonghui up``)."""
    if not url.startswith("postgresql"):
        yield
        return
    engine = create_engine(url, poolclass=NullPool)
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT pg_advisory_lock(:key)"), {"key": MIGRATION_LOCK})
            try:
                yield
            finally:
                connection.execute(text("SELECT pg_advisory_unlock(:key)"),
                                   {"key": MIGRATION_LOCK})
    finally:
        engine.dispose()


class NotMigrated(RuntimeError):
    """The database is not at the revision the code expects."""


def require_migrated(engine, migrations_dir) -> None:
    """Raise ``NotMigrated`` unless the database is at the head of the service's scripts:
    a service started with ``DATABASE_MIGRATE=0`` on a database nobody migrated would
    otherwise run, and fail on every query."""
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory

    heads = set(ScriptDirectory(str(migrations_dir)).get_heads())
    with engine.connect() as connection:
        current = set(MigrationContext.configure(connection).get_current_heads())
    if current != heads:
        raise NotMigrated(
            f"the database {engine.url.render_as_string(hide_password=True)} is at "
            f"{', '.join(sorted(current)) or 'no revision'}, the code needs "
            f"{', '.join(sorted(heads))}: migrate it (`gonghui migrate`, or start the "
            "service with DATABASE_MIGRATE=1)")


def migration_settings() -> dict | None:
    """In a migration: the config ``migrate`` was given (None from the CLI)."""
    from alembic import context

    return context.config.attributes.get("settings")


def run_migrations_env(target_metadata):
    """The body of every service's ``migrations/env.py``."""
    from alembic import context

    config = context.config
    url = config.get_main_option("sqlalchemy.url")
    connectable = context.config.attributes.get("connection")
    if connectable is None:
        engine = make_engine(url)
        with engine.connect() as connection:
            _run(context, connection, target_metadata)
        engine.dispose()
    else:
        _run(context, connectable, target_metadata)


def _run(context, connection, target_metadata):
    context.configure(
        connection=connection,
        target_metadata=[target_metadata, kit_metadata],
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()


class UnitOfWork:
    """One transaction: state changes plus the events they cause, committed together.

    ``publish`` writes to the outbox table in this transaction; the relay sends the event
    after commit. If the transaction rolls back, the event never existed.
    """

    def __init__(self, session, source: str):
        self.session = session
        self.source = source
        self.published = 0

    def publish(self, event_type: str, data: dict, subject=None) -> dict:
        envelope = make_envelope(catalogue.get(self.source, event_type), data, subject)
        self.session.execute(insert(outbox_table), {
            "event_id": envelope["id"],
            "exchange": f"{self.source}.events",
            "routing_key": event_type,
            "body": _dumps(envelope),
        })
        self.published += 1
        return envelope

    def publish_many(self, events, validate=True, wire_form=False) -> int:
        """``publish`` for many events in one INSERT, in order (bulk writes, imports).

        ``events``: ``(event_type, data, subject)`` tuples; each is checked like ``publish``
        unless ``validate=False`` (payloads the code built itself; with ``wire_form=True``
        already in their dumped form: see ``make_envelope``).
        """
        rows = []
        for event_type, data, subject in events:
            envelope = make_envelope(catalogue.get(self.source, event_type), data, subject,
                                     validate=validate, wire_form=wire_form)
            rows.append({
                "event_id": envelope["id"],
                "exchange": f"{self.source}.events",
                "routing_key": event_type,
                "body": _dumps(envelope),
            })
        insert_many(self.session, outbox_table, rows)
        self.published += len(rows)
        return len(rows)

    def is_duplicate(self, event, consumer: str | None = None) -> bool:
        """Record ``event`` as handled by ``consumer``; True if it already was.

        The record commits with the handler's effects, so a redelivered event is seen
        as a duplicate exactly when its effects are already in the database.
        """
        consumer = consumer or getattr(event, "consumer", None) or "default"
        seen = self.session.execute(
            select(processed_events_table.c.event_id).where(
                processed_events_table.c.event_id == event.id,
                processed_events_table.c.consumer == consumer,
            )
        ).first()
        if seen:
            return True
        self.session.execute(insert(processed_events_table),
                             {"event_id": event.id, "consumer": consumer})
        return False


    def fresh(self, events, consumer: str | None = None) -> list:
        """``is_duplicate`` for a batch: the events not handled before, in order, each
        recorded as handled by this transaction (a redelivered copy within the batch
        counts once)."""
        if not events:
            return []
        consumer = consumer or getattr(events[0], "consumer", None) or "default"
        ids = {item.id for item in events}
        seen = set(self.session.execute(
            select(processed_events_table.c.event_id).where(
                processed_events_table.c.event_id.in_(sorted(ids)),
                processed_events_table.c.consumer == consumer,
            )
        ).scalars())
        fresh = []
        for item in events:
            if item.id not in seen:
                seen.add(item.id)
                fresh.append(item)
        if fresh:
            self.session.execute(insert(processed_events_table), [
                {"event_id": item.id, "consumer": consumer} for item in fresh])
        return fresh


def can_copy() -> bool:
    """Whether psycopg2 can run ``COPY ... FROM STDIN`` here: not under eventlet, whose
    wait callback (psycogreen, in the services) makes psycopg2 refuse a COPY."""
    import psycopg2.extensions

    return psycopg2.extensions.get_wait_callback() is None


def copy_text(session, target: str, text_rows: str):
    """COPY rows in PostgreSQL's text format (tab-separated, ``\\N`` for NULL) into
    ``target`` ("table (column, ...)"), in the session's transaction."""
    cursor = session.connection().connection.dbapi_connection.cursor()
    cursor.copy_expert(f"COPY {target} FROM STDIN", io.StringIO(text_rows))
    cursor.close()


def insert_many(session, table, rows: list[dict]):
    """``session.execute(insert(table), rows)``, as a COPY on PostgreSQL where it can run
    (``can_copy``) and the columns are of plain types: PostgreSQL parses no SQL per row,
    psycopg2 interpolates no parameters. Every row has the first one's keys; omitted
    columns take their server defaults either way."""
    if not rows:
        return
    names = list(rows[0])
    encoders = [_copy_encoder(table.c[name].type) for name in names]
    if (session.get_bind().dialect.name != "postgresql" or None in encoders
            or not can_copy()):
        session.execute(insert(table), rows)
        return
    lines = ["\t".join([encode(row[name]) for name, encode in zip(names, encoders, strict=True)])
             for row in rows]
    lines.append("")
    copy_text(session, f"{table.name} ({', '.join(names)})", "\n".join(lines))


_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})
_PLAIN_TYPES = (String, Integer, BigInteger, DateTime)  # Text is a String


def _copy_text_value(value) -> str:
    if value is None:
        return "\\N"
    value = str(value)
    if "\\" in value or "\t" in value or "\n" in value or "\r" in value:  # rare: skip translate
        return value.translate(_COPY_ESCAPES)
    return value


def _copy_encoder(column_type):
    """How a value of ``column_type`` is written in COPY's text format, as SQLAlchemy
    would bind it; None for a type this does not know (a TypeDecorator's own binding)."""
    import json

    if isinstance(column_type, TypeDecorator):
        return None
    if isinstance(column_type, JSON):
        null = "\\N" if column_type.none_as_null else "null"  # SQL NULL or JSON null
        return lambda value: null if value is None else _copy_text_value(json.dumps(value))
    if isinstance(column_type, Boolean):
        return lambda value: "\\N" if value is None else ("t" if value else "f")
    if isinstance(column_type, _PLAIN_TYPES):
        return _copy_text_value
    return None


def _dumps(value) -> str:
    import json

    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _aborted(exc) -> bool:
    """A database error after which nothing of the transaction is kept: the server is
    unreachable or went away, or it aborted the transaction (a deadlock, a lock timeout,
    SQLite's "database is locked"). Told to a caller as ``Unavailable``, not a 500."""
    import sqlite3

    if exc.connection_invalidated:
        return True
    if isinstance(exc.orig, sqlite3.OperationalError):
        # SQLite says OperationalError for a missing table or bad SQL too: those are bugs
        return str(exc.orig).startswith(("database is locked", "unable to open database"))
    return isinstance(exc, OperationalError)


@contextmanager
def _nothing_done_if_aborted(message="the database is unavailable; nothing was done"):
    """An aborted transaction (``_aborted``) raised inside is an ``Unavailable``."""
    try:
        yield
    except DBAPIError as exc:
        if not _aborted(exc):
            raise
        raise Unavailable(message) from exc


class DatabaseAccess:
    """What a worker gets from ``Database``: sessions and units of work.

    ``context``: the worker's context data, where its caller's deadline is
    (``shared.deadlines``); a unit of work does not commit later than ``commit_margin``
    seconds before it.
    """

    def __init__(self, engine, session_factory, source, on_commit=None, context=None,
                 commit_margin=deadlines.COMMIT_MARGIN):
        self.engine = engine
        self._session_factory = session_factory
        self.source = source
        self._on_commit = on_commit
        self._context = context
        self._commit_margin = commit_margin

    @contextmanager
    def session(self):
        """A read session (nothing is committed). A database that is down is an
        ``Unavailable`` (503), not an internal error."""
        session = self._session_factory()
        try:
            with _nothing_done_if_aborted():
                yield session
        finally:
            session.close()

    @contextmanager
    def unit_of_work(self):
        session = self._session_factory()
        uow = UnitOfWork(session, self.source)
        try:
            with _nothing_done_if_aborted():
                yield uow
                # Rolled back, events and all, if the caller may stop waiting before it hears.
                deadlines.refuse_commit_if_late(deadlines.deadline_of(self._context),
                                                self._commit_margin)
            with _nothing_done_if_aborted("the database refused the commit; nothing was done"):
                try:
                    session.commit()
                except DBAPIError as exc:
                    # The COMMIT may have reached the server before the connection died.
                    if exc.connection_invalidated:
                        raise OutcomeUnknown("the database connection was lost while "
                                             "committing: the change may have been made") \
                            from exc
                    raise
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()
        if uow.published and self._on_commit:
            self._on_commit()

    @contextmanager
    def changes(self):
        """``unit_of_work`` for a request: a race lost to another request on a unique rule
        (two first saves of one thing at once) is a 409 to try again, and the database's
        message, which may name the values, stays out of the answer."""
        from sqlalchemy.exc import IntegrityError

        from shared.errors import Conflict

        try:
            with self.unit_of_work() as uow:
                yield uow
        except IntegrityError:
            raise Conflict("changed by another request at the same time; try again") \
                from None

    def apply_once(self, event, apply, *args) -> bool:
        """Call ``apply(session, event.data, *args)`` unless ``event`` was handled before.

        The idempotency record and ``apply``'s writes commit in one transaction, so a
        redelivered event changes nothing; returns whether ``apply`` ran. For a read model
        fed by another service's events::

            self.db.apply_once(event, readmodel.apply_enterprise, event_time(event.time))
        """
        with self.unit_of_work() as uow:
            if uow.is_duplicate(event):
                return False
            apply(uow.session, event.data, *args)
        return True

    def ping(self) -> bool:
        with self.engine.connect() as connection:
            connection.execute(text("SELECT 1"))
        return True


def open_database(url: str, source: str, migrations_dir=None, run_migrations=True):
    """A DatabaseAccess outside nameko (CLIs, imports, benchmarks)."""
    if run_migrations and migrations_dir is not None:
        migrate(url, migrations_dir)
    engine = make_engine(url)
    return DatabaseAccess(engine, sessionmaker(engine, expire_on_commit=False), source)


@contextmanager
def opened_database(url: str, source: str, migrations_dir=None):
    """``with opened_database(url, "disputes", migrations) as db:``: ``open_database``
    for one piece of work (a first run's ``sample.prepare``), its connections closed after."""
    db = open_database(url, source, migrations_dir)
    try:
        yield db
    finally:
        db.engine.dispose()


def read_once(session, cache: dict, key, read):
    """``read(session)`` once per process and database, for rows that never change once
    written (a published policy version, a salt made by the first migration). Keyed by
    the engine itself: rendering its URL on every call costs more than the read."""
    cache_key = (session.get_bind(), key)
    if cache_key not in cache:
        cache[cache_key] = read(session)
    return cache[cache_key]
