"""The main job: `gonghui up` (what `make run` starts) runs every service in its own
process on the real broker, restarts one killed with -9 while the others keep running,
and Ctrl-C stops them all."""

import os
import signal
import subprocess
import sys
from functools import partial
from pathlib import Path

import pytest
import requests

from services import SERVICES
from shared.testing import free_port, service_ready, wait_for

ROOT = Path(__file__).resolve().parents[2]


def service_pids(parent: int) -> dict:
    """The children of `up`, by service: ``python -m services.serve <name>``."""
    pids = {}
    for proc in Path("/proc").iterdir():
        try:
            argv = (proc / "cmdline").read_bytes().split(b"\0")
            ppid = int((proc / "stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue  # not a process, or gone meanwhile
        if ppid == parent and b"services.serve" in argv:
            pids[argv[argv.index(b"services.serve") + 1].decode()] = int(proc.name)
    return pids


# Its own waits (start, samples, restart, stop) bound it; 120 s cut it short on a busy CI
# machine with no word on which step was slow.
@pytest.mark.timeout(480)
def test_up_starts_every_service_restarts_a_killed_one_and_ctrl_c_stops_them(
        rabbit_config, tmp_path):
    ports = {name: free_port() for name in SERVICES}
    env = dict(os.environ, AMQP_URI=rabbit_config["AMQP_URI"], GONGHUI_VAR_DIR=str(tmp_path),
               HTTP_HOST="127.0.0.1", LOG_FORMAT="text",
               REGISTRY_SAMPLE_ENTERPRISES="6000")  # supervision is the subject: the least
    env.update({f"{name.upper()}_HTTP_PORT": str(port) for name, port in ports.items()})
    for name in SERVICES:
        env.pop(f"{name.upper()}_DATABASE_URL", None)
    log = tmp_path / "up.log"  # a file, not a pipe: read while `up` runs
    up = subprocess.Popen(
        [sys.executable, "-m", "services.cli", "up"], cwd=ROOT, env=env,
        stdout=log.open("w"), stderr=subprocess.STDOUT, text=True, start_new_session=True,
    )
    try:
        for name, port in ports.items():
            if not wait_for(partial(service_ready, port), timeout=150, interval=0.3):
                up.terminate()  # `up` stops its children
                up.wait(timeout=40)
                raise AssertionError(f"{name} never became ready:\n{log.read_text()}")
        # every service has its own database file
        assert {p.name for p in tmp_path.glob("*.db")} == {f"{n}.db" for n in SERVICES}
        assert (tmp_path / "admin-token").exists()
        assert oct((tmp_path / "admin-token").stat().st_mode & 0o777) == "0o600"
        # the sample district is loaded: 南坑's establishment rate through the gateway
        token = (tmp_path / "admin-token").read_text().strip()
        stats = requests.get(
            f"http://127.0.0.1:{ports['gateway']}/api/v1/organizations/"
            "longgang.bantian.nankeng/statistics",
            headers={"Authorization": f"Bearer {token}"}, timeout=10,
        )
        assert stats.status_code == 200, stats.text
        assert stats.json()["establishment_rate"] == 0.9604

        # The samples load in long workers after the first start: a stop in the middle of
        # one waits for it (and may pass STOP_TIMEOUT_SECONDS on a busy machine).
        assert wait_for(lambda: all(f"loaded the {sample}" in log.read_text() for sample in
                                    ("南坑 sample", "2016 sample", "incubation sample")),
                        timeout=150, interval=0.5), log.read_text()
        # kill -9 of one service: it is started again and answers; the others never stop
        before = service_pids(up.pid)
        assert set(before) == set(SERVICES)
        os.kill(before["disputes"], signal.SIGKILL)
        assert wait_for(lambda: service_pids(up.pid).get("disputes", before["disputes"])
                        != before["disputes"], timeout=20)
        assert wait_for(partial(service_ready, ports["disputes"]), timeout=60, interval=0.3)
        after = service_pids(up.pid)
        assert {name: pid for name, pid in after.items() if name != "disputes"} == {
            name: pid for name, pid in before.items() if name != "disputes"}
        assert all(service_ready(port) for port in ports.values())

        os.killpg(up.pid, signal.SIGINT)  # what Ctrl-C in a terminal does
        up.wait(timeout=40)
        output = log.read_text()
    finally:
        if up.poll() is None:
            up.kill()  # its children follow (PR_SET_PDEATHSIG)
    assert up.returncode == 0, output
    assert output.rstrip().endswith("stopped"), output
    assert "killing it" not in output, output
    assert "disputes exited with -9 (SIGKILL)" in output, output
    assert "restarting it in 1s (crash 1 in a row)" in output, output
    errors = [line for line in output.splitlines() if " ERROR " in line]
    assert not errors, "a clean first run logs no errors:\n" + "\n".join(errors[:20])
    for port in ports.values():
        try:
            requests.get(f"http://127.0.0.1:{port}/healthz", timeout=1)
        except requests.ConnectionError:
            continue
        raise AssertionError(f"something still listens on {port} after Ctrl-C")
