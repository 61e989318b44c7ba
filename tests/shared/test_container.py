"""The kit's container: a graceful stop that waits for workers cannot hang once they are
done, even when the last one finishes while another spawn waits for a slot."""

import eventlet
from nameko.containers import get_container_cls
from nameko.extensions import Entrypoint
from nameko.testing.services import dummy
from nameko.testing.utils import get_extension

from shared.config import service_config
from shared.container import ServiceContainer, WorkerPool


class BusyService:
    name = "busy"
    gate = None  # an Event per test: workers wait for it

    @dummy
    def work(self):
        self.gate.wait()


def test_every_service_process_runs_in_the_kits_container():
    assert get_container_cls(service_config("registry")) is ServiceContainer


def test_waitall_wakes_when_the_last_worker_ends_while_a_spawn_waits_for_a_slot():
    pool = WorkerPool(1)
    release = eventlet.Event()
    pool.spawn(release.wait)  # the only slot is taken
    eventlet.spawn(pool.spawn, eventlet.sleep, 0.01)  # waits for it
    eventlet.sleep(0)
    waiting = eventlet.spawn(pool.waitall)
    eventlet.sleep(0)
    release.send()
    with eventlet.Timeout(5):  # eventlet's own GreenPool waits here for ever
        waiting.wait()
    assert pool.running() == 0


def test_a_container_stops_after_a_full_pool_drains(container_factory, monkeypatch):
    gate = eventlet.Event()
    monkeypatch.setattr(BusyService, "gate", gate)
    container = container_factory(BusyService, {
        "AMQP_URI": "memory://", "max_workers": 1,
        "SERVICE_CONTAINER_CLS": "shared.container.ServiceContainer"})
    container.start()
    work = get_extension(container, Entrypoint, method_name="work")
    container.spawn_worker(work, (), {})
    eventlet.spawn(container.spawn_worker, work, (), {})  # a timer or batch handler, say
    eventlet.sleep(0)
    stopping = eventlet.spawn(container.stop)
    eventlet.sleep(0.1)  # entrypoints stopped: the stop waits for the workers
    gate.send()
    with eventlet.Timeout(5):
        stopping.wait()
