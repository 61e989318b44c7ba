"""First run (``gonghui up``): migrate the notifications database (services start with
DATABASE_MIGRATE=0 there)."""

from shared.db import migrate


def prepare(database_url, migrations_dir):
    migrate(database_url, migrations_dir)
    yield "migrated"
