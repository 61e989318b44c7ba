"""nameko's ServiceContainer with a worker pool whose ``waitall()`` cannot miss its wake-up.

A container's graceful stop waits for its running workers (``GreenPool.waitall()``).
eventlet's GreenPool (0.41) sends the Event that ``waitall()`` waits on when the last
worker finishes, unless a spawn is waiting for a slot at that moment; that spawn then finds
the pool empty and replaces the Event with a fresh one. Its worker sends the fresh Event,
never the one ``waitall()`` holds: the stop hangs for good with no worker left. A full pool
while stopping (a timer or batch handler spawning under load) is enough: the notifications
service did not stop on SIGTERM now and then in ``gonghui up``. ``service_config`` selects
this container (``SERVICE_CONTAINER_CLS``).

Importing it also makes nameko log a worker's expected errors quietly (see
``ClientErrorsQuietly``).
"""

import logging
import time

from eventlet.greenpool import GreenPool
from nameko.containers import ServiceContainer as NamekoServiceContainer

from shared.errors import ServiceError

WORKER_ERROR_MESSAGES = ("error handling worker %s: %s",
                         "(expected) error handling worker %s: %s")


class ClientErrorsQuietly(logging.Filter):
    """nameko logs every exception a worker raises at ERROR with its traceback, a caller's
    mistake too (a 404, a 403, invalid input): a fuzz run gave 4,124 such lines, which
    bury the real failures. A ``ServiceError`` below 500 is an answer, not a fault: one
    INFO line naming the entrypoint, the status and the message. Anything else (a 5xx,
    an unexpected exception) keeps its ERROR and traceback."""

    def filter(self, record):
        error = record.exc_info[1] if record.exc_info else None
        if (record.msg in WORKER_ERROR_MESSAGES and isinstance(error, ServiceError)
                and error.status < 500):
            worker = record.args[0]
            record.levelno, record.levelname = logging.INFO, "INFO"
            record.msg = "%s.%s answered %d %s: %s"
            record.args = (worker.service_name, worker.entrypoint.method_name, error.status,
                           error.code, error.message)
            record.exc_info = record.exc_text = None
        return True


# On nameko's logger, not a handler: it applies however logging is configured (tests too).
logging.getLogger("nameko.containers").addFilter(ClientErrorsQuietly())


class WorkerPool(GreenPool):
    """A GreenPool that keeps an unsent ``no_coros_running`` Event instead of replacing it,
    so whoever waits on it is woken when the pool next empties."""

    @property
    def no_coros_running(self):
        return self._no_coros_running

    @no_coros_running.setter
    def no_coros_running(self, event):
        current = getattr(self, "_no_coros_running", None)
        if current is None or current.ready():
            self._no_coros_running = event


class ServiceContainer(NamekoServiceContainer):
    def __init__(self, service_cls, config):
        super().__init__(service_cls, config)
        self._worker_pool = WorkerPool(size=self.max_workers)
        self.worker_finished_at = time.monotonic()  # for the liveness probe (shared.web)

    def _run_worker(self, worker_ctx, handle_result):
        try:
            return super()._run_worker(worker_ctx, handle_result)
        finally:
            self.worker_finished_at = time.monotonic()

    def workers_stalled(self, seconds: float) -> bool:
        """Every worker busy and none finished for ``seconds``: wedged, not just busy."""
        return (self._worker_pool.free() == 0
                and time.monotonic() - self.worker_finished_at > seconds)
