"""What the benchmarks in this folder share: a throwaway broker vhost, throwaway databases,
percentiles and the closing JSON line that ``run_all.py`` collects.

Benchmarks never touch what tests or running services use: each makes its own vhost and
its own database (SQLite file in a temporary folder, or a fresh PostgreSQL database via
``shared.testing.PostgresDatabases``) and removes them when it ends, even on failure.
"""

import json
import os
import sys
import tempfile
import uuid
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

AMQP_URI = os.environ.get("AMQP_URI", "amqp://guest:guest@127.0.0.1:5672/")
MANAGEMENT_URI = os.environ.get("RABBIT_API_URI", "http://guest:guest@127.0.0.1:15672")
BACKENDS = ("sqlite", "postgresql")


@contextmanager
def broker_vhost(prefix="gonghui-bench"):
    """A fresh RabbitMQ vhost (deleted afterwards, with everything in it): its AMQP URI."""
    from urllib.parse import urlsplit, urlunsplit

    from nameko.testing.rabbit import Client

    manager = Client(MANAGEMENT_URI)
    vhost = f"{prefix}-{uuid.uuid4().hex[:8]}"
    manager.create_vhost(vhost)
    manager.set_vhost_permissions(vhost, urlsplit(AMQP_URI).username or "guest",
                                  ".*", ".*", ".*")
    try:
        yield urlunsplit(urlsplit(AMQP_URI)._replace(path=f"/{vhost}"))
    finally:
        _delete_vhost(manager, vhost)


def _delete_vhost(manager, vhost, attempts=30):
    import time

    import requests

    for attempt in range(attempts):  # the management API restarts with the broker
        try:
            manager.delete_vhost(vhost)
            return
        except (requests.ConnectionError, requests.HTTPError):
            if attempt == attempts - 1:
                raise
            time.sleep(1)


@contextmanager
def database(backend):
    """An empty database URL on ``backend`` (sqlite or postgresql), dropped afterwards."""
    if backend == "sqlite":
        with tempfile.TemporaryDirectory(prefix="gonghui-bench-") as folder:
            yield f"sqlite:///{folder}/bench.db"
        return
    if backend != "postgresql":
        raise ValueError(f"unknown backend {backend!r}; known: {', '.join(BACKENDS)}")
    from shared.testing import PostgresDatabases

    databases = PostgresDatabases()
    url = databases.create()
    try:
        yield url
    finally:
        databases.drop(url)
        databases.engine.dispose()


def percentile(values, fraction):
    ordered = sorted(values)
    if not ordered:
        return None
    return ordered[min(len(ordered) - 1, int(round(fraction * (len(ordered) - 1))))]


def ms(seconds):
    return None if seconds is None else round(seconds * 1000, 2)


def backends(text):
    chosen = [part.strip() for part in text.split(",") if part.strip()]
    for backend in chosen:
        if backend not in BACKENDS:
            raise SystemExit(f"unknown backend {backend!r}; known: {', '.join(BACKENDS)}")
    return chosen


def emit(benchmark, figures: dict):
    """The closing line of every benchmark: one JSON object, read by run_all.py."""
    print(json.dumps({"benchmark": benchmark, **figures}, ensure_ascii=False), flush=True)


def wait_ready(port, timeout=60):
    """Until the service on ``port`` answers /readyz with 200 (SystemExit after timeout)."""
    import time

    import requests

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if requests.get(f"http://127.0.0.1:{port}/readyz", timeout=2).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.2)
    raise SystemExit(f"the service on port {port} never became ready")


@contextmanager
def rpc_with_floor(service_cls, database_url, amqp_uri, max_workers=10):
    """``service_cls`` on ``database_url`` (migrated already) and a do-nothing ``ping``
    service, both started in this process (which must run under eventlet) on the broker:
    yields a ``ClusterRpcProxy``. ``cluster.ping.ping(x)`` measures the floor every nameko
    RPC pays here, beside the service's own calls."""
    from nameko.containers import ServiceContainer
    from nameko.rpc import rpc
    from nameko.standalone.rpc import ClusterRpcProxy

    from shared.testing import free_port

    class Ping:
        name = "ping"

        @rpc
        def ping(self, value):
            return value

    config = {"AMQP_URI": amqp_uri, "DATABASE_URL": database_url, "DATABASE_MIGRATE": False,
              "WEB_SERVER_ADDRESS": f"127.0.0.1:{free_port()}", "max_workers": max_workers}
    containers = [ServiceContainer(service_cls, config), ServiceContainer(Ping, config)]
    for container in containers:
        container.start()
    try:
        with ClusterRpcProxy(config) as cluster:
            yield cluster
    finally:
        for container in containers:
            container.stop()
