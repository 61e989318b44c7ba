"""What every ``services/<name>/cli.py`` needs."""

from pathlib import Path

from shared.config import database_url
from shared.db import open_database

SERVICES_DIR = Path(__file__).resolve().parent.parent / "services"


def service_database(name: str, run_migrations: bool = True):
    """The service's own database (``<NAME>_DATABASE_URL``), migrated to its head.

    CLI commands work on it directly; events they cause wait in the outbox until the
    service runs and publishes them.
    """
    return open_database(database_url(name), name, SERVICES_DIR / name / "migrations",
                         run_migrations=run_migrations)
