"""nameko DependencyProviders of the kit: the service database (with its outbox relay)
and per-entrypoint metrics. Everything nameko-specific about persistence lives here."""

import logging
import time
from weakref import WeakKeyDictionary

from nameko.extensions import DependencyProvider
from sqlalchemy.orm import sessionmaker
from sqlalchemy.pool import QueuePool

from shared import deadlines
from shared.db import DatabaseAccess, make_engine, migrate, require_migrated
from shared.metrics import (
    DB_POOL_CONNECTIONS,
    DB_POOL_LIMIT,
    ENTRYPOINT_CALLS,
    ENTRYPOINT_SECONDS,
)
from shared.outbox import OutboxRelay

log = logging.getLogger(__name__)


class Database(DependencyProvider):
    """The service's own database, migrated at start, and the relay for its outbox.

        class RegistryService:
            name = "registry"
            db = Database(Path(__file__).parent / "migrations")

    ``gauges``: functions ``(session, service name)`` that set the service's own gauges
    from its tables (cases open, deadlines overdue), run when /metrics is scraped
    (``measure``), so every replica reports what the database holds, not what it did.

    Config: DATABASE_URL, DATABASE_MIGRATE, AMQP_URI, OUTBOX_BATCH_SIZE,
    OUTBOX_POLL_SECONDS, RPC_COMMIT_MARGIN (see ``shared.config``).
    """

    def __init__(self, migrations_dir, gauges=()):
        self.migrations_dir = migrations_dir
        self.gauges = tuple(gauges)

    def setup(self):
        config = self.container.config
        url = config["DATABASE_URL"]
        if config.get("DATABASE_MIGRATE", True):
            migrate(url, self.migrations_dir, settings=config)
        # A connection for every worker, the relay and a spare: a pool smaller than the
        # worker pool opens and closes PostgreSQL connections under load (a backend fork
        # each) instead of reusing them.
        self.engine = make_engine(url, pool_size=self.container.max_workers + 2)
        if not config.get("DATABASE_MIGRATE", True):
            require_migrated(self.engine, self.migrations_dir)
        self.session_factory = sessionmaker(self.engine, expire_on_commit=False)
        self.relay = OutboxRelay(
            self.engine,
            config["AMQP_URI"],
            self.container.service_name,
            batch_size=config.get("OUTBOX_BATCH_SIZE", 500),
            poll_seconds=config.get("OUTBOX_POLL_SECONDS", 0.5),
        )
        self._relay_thread = None

    def start(self):
        self._relay_thread = self.container.spawn_managed_thread(
            self.relay.run, identifier="outbox_relay"
        )

    def stop(self):
        self.relay.stop()
        if self._relay_thread is not None:
            self._relay_thread.wait()
        self.engine.dispose()

    def kill(self):
        self.relay.stop()
        self.engine.dispose()

    def get_dependency(self, worker_ctx):
        return DatabaseAccess(
            self.engine, self.session_factory, self.container.service_name,
            on_commit=self.relay.wake,
            context=worker_ctx.data if worker_ctx is not None else None,
            commit_margin=float(self.container.config.get("RPC_COMMIT_MARGIN",
                                                          deadlines.COMMIT_MARGIN)),
        )

    def ping(self) -> bool:
        """For /readyz, which runs outside any worker (``shared.web.OpsEntrypoint``)."""
        return self.get_dependency(None).ping()

    def measure(self):
        """For /metrics: the pool's use, then the service's ``gauges`` in one read session."""
        service = self.container.service_name
        pool = self.engine.pool
        if isinstance(pool, QueuePool):  # SQLite in memory has a single-connection pool
            DB_POOL_CONNECTIONS.labels(service, "in_use").set(pool.checkedout())
            DB_POOL_CONNECTIONS.labels(service, "idle").set(pool.checkedin())
            # the pool keeps its overflow limit private; -1 means none
            DB_POOL_LIMIT.labels(service).set(pool.size() + max(pool._max_overflow, 0))
        if self.gauges:
            with self.get_dependency(None).session() as session:
                for gauge in self.gauges:
                    gauge(session, service)


class Metrics(DependencyProvider):
    """Counts and times every entrypoint call; declare once per service as ``metrics``."""

    def setup(self):
        self._started = WeakKeyDictionary()

    def worker_setup(self, worker_ctx):
        self._started[worker_ctx] = time.perf_counter()

    def worker_result(self, worker_ctx, result=None, exc_info=None):
        started = self._started.pop(worker_ctx, None)
        entrypoint = worker_ctx.entrypoint
        kind = type(entrypoint).__name__
        service = self.container.service_name
        name = entrypoint.method_name
        ENTRYPOINT_CALLS.labels(service, name, kind, "error" if exc_info else "ok").inc()
        if started is not None:
            ENTRYPOINT_SECONDS.labels(service, name, kind).observe(
                time.perf_counter() - started
            )

    def get_dependency(self, worker_ctx):
        return None


class PersonalDataKeys(DependencyProvider):
    """The keys that seal the service's personal data (``shared.pii``), loaded once at
    setup by ``load(config)``, which reads ``<SERVICE>_PII_KEY`` from the config or the
    environment:

        class MembershipService:
            keys = PersonalDataKeys(membership.pii.load_keys)
    """

    def __init__(self, load):
        self.load = load

    def setup(self):
        self.keys = self.load(self.container.config)

    def get_dependency(self, worker_ctx):
        return self.keys


class RateLimits(DependencyProvider):
    """``limits = RateLimits("DISPUTES_RATE_LIMITS", DEFAULTS)``: ``{scope: (max hits,
    window seconds)}`` from ``shared.ratelimit.limits_from``, read once when the service
    starts, so that a typo in the setting stops the service there rather than failing
    its first limited request."""

    def __init__(self, setting: str, defaults: dict):
        self.setting = setting
        self.defaults = defaults

    def setup(self):
        from shared.ratelimit import limits_from

        self.limits = limits_from(self.setting, self.defaults, self.container.config)

    def get_dependency(self, worker_ctx):
        return self.limits
