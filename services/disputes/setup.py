"""First run (``gonghui up``): migrate the disputes database (services start with
DATABASE_MIGRATE=0 there). The sample statistics are loaded only on request
(``gonghui disputes load-sample``): they are figures from the articles, not live cases."""

from shared.db import migrate


def prepare(database_url, migrations_dir):
    migrate(database_url, migrations_dir)
    yield "migrated"
