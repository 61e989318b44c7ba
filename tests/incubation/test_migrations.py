"""The migrations build exactly the tables the models describe, on both backends, and
0002 builds the workers reached by kind from the activities kept before it."""

from alembic import command
from alembic.config import Config
from sqlalchemy import create_engine, select

from services.incubation import operations
from services.incubation.models import metadata, reach, reach_counts
from services.incubation.service import MIGRATIONS
from shared.db import migrate
from shared.testing import schema_differences
from tests.incubation.conftest import (
    GANGTOU,
    HUB_STAFF,
    NANKENG,
    activity,
    incubating,
    today,
    write,
)


def test_the_migrated_schema_is_the_models(db_url):
    assert schema_differences(db_url, metadata, MIGRATIONS) == []


def _kept(db_url):
    engine = create_engine(db_url)
    try:
        with engine.connect() as connection:
            return (sorted(map(tuple, connection.execute(select(reach)))),
                    sorted(map(tuple, connection.execute(select(reach_counts)))))
    finally:
        engine.dispose()


def test_0002_builds_the_reach_by_kind_from_the_activities_kept(db, db_url):
    first, second = incubating(db, name="甲机构"), incubating(db, name="乙机构",
                                                               kind="counselling")
    write(db, operations.report_activities, [
        activity(first["id"], NANKENG, today(), ["A", "B"]),
        activity(first["id"], GANGTOU, today(), ["A", "C"], kind="counselling"),
        activity(second["id"], NANKENG, today(), ["A"], kind="counselling")], HUB_STAFF)
    kept = _kept(db_url)
    assert {row[3] for row in kept[1]} == {"*", "legal_aid", "counselling"}
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", db_url.replace("%", "%%"))
    config.attributes["configure_logger"] = False
    command.downgrade(config, "0001")
    assert _counted_rows(db_url) == sum(row[3] == "*" for row in kept[1])  # "*" kept
    migrate(db_url, MIGRATIONS)
    assert _kept(db_url) == kept


def _counted_rows(db_url):
    engine = create_engine(db_url)
    try:
        with engine.connect() as connection:
            return connection.exec_driver_sql("SELECT count(*) FROM reach_counts").scalar()
    finally:
        engine.dispose()
