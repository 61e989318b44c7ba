"""services/supervisor.py with stand-in children (no broker): backoff, giving up, stop."""

import sys
import threading
import time

from services.supervisor import Supervisor, describe_exit


def child(code: str) -> list:
    return [sys.executable, "-c", code]


def test_a_service_that_keeps_crashing_is_restarted_with_doubling_backoff_then_given_up():
    lines = []
    supervisor = Supervisor({"flaky": child("raise SystemExit(3)"),
                             "steady": child("import time; time.sleep(60)")},
                            say=lines.append, backoff=0.05, steady=30, give_up_after=4,
                            poll=0.01, stop_timeout=5)
    supervisor.start()
    steady_pid = supervisor.children["steady"].process.pid
    flaky = supervisor.children["flaky"]
    code = run_until(supervisor, lambda: flaky.given_up)
    restarting = [line for line in lines if "restarting it in" in line]
    assert [line.split("; ", 1)[1] for line in restarting] == [
        "restarting it in 0.05s (crash 1 in a row)", "restarting it in 0.1s (crash 2 in a row)",
        "restarting it in 0.2s (crash 3 in a row)"]
    assert all(line.startswith("flaky exited with 3 after ") for line in restarting)
    assert flaky.exits == [3, 3, 3, 3]
    assert any("crashed 4 times in a row within 30s of starting: giving up on it" in line
               for line in lines)
    # the other service was never touched until the stop
    assert supervisor.children["steady"].process.pid == steady_pid
    assert supervisor.children["steady"].restarts == 0
    assert code == 1
    assert lines[-1] == "stopped"


def run_until(supervisor, condition):
    """``supervisor.run()``, stopped (as by Ctrl-C) once ``condition()`` holds."""

    def watch():
        while not condition():
            time.sleep(0.01)
        supervisor.request_stop()

    threading.Thread(target=watch, daemon=True).start()
    return supervisor.run()


def test_a_crash_after_a_steady_run_starts_the_backoff_again():
    lines = []
    supervisor = Supervisor({"once": child("raise SystemExit(1)")}, say=lines.append,
                            backoff=0.05, steady=0.0, give_up_after=3, poll=0.01)
    supervisor.start()
    run_until(supervisor, lambda: supervisor.children["once"].restarts >= 4)
    # steady=0: every run counts as steady, so the streak never grows past one
    assert all("restarting it in 0.05s (crash 1 in a row)" in line
               for line in lines if "restarting" in line)
    assert not supervisor.children["once"].given_up


def test_an_exit_by_signal_is_named():
    assert describe_exit(-9) == "-9 (SIGKILL)"
    assert describe_exit(3) == "3"
