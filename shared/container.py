"""nameko's ServiceContainer with a worker pool whose ``waitall()`` cannot miss its wake-up.

A container's graceful stop waits for its running workers (``GreenPool.waitall()``).
eventlet's GreenPool (0.41) sends the Event that ``waitall()`` waits on when the last
worker finishes, unless a spawn is waiting for a slot at that moment; that spawn then finds
the pool empty and replaces the Event with a fresh one. Its worker sends the fresh Event,
never the one ``waitall()`` holds: the stop hangs for good with no worker left. A full pool
while stopping (a timer or batch handler spawning under load) is enough: the notifications
service did not stop on SIGTERM now and then in ``gonghui up``. ``service_config`` selects
this container (``SERVICE_CONTAINER_CLS``).
"""

from eventlet.greenpool import GreenPool
from nameko.containers import ServiceContainer as NamekoServiceContainer


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
