from services.competitions.models import metadata
from services.competitions.service import MIGRATIONS
from shared.testing import schema_differences


def test_the_migrations_build_exactly_the_tables_of_the_models(db_url):
    assert schema_differences(db_url, metadata, MIGRATIONS) == []
