"""The gateway's tables (models.py): the migrations build exactly them, on both backends, and
0003 gives the tokens issued before it (which never expired) the default lifetime from
the upgrade, so an upgrade locks nobody out."""

from datetime import UTC, datetime, timedelta

from sqlalchemy import create_engine, text

from services.gateway import accounts
from services.gateway.models import metadata
from services.gateway.service import MIGRATIONS
from shared.db import migrate
from shared.testing import schema_differences


def test_the_migrations_match_the_models(db_url):
    assert schema_differences(db_url, metadata, MIGRATIONS) == []


def test_0003_gives_earlier_tokens_the_default_lifetime_from_the_upgrade(
        db_url, database_factory):
    migrate(db_url, MIGRATIONS, revision="0002")
    engine = create_engine(db_url)
    with engine.begin() as connection:
        connection.execute(text("INSERT INTO users (name, role, org_code) "
                                "VALUES ('old', 'admin', 'longgang')"))
        connection.execute(text("INSERT INTO tokens (user_id, token_hash) VALUES (1, :hash)"),
                           {"hash": accounts.hash_token("ghu_old")})
    engine.dispose()
    database = database_factory(db_url, "gateway", MIGRATIONS)  # migrates to the head
    with database.session() as session:
        user = accounts.authenticate(session, "ghu_old")
    assert user.name == "old"
    left = user.token_expires_at - datetime.now(UTC)
    assert timedelta(days=89) < left <= timedelta(days=90)
