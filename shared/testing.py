"""The project's pytest plugin (``pytest_plugins = ["shared.testing"]`` in tests/conftest.py).

Builds on nameko's own plugin (``rabbit_config``: a fresh vhost per test through the
management API; ``container_factory``; ``runner_factory``; ``web_session``) and adds:

- ``db_url``: a fresh empty database, parametrized over SQLite and PostgreSQL, so one
  test body runs against both backends. ``TEST_DATABASES=sqlite`` narrows it.
- ``service_config``: a nameko config for one service under test (broker vhost,
  database, a free HTTP port, fast retries).
- ``database_factory``: a service's database opened outside nameko, closed after the test.
- ``event_tap``: a queue bound to ``<service>.events``, to see what a service published.
- ``tcp_proxy``: a TCP proxy a test can cut, to take the broker away from one service.
- ``firehose``: every AMQP message of the test's vhost (``Firehose``), to show that a
  secret never crosses the broker; ``post_from`` sends an HTTP request from a loopback
  address of the test's choosing, so the address such a message might leak is known.
- ``private_postgres``: a PostgreSQL server of the test module's own (``PrivatePostgres``),
  to stop and start again without touching the machine's.
- ``chromium`` / ``promtool``: the browser and Prometheus' config checker, for the tests
  that use them; ``browser``: a headless Chromium driven by Selenium.

What a test needs from the machine (RabbitMQ's management API, PostgreSQL, chromium and
chromedriver, promtool) is checked once, before the first test runs: when a part the
selected tests need is missing, the session stops with one line per part saying how to get
it (``make test`` brings every part up: deploy/dev/bring-up.sh). Nothing is skipped for a
missing part.

and plain helpers: ``call`` (an entrypoint of a running container), ``eventually`` and
``wait_for`` (poll until something holds), ``service_ready`` (a service's /readyz answers 200),
``publish_events`` (another service's events on
the broker), ``outbox_envelopes`` and ``unpublished`` (what a database's outbox holds),
``database_provider`` (the ``Database`` provider of a running container).
"""

import json
import os
import socket
import time
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
    _require("postgres")
    databases = PostgresDatabases()
    yield databases
    databases.engine.dispose()


class PrivatePostgres:
    """A PostgreSQL server of one's own: a cluster made by initdb in a temporary folder,
    listening on a free port of 127.0.0.1, so that a test can stop and restart it (or kill
    it: ``stop("immediate")`` is a crash, recovered from the WAL at the next start) while
    the machine's server, shared by everyone, stays up.

        server = PrivatePostgres().start()
        url = server.databases.create()     # PostgresDatabases on this server
        server.stop("immediate"); server.start()
        server.close()                      # stopped, its folder removed

    As root its programs run as the ``postgres`` user (initdb refuses root). ``fsync``
    is off: a crashed server loses nothing a client saw committed, only a crashed machine
    would, and that is not what a test does."""

    def __init__(self, bin_dir=None):
        import tempfile
        from pathlib import Path

        self.bin_dir = Path(bin_dir or postgres_bin_dir())
        self.folder = Path(tempfile.mkdtemp(prefix="gonghui-postgres-"))
        self.data = self.folder / "data"
        self.log = self.folder / "server.log"
        self.port = free_port()
        self.starts = 0
        if os.geteuid() == 0:
            import shutil

            shutil.chown(self.folder, "postgres", "postgres")
        self._run("initdb", "-D", str(self.data), "-U", "postgres", "-A", "trust",
                  "-E", "UTF8", "--no-sync")
        self.admin_url = f"postgresql+psycopg2://postgres@127.0.0.1:{self.port}/postgres"
        self.databases = None

    def _run(self, program, *args):
        import subprocess

        command = [str(self.bin_dir / program), *args]
        if os.geteuid() == 0:
            command = ["runuser", "-u", "postgres", "--", *command]
        done = subprocess.run(command, capture_output=True, text=True, timeout=120)
        if done.returncode != 0:
            raise RuntimeError(f"{program} failed ({done.returncode}): {done.stderr.strip()}"
                               f"\n{self.log.read_text()[-2000:] if self.log.exists() else ''}")

    def start(self):
        options = (f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.folder} "
                   "-c fsync=off -c max_connections=200")
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.log), "-o", options,
                  "-w", "-t", "60", "start")
        self.starts += 1
        if self.databases is None:
            self.databases = PostgresDatabases(self.admin_url)
        else:
            self.databases.engine.dispose()  # its pooled connections died with the server
        return self

    def stop(self, mode="fast"):
        """``fast``: clients disconnected, a clean shutdown; ``immediate``: a crash."""
        self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "stop")

    def close(self):
        import shutil

        if self.databases is not None:
            self.databases.engine.dispose()
        if (self.data / "postmaster.pid").exists():
            self.stop("immediate")
        shutil.rmtree(self.folder, ignore_errors=True)


@pytest.fixture(scope="module")
def private_postgres():
    """A ``PrivatePostgres`` started for the test module, removed after it."""
    _require("postgres-server")
    server = PrivatePostgres().start()
    yield server
    server.close()


# ---------------------------------------------------------------- the machine's parts
# A missing part fails, never skips: ``make test`` brings them all up, so a missing one is
# a machine to fix, and the line says how.

MAKE_TEST = "run `make test` (deploy/dev/bring-up.sh brings it up)"


def _rabbit_api_uri(config) -> str:
    return config.getoption("RABBIT_API_URI")


def _probe_management(config):
    """None when the RabbitMQ management API answers, else the line saying what to do."""
    import base64
    import urllib.request
    from urllib.parse import urlsplit

    parts = urlsplit(_rabbit_api_uri(config))
    address = f"{parts.scheme}://{parts.hostname}:{parts.port or 15672}"
    request = urllib.request.Request(f"{address}/api/overview")
    credentials = f"{parts.username or 'guest'}:{parts.password or 'guest'}"
    request.add_header("Authorization", "Basic " + base64.b64encode(credentials.encode()).decode())
    try:
        with urllib.request.urlopen(request, timeout=3):
            return None
    except OSError as error:
        reason = getattr(error, "reason", None) or error
        return (f"RabbitMQ management API unreachable at {address} ({reason}): {MAKE_TEST} "
                "or `rabbitmq-plugins enable rabbitmq_management`")


def _probe_postgres(config):
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    url = make_url(POSTGRES_ADMIN_URL)
    engine = create_engine(url, connect_args={"connect_timeout": 3}, poolclass=None)
    try:
        with engine.connect() as connection:
            connection.execute(text("select 1"))
        return None
    except Exception as error:  # any failure to connect is the message
        reason = str(getattr(error, "orig", error)).strip().splitlines()[0]
        return (f"PostgreSQL unreachable at {url.render_as_string(hide_password=True)} "
                f"({reason}): {MAKE_TEST}, or `pg_ctlcluster --skip-systemctl-redirect "
                "<version> main start`; TEST_DATABASES=sqlite leaves PostgreSQL out")
    finally:
        engine.dispose()


def postgres_bin_dir():
    """The folder holding PostgreSQL's server programs (initdb, pg_ctl), or None: on PATH,
    else Debian's /usr/lib/postgresql/<version>/bin (the newest)."""
    import shutil
    from pathlib import Path

    if found := shutil.which("pg_ctl"):
        return Path(found).resolve().parent
    versions = sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"),
                      key=lambda path: int(path.parts[-3]) if path.parts[-3].isdigit() else 0)
    return versions[-1].parent if versions else None


def _probe_postgres_server(config):
    if postgres_bin_dir() is not None:
        return None
    return (f"PostgreSQL's server programs (initdb, pg_ctl) not found on PATH or in "
            f"/usr/lib/postgresql/*/bin: {MAKE_TEST} or `apt-get install postgresql`")


def _chromium_paths():
    import shutil

    return shutil.which("chromium"), shutil.which("chromedriver")


def _probe_chromium(config):
    missing = [name for name, path in zip(("chromium", "chromedriver"), _chromium_paths(),
                                          strict=True) if path is None]
    if not missing:
        return None
    return (f"{' and '.join(missing)} not found: {MAKE_TEST} "
            "or `apt-get install chromium chromium-driver`")


def _promtool_path():
    import shutil

    return os.environ.get("PROMTOOL") or shutil.which("promtool")


def _probe_promtool(config):
    path = _promtool_path()
    if path and os.access(path, os.X_OK):
        return None
    where = f"PROMTOOL={path} is not executable" if path else "not on PATH, PROMTOOL unset"
    return (f"promtool not found ({where}): {MAKE_TEST}, it takes promtool out of Debian's "
            "prometheus package")


# part -> (probe, what marks a test as needing it: fixture names, marker names)
PARTS = {
    "management": (_probe_management, {"rabbit_manager"}, set()),
    "postgres": (_probe_postgres, {"postgres_databases"}, {"postgres"}),
    "postgres-server": (_probe_postgres_server, {"private_postgres"}, set()),
    "chromium": (_probe_chromium, {"chromium"}, set()),
    "promtool": (_probe_promtool, {"promtool"}, set()),
}
_probed: dict = {}
_config = None


def _missing(part):
    """The line saying what to do when ``part`` is missing, None when it is there (probed
    once per session)."""
    if part not in _probed:
        _probed[part] = PARTS[part][0](_config)
    return _probed[part]


def _require(part):
    """Fail the test asking for ``part`` with its one line when it is missing."""
    line = _missing(part)
    if line:
        pytest.fail(line, pytrace=False)


def _needs(item) -> set:
    fixtures = set(getattr(item, "fixturenames", ()))
    markers = {mark.name for mark in item.iter_markers()}
    return {part for part, (_, by_fixture, by_marker) in PARTS.items()
            if fixtures & by_fixture or markers & by_marker}


def pytest_configure(config):
    global _config
    _config = config
    _probed.clear()


def pytest_collection_modifyitems(config, items):
    # TEST_DATABASES without postgresql: the PostgreSQL-only tests leave, said in the summary
    if "postgresql" in BACKENDS:
        return
    leaving = [item for item in items if item.get_closest_marker("postgres")]
    if leaving:
        config.hook.pytest_deselected(items=leaving)
        items[:] = [item for item in items if not item.get_closest_marker("postgres")]


def pytest_collection_finish(session):
    """Before the first test: every part the selected tests need is there, or the session
    stops with one line per missing part (instead of hundreds of identical errors)."""
    if session.config.option.collectonly or not session.items:
        return
    counts = {}
    for item in session.items:
        for part in _needs(item):
            counts[part] = counts.get(part, 0) + 1
    lines = [f"{line} [needed by {counts[part]} of the selected tests]"
             for part in PARTS if part in counts and (line := _missing(part))]
    if lines:
        reporter = session.config.pluginmanager.get_plugin("terminalreporter")
        if reporter is not None:
            for line in lines:
                reporter.write_line(f"MISSING {line}", red=True, bold=True)
        pytest.exit(f"stopped before the first test: {len(lines)} part(s) of the machine "
                    "missing (the MISSING lines above)",
                    returncode=pytest.ExitCode.TESTS_FAILED)


@pytest.fixture(scope="session")
def rabbit_manager(request):
    """nameko's ``rabbit_manager``, failing with one line when the management API is off."""
    from nameko.testing import rabbit

    _require("management")
    return rabbit.Client(_rabbit_api_uri(request.config))


@pytest.fixture(scope="session")
def chromium():
    """(chromium, chromedriver) paths: Debian's browser and its driver."""
    _require("chromium")
    return _chromium_paths()


@pytest.fixture
def browser(chromium):
    """Headless Chromium driven by Selenium, tablet-sized (820 x 1180); quit after the
    test. ``browser.set_window_size(390, 844)`` for a phone."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    binary, driver_path = chromium
    options = webdriver.ChromeOptions()
    options.binary_location = binary
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu",
                 "--disable-dev-shm-usage", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--window-size=820,1180"):
        options.add_argument(flag)
    # An explicit driver path: Selenium must not try to download one.
    driver = webdriver.Chrome(service=Service(driver_path), options=options)
    driver.set_page_load_timeout(30)
    yield driver
    driver.quit()


def page_replaced(page):
    """A ``WebDriverWait`` condition: the document holding ``page`` (an element, say the
    ``html`` of the page before a click) has been replaced by the next one. Selenium's
    ``staleness_of``, except that chromedriver, asked mid-navigation, may answer
    "Node with given id does not belong to the document" (a WebDriverException, not a
    StaleElementReferenceException): that too means the old page is gone."""
    from selenium.common.exceptions import StaleElementReferenceException, WebDriverException

    def replaced(_driver):
        try:
            page.is_enabled()
        except StaleElementReferenceException:
            return True
        except WebDriverException as error:
            if "does not belong to the document" in str(error):
                return True
            raise
        return False
    return replaced


@pytest.fixture(scope="session")
def promtool():
    """Path of promtool (``PROMTOOL`` or on PATH)."""
    _require("promtool")
    return _promtool_path()


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
def blocking_postgres():
    """Call it to take psycogreen's wait callback off psycopg2, as in a CLI outside
    eventlet (COPY is then allowed, ``shared.db.can_copy``); put back after the test."""
    import psycopg2.extensions

    callback = psycopg2.extensions.get_wait_callback()
    yield lambda: psycopg2.extensions.set_wait_callback(None)
    psycopg2.extensions.set_wait_callback(callback)


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
                # the container every service process runs (shared.container: a worker
                # pool whose graceful stop cannot hang)
                "SERVICE_CONTAINER_CLS": "shared.container.ServiceContainer",
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


@pytest.fixture
def database_factory():
    """Factory: ``database_factory(url, service, migrations_dir=None, run_migrations=True)``
    opens a service's database (``shared.db.open_database``), disposed after the test."""
    from shared.db import open_database

    opened = []

    def make(url, service, migrations_dir=None, run_migrations=True):
        opened.append(open_database(url, service, migrations_dir, run_migrations))
        return opened[-1]

    yield make
    for database in opened:
        database.engine.dispose()


def wait_for(check, timeout=10.0, interval=0.05):
    """Call ``check`` until it returns something truthy, and return that; after ``timeout``
    seconds, its last (falsy) result."""
    import eventlet

    deadline = time.monotonic() + timeout
    while not (result := check()) and time.monotonic() < deadline:
        eventlet.sleep(interval)
    return result


def eventually(check, timeout=10.0, interval=0.05):
    """``wait_for`` that fails the test (AssertionError) if ``check`` never comes true."""
    result = wait_for(check, timeout, interval)
    if not result:
        raise AssertionError(f"not true within {timeout}s: {check.__doc__ or check}")
    return result


def service_ready(port) -> bool:
    """Whether the service listening on ``port`` answers ``/readyz`` with 200 now."""
    import requests

    try:
        return requests.get(f"http://127.0.0.1:{port}/readyz", timeout=5).status_code == 200
    except (requests.RequestException, OSError):
        return False  # not up yet, or busy


def call(container, method, *args, **kwargs):
    """Run entrypoint ``method`` of a started container (nameko's ``entrypoint_hook``)."""
    from nameko.testing.services import entrypoint_hook

    with entrypoint_hook(container, method) as hook:
        return hook(*args, **kwargs)


def database_provider(container):
    """The kit's ``Database`` provider of a started container: its engine and outbox relay."""
    from nameko.testing.utils import get_extension

    from shared.dependencies import Database

    return get_extension(container, Database)


def publish_events(amqp_uri, source, type_, *payloads) -> list[dict]:
    """Publish each payload as a ``type_`` event of ``source`` on ``<source>.events``, as
    that service would; the envelopes sent."""
    from kombu import Connection, Exchange

    from shared.events import catalogue, make_envelope

    exchange = Exchange(f"{source}.events", type="topic", durable=True)
    envelopes = [make_envelope(catalogue.get(source, type_), data) for data in payloads]
    with Connection(amqp_uri) as connection:
        producer = connection.Producer()
        for envelope in envelopes:
            producer.publish(envelope, exchange=exchange, routing_key=type_,
                             serializer="json", declare=[exchange])
    return envelopes


def outbox_envelopes(database) -> list[dict]:
    """Every event written to a database's outbox so far: envelopes in publishing order."""
    from sqlalchemy import select

    from shared.db import outbox_table

    with database.session() as session:
        rows = session.execute(select(outbox_table.c.body).order_by(outbox_table.c.seq))
        return [json.loads(body) for body in rows.scalars()]


def unpublished(database) -> int:
    """How many events a database's outbox holds that the relay has not published yet."""
    from sqlalchemy import func, select

    from shared.db import outbox_table

    with database.session() as session:
        return session.execute(select(func.count()).select_from(outbox_table).where(
            outbox_table.c.published_at.is_(None))).scalar()


class EventTap:
    """A durable queue bound to ``<service>.events`` (every type): what an outside consumer
    of the service receives from the moment the tap exists. Made by ``event_tap``."""

    def __init__(self, amqp_uri, service):
        from kombu import Connection, Exchange, Queue

        self.connection = Connection(amqp_uri)
        exchange = Exchange(f"{service}.events", type="topic", durable=True)
        queue = Queue(f"test-tap-{service}-{uuid.uuid4().hex[:8]}", exchange=exchange,
                      routing_key="#", durable=True)
        self.queue = queue(self.connection.default_channel)
        self.queue.declare()  # the exchange too: a tap may come before the service

    def take(self, count, timeout=10.0) -> list[dict]:
        """Bodies of the next ``count`` events in order; fewer if the others do not arrive
        within ``timeout`` seconds (0: only those waiting now)."""
        import eventlet

        bodies, deadline = [], time.monotonic() + timeout
        while len(bodies) < count:
            message = self.queue.get(no_ack=True)
            if message is not None:
                bodies.append(json.loads(message.body))
            elif time.monotonic() < deadline:
                eventlet.sleep(0.05)
            else:
                break
        return bodies

    def drain(self) -> list[dict]:
        """Bodies of every event waiting now, in order."""
        bodies = []
        while (message := self.queue.get(no_ack=True)) is not None:
            bodies.append(json.loads(message.body))
        return bodies


@pytest.fixture
def event_tap(rabbit_config):
    """Factory: ``event_tap(service)`` binds an EventTap to ``<service>.events`` on this
    test's vhost; declare it before the events it should see are published."""
    taps = []

    def make(service, amqp_uri=None):
        taps.append(EventTap(amqp_uri or rabbit_config["AMQP_URI"], service))
        return taps[-1]

    yield make
    for tap in taps:
        tap.connection.release()


class Firehose:
    """Every message published in a vhost and every delivery, RPC requests and replies
    on the default exchange included, bodies, headers and properties: RabbitMQ's firehose
    (``rabbitmqctl trace_on -p VHOST``, this vhost only) copies each to
    ``amq.rabbitmq.trace``, where a queue bound with ``#`` takes them. Made by
    ``firehose``."""

    def __init__(self, amqp_uri):
        from urllib.parse import urlsplit

        from kombu import Connection, Exchange, Queue

        self.vhost = urlsplit(amqp_uri).path[1:]
        self.connection = Connection(amqp_uri)
        self.queue = Queue(f"test-firehose-{uuid.uuid4().hex[:8]}", Exchange(
            "amq.rabbitmq.trace", type="topic", passive=True), routing_key="#")
        self.captured: list[bytes] = []

    @staticmethod
    def _rabbitmqctl(*args):
        import subprocess

        subprocess.run(["rabbitmqctl", "-q", *args], check=True, capture_output=True,
                       timeout=60)

    def start(self):
        self.queue.maybe_bind(self.connection)
        self.queue.declare()
        self._rabbitmqctl("trace_on", "-p", self.vhost)

    def stop(self):
        self._rabbitmqctl("trace_off", "-p", self.vhost)
        self.connection.release()

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc_info):
        self.stop()

    def take(self, quiet=2.0) -> list[bytes]:
        """What was captured so far (bodies, headers, properties, as bytes), once no
        copy has arrived for ``quiet`` seconds (they come after the answers)."""
        with self.connection.SimpleQueue(self.queue) as queue:
            while True:
                try:
                    message = queue.get(timeout=quiet)
                except queue.Empty:
                    return self.captured
                body = message.body
                self.captured += [body if isinstance(body, bytes) else body.encode(),
                                  repr(message.headers).encode(),
                                  repr(message.properties).encode()]
                message.ack()

    def holds(self, text: str) -> bool:
        """Whether any message captured holds ``text``, in UTF-8 or escaped in JSON."""
        forms = [text.encode(), json.dumps(text).strip('"').encode()]
        return any(form in raw for form in forms for raw in self.captured)


@pytest.fixture
def firehose(rabbit_config):
    """A started ``Firehose`` on this test's vhost: it sees what happens from now on
    (``with Firehose(uri) as hose:`` for a part of a test only)."""
    with Firehose(rabbit_config["AMQP_URI"]) as hose:
        yield hose


def post_from(client_address, base_url, path, body, headers=None):
    """(status, JSON answer) of a POST sent from ``client_address`` (a loopback address
    nothing else uses, so that it can be looked for wherever it might leak)."""
    import http.client
    from urllib.parse import urlsplit

    where = urlsplit(base_url)
    connection = http.client.HTTPConnection(where.hostname, where.port, timeout=30,
                                            source_address=(client_address, 0))
    try:
        connection.request("POST", path, json.dumps(body).encode(),
                           {"Content-Type": "application/json", **(headers or {})})
        response = connection.getresponse()
        return response.status, json.loads(response.read() or b"null")
    finally:
        connection.close()


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
