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


class TcpProxy:
    """A TCP proxy on green threads that a test can cut, to take the broker away from one
    service while everyone else keeps using it.

        proxy = TcpProxy(5672).start()
        config["AMQP_URI"] = proxy.rewrite(config["AMQP_URI"])
        proxy.cut()                 # open connections reset, new ones refused
        proxy.restore()             # listening again on the same port
        proxy.cut_in_flight()       # cut while a client is sending: see below

    Cutting closes the listening socket (connects get ECONNREFUSED, as from a stopped
    broker) and resets every open connection, so clients see what a broker crash looks
    like. ``cut_in_flight`` waits for the next bytes a client sends, lets them (and what
    follows for ``grace`` seconds) reach the server but nothing come back, then cuts: the
    broker has the messages and the publisher never gets the confirms, the case that
    makes an at-least-once publisher send duplicates.
    """

    def __init__(self, target_port: int, target_host: str = "127.0.0.1", port: int = 0):
        self.target = (target_host, target_port)
        self.port = port
        self.accepted = 0
        self.dropped = 0
        self.withheld = 0  # bytes from the server never delivered (in-flight cut)
        self._listener = None
        self._acceptor = None
        self._pipes = {}  # client socket -> (upstream socket, pump green threads)
        self._armed = None  # an Event while cut_in_flight waits for traffic
        self._withholding = False

    @property
    def is_cut(self) -> bool:
        return self._listener is None

    def start(self):
        import eventlet

        self._listener = eventlet.listen(("127.0.0.1", self.port))  # sets SO_REUSEADDR
        self.port = self._listener.getsockname()[1]
        self._acceptor = eventlet.spawn(self._accept, self._listener)
        return self

    def rewrite(self, uri: str) -> str:
        """``uri`` with its host and port replaced by this proxy's."""
        from urllib.parse import urlsplit, urlunsplit

        parts = urlsplit(uri)
        credentials = parts.netloc.rpartition("@")[0]
        address = f"127.0.0.1:{self.port}"
        return urlunsplit(parts._replace(netloc=f"{credentials}@{address}"
                                         if credentials else address))

    def cut(self):
        if self._acceptor is not None:
            self._acceptor.kill()
            self._acceptor = None
        if self._listener is not None:
            self._listener.close()
            self._listener = None
        for client in list(self._pipes):
            self._drop(client)
        self._withholding = False

    def cut_in_flight(self, grace: float = 0.05, timeout: float = 10.0) -> bool:
        """Cut once a client sends something; False if nobody sent within ``timeout``."""
        import eventlet
        from eventlet.event import Event

        self._armed = Event()
        sent = self._armed.wait(timeout) is not None
        self._armed = None
        if sent:
            eventlet.sleep(grace)
        self.cut()
        return sent

    def restore(self):
        if self.is_cut:
            self.start()

    def stop(self):
        self.cut()

    def _accept(self, listener):
        import eventlet

        while True:
            client, _ = listener.accept()
            try:
                upstream = eventlet.connect(self.target)
            except OSError:
                client.close()
                continue
            self.accepted += 1
            pumps = (eventlet.spawn(self._pump, client, upstream, True),
                     eventlet.spawn(self._pump, upstream, client, False))
            self._pipes[client] = (upstream, pumps)

    def _pump(self, source, sink, to_server):
        try:
            while True:
                data = source.recv(65536)
                if not data:
                    break
                if to_server and self._armed is not None and not self._armed.ready():
                    self._withholding = True
                    self._armed.send(True)
                if not to_server and self._withholding:
                    self.withheld += len(data)
                    continue
                sink.sendall(data)
        except OSError:
            pass
        finally:
            # one side closed: close both (a half-open AMQP connection is of no use)
            import eventlet

            for client, (upstream, pumps) in list(self._pipes.items()):
                if source in (client, upstream):
                    self._pipes.pop(client, None)
                    # Stop the other pump first: left waiting on a closed socket, its hub
                    # listener outlives the fd, and whatever reuses the fd number next
                    # (a psycopg2 connection) fails with "Second simultaneous read".
                    for pump in pumps:
                        if pump is not eventlet.getcurrent():
                            pump.kill()
                    client.close()
                    upstream.close()

    def _drop(self, client):
        import struct

        pipe = self._pipes.pop(client, None)
        if pipe is None:  # its pump closed it while an earlier one was being dropped
            return
        upstream, pumps = pipe
        for pump in pumps:
            pump.kill()
        for sock in (client, upstream):
            try:
                # linger 0: close with a reset, as a crashed broker's host would
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            except OSError:
                pass
            sock.close()
        self.dropped += 1


@pytest.fixture(scope="session")
def _open_tcp_proxies():
    proxies = []
    yield proxies
    for proxy in proxies:
        proxy.stop()


@pytest.fixture
def tcp_proxy(_open_tcp_proxies):
    """Factory: ``tcp_proxy(target_port)`` starts a TcpProxy for this test.

    After the test the proxy is restored, not stopped: nameko's ``container_factory``
    kills containers after every other fixture, and a container whose broker is gone
    hangs in kombu's reconnect loop. Proxies close at the end of the session.
    """
    proxies = []

    def make(target_port: int, target_host: str = "127.0.0.1") -> TcpProxy:
        proxy = TcpProxy(target_port, target_host).start()
        proxies.append(proxy)
        _open_tcp_proxies.append(proxy)
        return proxy

    yield make
    for proxy in proxies:
        proxy.restore()


def schema_differences(database_url, metadata, migrations_dir) -> list:
    """Migrate an empty database, then list how it differs from ``metadata`` plus the kit's
    tables (Alembic's autogenerate comparison): [] when migrations and models agree."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from shared.db import kit_metadata, make_engine, migrate

    migrate(database_url, migrations_dir)
    engine = make_engine(database_url)
    try:
        with engine.connect() as connection:
            context = MigrationContext.configure(connection)
            return compare_metadata(context, [metadata, kit_metadata])
    finally:
        engine.dispose()
