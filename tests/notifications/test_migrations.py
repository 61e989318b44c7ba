"""The migrations build exactly the tables models.py describes."""

from services.notifications.models import metadata
from shared.testing import schema_differences
from tests.notifications.conftest import MIGRATIONS


def test_the_migrations_match_the_models(db_url):
    assert schema_differences(db_url, metadata, MIGRATIONS) == []
