"""What a container does, run here as plain processes: the health check script, and every
registered service started the way the image starts it (``python -m services.serve
<name>``, configured by environment variables only) answering it, exporting every metric
the dashboards and alerts name, and stopping on SIGTERM."""

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from contextlib import contextmanager
from datetime import UTC, datetime

import pytest
from sqlalchemy import create_engine, select

from shared.db import relay_lease_table
from shared.testing import free_port
from tests.deploy.files import (
    DEPLOY,
    PROMETHEUS_MADE,
    ROOT,
    SERVICE_NAMES,
    dashboard_queries,
    exported_names,
    metric_names,
    rule_queries,
)

HEALTHCHECK = DEPLOY / "healthcheck.py"
STOP_WITHIN = 20  # seconds; well inside terminationGracePeriodSeconds and stop_grace_period


def healthcheck(env, *args, timeout=10):
    return subprocess.run([sys.executable, str(HEALTHCHECK), *args], env=env, cwd=ROOT,
                          capture_output=True, text=True, timeout=timeout)


def wait_for_port(port, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.1)
    raise AssertionError(f"nothing listens on {port} after {timeout}s")


@pytest.fixture
def static_server(tmp_path):
    """An HTTP server answering 200 on /healthz and 404 elsewhere."""
    (tmp_path / "healthz").write_text("ok")
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1",
         "--directory", str(tmp_path)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        wait_for_port(port)
        yield port
    finally:
        server.terminate()
        server.wait(timeout=10)


def test_the_healthcheck_passes_on_200_and_fails_otherwise(static_server):
    env = dict(os.environ, GONGHUI_SERVICE="registry", REGISTRY_HTTP_PORT=str(static_server))
    assert healthcheck(env).returncode == 0
    failed = healthcheck(env, "/readyz")
    assert failed.returncode == 1 and "HTTP 404" in failed.stderr
    env["REGISTRY_HTTP_PORT"] = str(free_port())  # nothing listens there
    assert healthcheck(env).returncode == 1


def test_the_healthcheck_finds_the_service_from_the_main_process(tmp_path, monkeypatch):
    sys.path.insert(0, str(DEPLOY))
    try:
        import healthcheck as module
    finally:
        sys.path.remove(str(DEPLOY))
    monkeypatch.delenv("GONGHUI_SERVICE", raising=False)
    cmdline = tmp_path / "cmdline"
    cmdline.write_bytes(b"python\0-m\0services.serve\0membership\0")
    assert module.service_name(str(cmdline)) == "membership"
    cmdline.write_bytes(b"/bin/sh\0")
    with pytest.raises(SystemExit):
        module.service_name(str(cmdline))


def answers(port, path="/healthz"):
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=2) as response:
            return response.status == 200
    except OSError:
        return False


def scrape(url):
    with urllib.request.urlopen(url, timeout=10) as response:
        return response.read().decode()


def assert_dashboards_and_alerts_name_only_exported_metrics(ports):
    """Each service's own /metrics (one process each, as deployed) and RabbitMQ's
    prometheus plugin on this machine, at the path deploy/prometheus.yml scrapes."""
    exported = set(PROMETHEUS_MADE)
    for port in ports.values():
        exported |= exported_names(scrape(f"http://127.0.0.1:{port}/metrics"))
    exported |= exported_names(scrape("http://127.0.0.1:15692/metrics/per-object"))
    unknown = {(where, name) for where, expr in [*dashboard_queries(), *rule_queries()]
               for name in metric_names(expr) if name not in exported}
    assert not unknown, f"named but exported by no service: {sorted(unknown)}"


def test_every_service_started_as_in_the_image_answers_its_healthcheck_and_stops_on_sigterm(
        rabbit_config, tmp_path):
    # All at once: each start costs seconds of imports and migrations on this machine.
    env = dict(os.environ, AMQP_URI=rabbit_config["AMQP_URI"], HTTP_HOST="127.0.0.1",
               GONGHUI_VAR_DIR=str(tmp_path), LOG_FORMAT="text")
    env.pop("GONGHUI_SERVICE", None)
    ports = {name: free_port() for name in SERVICE_NAMES}
    for name, port in ports.items():
        env[f"{name.upper()}_HTTP_PORT"] = str(port)
        env[f"{name.upper()}_DATABASE_URL"] = f"sqlite:///{tmp_path}/{name}.db"
    processes, logs = {}, {}
    try:
        for name in SERVICE_NAMES:
            logs[name] = tmp_path / f"{name}.log"
            with logs[name].open("w") as log:
                # cwd without the sources, like the image's /app
                processes[name] = subprocess.Popen(
                    [sys.executable, "-m", "services.serve", name], env=env, cwd=tmp_path,
                    stdout=log, stderr=subprocess.STDOUT)

        waiting, deadline = set(SERVICE_NAMES), time.monotonic() + 90
        while waiting:
            for name in sorted(waiting):
                assert processes[name].poll() is None, \
                    f"{name} exited:\n{logs[name].read_text()[-3000:]}"
                if answers(ports[name]):
                    waiting.discard(name)
            assert time.monotonic() < deadline, f"no /healthz from {sorted(waiting)} in 90s"
            time.sleep(0.2)

        for name in SERVICE_NAMES:
            service_env = dict(env, GONGHUI_SERVICE=name)
            assert healthcheck(service_env).returncode == 0, name
            ready = healthcheck(service_env, "/readyz")
            assert ready.returncode == 0, f"{name}: {ready.stderr}"

        assert_dashboards_and_alerts_name_only_exported_metrics(ports)

        for process in processes.values():
            process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + STOP_WITHIN
        for name, process in processes.items():
            try:
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                pytest.fail(f"{name} still running {STOP_WITHIN}s after SIGTERM")
            assert process.returncode == 0, f"{name}:\n{logs[name].read_text()[-3000:]}"
    finally:
        for process in processes.values():
            if process.poll() is None:
                process.kill()
                process.wait()


# A service whose broker is gone must still stop on SIGTERM: nameko's graceful stop waits
# for its queue consumer, which retries the broker forever, so without a bound the process
# only dies by SIGKILL (Kubernetes' grace period, `gonghui up`'s patience).
STOP_TIMEOUT = 4  # seconds: STOP_TIMEOUT_SECONDS for these processes
EXIT_WITHIN = 15  # seconds after SIGTERM


@contextmanager
def service_process(name, amqp_uri, tmp_path):
    """``python -m services.serve name`` answering /healthz: (process, log file); killed
    afterwards if a test left it running."""
    port = free_port()
    env = dict(os.environ, AMQP_URI=amqp_uri, HTTP_HOST="127.0.0.1", LOG_FORMAT="text",
               GONGHUI_VAR_DIR=str(tmp_path), STOP_TIMEOUT_SECONDS=str(STOP_TIMEOUT),
               **{f"{name.upper()}_HTTP_PORT": str(port),
                  f"{name.upper()}_DATABASE_URL": f"sqlite:///{tmp_path}/{name}.db"})
    env.pop("GONGHUI_SERVICE", None)
    log = tmp_path / f"{name}.log"
    with log.open("w") as out:
        process = subprocess.Popen([sys.executable, "-m", "services.serve", name], env=env,
                                   cwd=tmp_path, stdout=out, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 90
        while not answers(port):
            assert process.poll() is None, f"{name} exited:\n{log.read_text()[-3000:]}"
            assert time.monotonic() < deadline, f"no /healthz from {name} in 90s"
            time.sleep(0.2)
        yield process, log
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def wait_until_consuming(rabbit_manager, vhost, timeout=30.0):
    """Until the service consumes from a queue in ``vhost``: /healthz answers before the
    queue consumer has connected, and a consumer stopped while connecting is another case."""
    deadline = time.monotonic() + timeout
    while not any(queue.get("consumers") for queue in rabbit_manager.get_queues(vhost)):
        assert time.monotonic() < deadline, f"no consumer in vhost {vhost} after {timeout}s"
        time.sleep(0.5)


def wait_for_log(log, text, timeout=20.0):
    deadline = time.monotonic() + timeout
    while text not in log.read_text():
        assert time.monotonic() < deadline, f"no {text!r} in {timeout}s:\n{log.read_text()[-3000:]}"
        time.sleep(0.2)


def sigterm_and_wait(process, log):
    """SIGTERM, then the seconds until the process exited (fails after EXIT_WITHIN)."""
    start = time.monotonic()
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=EXIT_WITHIN)
    except subprocess.TimeoutExpired:
        pytest.fail(f"still running {EXIT_WITHIN}s after SIGTERM:\n{log.read_text()[-3000:]}")
    return time.monotonic() - start


@pytest.fixture
def throwaway_vhost(rabbit_manager, request):
    """A vhost of our own (not rabbit_config's pipeline, which expects to delete its own):
    its AMQP URI, its name, and a function deleting it."""
    from urllib.parse import urlsplit, urlunsplit

    import requests

    amqp_uri = request.config.getoption("RABBIT_AMQP_URI")
    vhost = f"gonghui-gone-{uuid.uuid4().hex[:8]}"
    rabbit_manager.create_vhost(vhost)
    rabbit_manager.set_vhost_permissions(vhost, urlsplit(amqp_uri).username or "guest",
                                         ".*", ".*", ".*")
    deleted = []

    def delete():
        rabbit_manager.delete_vhost(vhost)
        deleted.append(vhost)

    yield urlunsplit(urlsplit(amqp_uri)._replace(path=f"/{vhost}")), vhost, delete
    if not deleted:
        try:
            rabbit_manager.delete_vhost(vhost)
        except requests.HTTPError:
            pass


def assert_stopped_without_broker(process, log, waited):
    output = log.read_text()
    assert process.returncode == 1, output[-3000:]
    assert waited >= STOP_TIMEOUT - 0.5, f"gave up after {waited:.1f}s, before its timeout"
    (line,) = [line for line in output.splitlines() if "did not stop within" in line]
    assert f"{STOP_TIMEOUT}" in line and "broker" in line, line


def test_a_service_whose_vhost_is_deleted_still_exits_on_sigterm(
        throwaway_vhost, rabbit_manager, tmp_path):
    amqp_uri, vhost, delete_vhost = throwaway_vhost
    with service_process("registry", amqp_uri, tmp_path) as (process, log):
        wait_until_consuming(rabbit_manager, vhost)
        delete_vhost()
        wait_for_log(log, "NOT_ALLOWED - vhost")  # the consumer's endless retries begin
        waited = sigterm_and_wait(process, log)
    assert_stopped_without_broker(process, log, waited)
    # the relay's lease was handed over on the way out: the next replica need not wait
    engine = create_engine(f"sqlite:///{tmp_path}/registry.db")
    with engine.connect() as connection:
        expires_at = connection.execute(select(relay_lease_table.c.expires_at)).scalar()
    engine.dispose()
    assert expires_at.replace(tzinfo=UTC) <= datetime.now(UTC)


@pytest.fixture
def registry_cut_off(rabbit_config, rabbit_manager, tcp_proxy, tmp_path):
    """The registry, started through a TCP proxy to the broker that is then cut for good
    (connections reset, new ones refused): (process, log file)."""
    broker = tcp_proxy(5672)
    amqp_uri = broker.rewrite(rabbit_config["AMQP_URI"])
    with service_process("registry", amqp_uri, tmp_path) as (process, log):
        wait_until_consuming(rabbit_manager, rabbit_config["vhost"])
        broker.cut()
        wait_for_log(log, "Error connecting to broker")
        yield process, log


def test_a_service_whose_broker_port_closes_still_exits_on_sigterm(registry_cut_off):
    process, log = registry_cut_off
    waited = sigterm_and_wait(process, log)
    assert_stopped_without_broker(process, log, waited)


def test_a_second_signal_while_stopping_exits_at_once(registry_cut_off):
    process, log = registry_cut_off
    process.send_signal(signal.SIGINT)  # Ctrl-C: the same bounded graceful stop
    wait_for_log(log, "SIGINT: stopping gracefully")
    waited = sigterm_and_wait(process, log)
    assert process.returncode == 1
    assert waited < STOP_TIMEOUT - 1, f"{waited:.1f}s: the second signal was not heeded"
    assert "SIGTERM while stopping: exiting at once" in log.read_text()
