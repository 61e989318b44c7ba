"""Run one service in this process: ``python -m services.serve registry``.

This is the container command (exec form, so SIGTERM reaches this process). SIGTERM or
SIGINT stops the service gracefully (running workers finish, consumers are cancelled), as
``nameko run`` does, but for at most ``STOP_TIMEOUT_SECONDS``: nameko's graceful stop
waits for its queue consumer, which retries a broker that is gone (vhost deleted, port
closed, credentials revoked) forever, and so would its kill. Past the timeout the process
logs why and exits with status 1, before Kubernetes' SIGKILL. A second signal exits at once.

eventlet must patch the standard library before anything else imports it, hence the first
lines.
"""

import services  # noqa: F401, I001  (first: it silences eventlet's import banner)
import eventlet  # noqa: E402

eventlet.monkey_patch()

import errno  # noqa: E402
import logging  # noqa: E402
import os  # noqa: E402
import signal  # noqa: E402
import sys  # noqa: E402

from kombu.utils.url import sanitize_url  # noqa: E402
from nameko.runners import ServiceRunner  # noqa: E402

from services import service_class  # noqa: E402
from shared.config import service_config, stop_timeout  # noqa: E402
from shared.logs import configure_logging  # noqa: E402
from shared.web import broker_reachable  # noqa: E402

log = logging.getLogger("services.serve")


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 1:
        raise SystemExit("usage: python -m services.serve <service>")
    name = argv[0]
    configure_logging(name, os.environ.get("LOG_LEVEL", "INFO"),
                      os.environ.get("LOG_FORMAT", "json"))
    run(service_class(name), service_config(name), stop_timeout())


def run(service_cls, config, timeout: float):
    """nameko's ``nameko.cli.run.run`` for one service, with the stop bounded by ``timeout``."""
    runner = ServiceRunner(config)
    runner.add_service(service_cls)
    signals = []

    def on_signal(signum, frame):
        # Signal handlers run in the hub's main loop and cannot block on eventlet: the
        # work happens in green threads.
        signals.append(signal.Signals(signum).name)
        if len(signals) == 1:
            eventlet.spawn_n(stop_within, runner, timeout, signals[0])
        else:
            eventlet.spawn_n(exit_now, f"{signals[-1]} while stopping: exiting at once")

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    runner.start()
    # A signal arriving while the main greenlet waits on a socket interrupts it (EINTR);
    # waiting on a green thread instead lets us go back to waiting (as nameko's run does).
    waiting = eventlet.spawn(runner.wait)
    while True:
        try:
            waiting.wait()
            return
        except OSError as exc:
            if exc.errno != errno.EINTR:
                raise


def stop_within(runner, timeout: float, signame: str):
    log.info("%s: stopping gracefully, for at most %gs", signame, timeout)
    stopping = eventlet.spawn(runner.stop)
    try:
        with eventlet.Timeout(timeout):
            stopping.wait()
        return  # runner.wait() returns in the main greenlet: exit status 0
    except eventlet.Timeout:
        reason = why_stuck(runner)
        release_relay_leases(runner)
        exit_now(f"did not stop within {timeout:g}s of {signame}: {reason}; "
                 "exiting without finishing the graceful stop")
    except Exception:  # noqa: BLE001 - a failed stop must still end the process
        log.exception("the graceful stop failed")
        exit_now(f"did not stop cleanly after {signame}")


def why_stuck(runner) -> str:
    """One sentence for the log: is the broker gone, or are workers still busy?"""
    amqp_uri = runner.config["AMQP_URI"]
    try:
        with eventlet.Timeout(3):
            broker_reachable(amqp_uri)
    except (Exception, eventlet.Timeout) as exc:  # noqa: BLE001 - any failure is the answer
        return (f"the broker at {sanitize_url(amqp_uri)} refuses us or is gone "
                f"({exc.__class__.__name__}: {exc}) and nameko's queue consumer retries it "
                "forever")
    # nameko keeps running workers and extensions' threads in these private attributes.
    busy = []
    for container in runner.containers:
        busy += [f"worker {worker.entrypoint.method_name}"
                 for worker in getattr(container, "_worker_threads", {})]
        busy += [str(name) for name in getattr(container, "_managed_threads", {}).values()]
    return f"the broker answers; still running: {', '.join(busy) or 'no threads'}"


def release_relay_leases(runner):
    """Hand the outbox relay's lease over before exiting, as a graceful stop would: the
    database usually still answers when the broker does not, and the next replica then
    publishes at once instead of waiting for the lease to run out."""
    from shared.dependencies import Database

    for container in runner.containers:
        for provider in container.dependencies:
            if isinstance(provider, Database):
                with eventlet.Timeout(2, False):  # never let this hold up the exit
                    provider.relay.release_lease()


def exit_now(reason: str):
    log.error(reason)
    for handler in logging.getLogger().handlers:
        handler.flush()
    os._exit(1)  # no interpreter shutdown: it would wait for the stuck green threads


if __name__ == "__main__":
    main()
