"""The project's pytest plugin (``pytest_plugins = ["shared.testing"]`` in tests/conftest.py).

Builds on nameko's own plugin (``rabbit_config``: a fresh vhost per test through the
management API; ``container_factory``; ``runner_factory``; ``web_session``) and adds:

- ``db_url``: a fresh empty database, parametrized over SQLite and PostgreSQL, so one
  test body runs against both backends. ``TEST_DATABASES=sqlite`` narrows it.
- ``service_config``: a nameko config for one service under test (broker vhost,
  database, a free HTTP port, fast retries).
"""

import os
import socket
import uuid

import pytest

POSTGRES_ADMIN_URL = os.environ.get(
    "TEST_POSTGRES_URL", "postgresql+psycopg2://postgres@127.0.0.1:5432/test"
)
BACKENDS = [b.strip() for b in os.environ.get("TEST_DATABASES", "sqlite,postgresql").split(",")]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class PostgresDatabases:
    """Creates and drops throwaway databases on the local PostgreSQL."""

    def __init__(self, admin_url=POSTGRES_ADMIN_URL):
        from sqlalchemy import create_engine

        self.admin_url = admin_url
        self.engine = create_engine(admin_url, isolation_level="AUTOCOMMIT", poolclass=None)

    def create(self) -> str:
        from sqlalchemy import text
        from sqlalchemy.engine import make_url

        name = f"gonghui_test_{uuid.uuid4().hex[:12]}"
        with self.engine.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
        return make_url(self.admin_url).set(database=name).render_as_string(hide_password=False)

    def drop(self, url: str):
        from sqlalchemy import text
        from sqlalchemy.engine import make_url

        name = make_url(url).database
        with self.engine.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture(scope="session")
def postgres_databases():
    databases = PostgresDatabases()
    yield databases
    databases.engine.dispose()


def _backend_params():
    params = []
    if "sqlite" in BACKENDS:
        params.append("sqlite")
    if "postgresql" in BACKENDS:
        params.append(pytest.param("postgresql", marks=pytest.mark.postgres))
    return params


@pytest.fixture(params=_backend_params())
def db_url(request, tmp_path):
    """An empty database URL on each backend in turn."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path}/service.db"
        return
    databases = request.getfixturevalue("postgres_databases")
    url = databases.create()
    yield url
    from sqlalchemy import create_engine

    create_engine(url).dispose()
    databases.drop(url)


@pytest.fixture
def sqlite_url(tmp_path):
    """A SQLite database, for tests about behaviour rather than the backend."""
    return f"sqlite:///{tmp_path}/service.db"


@pytest.fixture
def make_service_config(rabbit_config):
    """Build a nameko config for one service: ``make_service_config(db_url, **overrides)``."""

    def make(database_url, **overrides):
        config = dict(rabbit_config)
        config.update(
            {
                "DATABASE_URL": database_url,
                "DATABASE_MIGRATE": True,
                "WEB_SERVER_ADDRESS": f"127.0.0.1:{free_port()}",
                "OUTBOX_BATCH_SIZE": 500,
                "OUTBOX_POLL_SECONDS": 0.05,
                "EVENT_RETRY_DELAYS": [0.05, 0.1],
                "max_workers": 10,
            }
        )
        config.update(overrides)
        return config

    return make


@pytest.fixture
def service_config(make_service_config, db_url):
    return make_service_config(db_url)
