"""The migrations build exactly the tables the models describe, on both backends."""

from services.incubation.models import metadata
from services.incubation.service import MIGRATIONS
from shared.testing import schema_differences


def test_the_migrated_schema_is_the_models(db_url):
    assert schema_differences(db_url, metadata, MIGRATIONS) == []
