"""What every ``services/<name>/cli.py`` needs."""

import json
from contextlib import contextmanager
from datetime import date, datetime
from pathlib import Path

import click

from shared.config import database_url
from shared.db import open_database
from shared.errors import ServiceError
from shared.timeutil import rfc3339

SERVICES_DIR = Path(__file__).resolve().parent.parent / "services"


def service_database(name: str, run_migrations: bool = True):
    """The service's own database (``<NAME>_DATABASE_URL``), migrated to its head.

    CLI commands work on it directly; events they cause wait in the outbox until the
    service runs and publishes them.
    """
    return open_database(database_url(name), name, SERVICES_DIR / name / "migrations",
                         run_migrations=run_migrations)


@contextmanager
def command_database(name: str):
    """``with command_database("registry") as db:``: the service's database for one
    command. What the service refuses (a ``shared.errors`` error) ends the command with
    one line (its message and details) instead of a traceback; the connections close
    either way."""
    database = service_database(name)
    try:
        yield database
    except ServiceError as exc:
        detail = f": {json.dumps(exc.details, ensure_ascii=False, default=str)}" \
            if exc.details else ""
        raise click.ClickException(exc.message + detail) from None
    finally:
        database.engine.dispose()


def json_default(value):
    """``json.dumps(..., default=json_default)``: what JSON has no type for, as every CLI
    prints it; a timestamp as RFC 3339 with an offset, like the HTTP and RPC answers."""
    if isinstance(value, datetime):
        return rfc3339(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, set | frozenset):
        return sorted(value)
    return str(value)
