"""The migrations build exactly the tables models.py describes, on both backends."""

from services.registry.models import metadata
from services.registry.service import MIGRATIONS
from shared.testing import schema_differences


def test_the_migrations_match_the_models(db_url):
    assert schema_differences(db_url, metadata, MIGRATIONS) == []
