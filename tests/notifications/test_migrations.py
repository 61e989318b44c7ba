"""The migrations build exactly the tables models.py describes."""

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from services.notifications.models import metadata
from shared.db import kit_metadata


def test_the_migrations_match_the_models(database):
    with database.engine.connect() as connection:
        context = MigrationContext.configure(connection)
        differences = compare_metadata(context, [metadata, kit_metadata])
    assert differences == []
