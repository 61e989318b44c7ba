"""A database that is down is a 503 "not done", not a 500; a connection lost during the
COMMIT itself is a 504 "may have been done" (shared.db.DatabaseAccess). On a PostgreSQL
server of this module's own, so that it can be stopped."""

import pytest
from sqlalchemy import Column, Integer, MetaData, Table, insert, select, text

from shared.db import open_database
from shared.errors import OutcomeUnknown, Unavailable

metadata = MetaData()
things = Table("things", metadata, Column("id", Integer, primary_key=True))


@pytest.fixture
def database(private_postgres):
    url = private_postgres.databases.create()
    database = open_database(url, "demo")
    metadata.create_all(database.engine)
    yield database
    database.engine.dispose()
    private_postgres.databases.drop(url)


def count(database):
    with database.session() as session:
        return len(session.execute(select(things.c.id)).all())


def test_a_write_or_a_read_while_postgresql_is_down_is_unavailable_and_nothing_is_done(
        database, private_postgres):
    with database.unit_of_work() as uow:
        uow.session.execute(insert(things).values(id=1))
    private_postgres.stop("immediate")
    try:
        with pytest.raises(Unavailable, match="nothing was done"):
            with database.unit_of_work() as uow:
                uow.session.execute(insert(things).values(id=2))
        with pytest.raises(Unavailable):
            count(database)
    finally:
        private_postgres.start()
    assert count(database) == 1  # back by itself, with only what was committed


def test_a_connection_lost_while_committing_may_have_committed(database, private_postgres):
    admin = private_postgres.databases.engine
    with pytest.raises(OutcomeUnknown, match="may have been made"):
        with database.unit_of_work() as uow:
            uow.session.execute(insert(things).values(id=3))
            pid = uow.session.execute(text("select pg_backend_pid()")).scalar()
            with admin.connect() as connection:  # the server ends the connection
                connection.execute(text(f"select pg_terminate_backend({pid})"))


def test_a_bug_on_sqlite_stays_a_bug(tmp_path):
    database = open_database(f"sqlite:///{tmp_path}/demo.db", "demo")
    try:
        with pytest.raises(Exception) as raised:  # no such table: SQLite's OperationalError
            with database.unit_of_work() as uow:
                uow.session.execute(insert(things).values(id=1))
        assert not isinstance(raised.value, Unavailable | OutcomeUnknown)
    finally:
        database.engine.dispose()
