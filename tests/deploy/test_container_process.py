"""What a container does, run here as plain processes: the health check script, and every
registered service started the way the image starts it (``python -m services.serve
<name>``, configured by environment variables only) answering it and stopping on SIGTERM."""

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request

import pytest

from shared.testing import free_port
from tests.deploy.files import DEPLOY, ROOT, SERVICE_NAMES

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
