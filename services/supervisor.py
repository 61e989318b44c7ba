"""What `gonghui up` runs: one process per service, kept running as a supervisor would.

A service that exits on its own (a crash, a ``kill -9``, an exit after a failed stop) is
started again after a backoff that doubles with each crash in a row (``BACKOFF_SECONDS``,
at most ``BACKOFF_MAX_SECONDS``), and the log says so, with the exit status. A run that
lasted ``STEADY_SECONDS`` or more ends the streak: the next crash waits the shortest
backoff again. After ``GIVE_UP_AFTER`` quick crashes in a row the service is left stopped,
and the log says that too; the others keep running. ``stop()`` (Ctrl-C or SIGTERM in
`gonghui up`) sends each child one SIGTERM, nameko's graceful stop, and kills what is left
after ``stop_timeout``.

No nameko here: the children are ``python -m services.serve <name>`` (or any command).
"""

import signal
import subprocess
import time
from dataclasses import dataclass, field

BACKOFF_SECONDS = 1.0
BACKOFF_MAX_SECONDS = 30.0
STEADY_SECONDS = 60.0
GIVE_UP_AFTER = 5


def describe_exit(returncode: int) -> str:
    """``-9`` -> ``-9 (SIGKILL)``: Popen gives a signal as a negative status."""
    if returncode < 0:
        try:
            return f"{returncode} ({signal.Signals(-returncode).name})"
        except ValueError:
            pass
    return str(returncode)


@dataclass
class Child:
    name: str
    command: list
    process: subprocess.Popen | None = None
    started_at: float = 0.0
    crashes: int = 0  # quick crashes in a row
    restart_at: float | None = None
    given_up: bool = False
    restarts: int = 0
    exits: list = field(default_factory=list)


class Supervisor:
    def __init__(self, commands: dict, say=print, popen_kwargs=None, stop_timeout=20.0,
                 backoff=BACKOFF_SECONDS, backoff_max=BACKOFF_MAX_SECONDS,
                 steady=STEADY_SECONDS, give_up_after=GIVE_UP_AFTER, poll=0.2):
        self.children = {name: Child(name, list(command)) for name, command in commands.items()}
        self.say = say
        self.popen_kwargs = popen_kwargs or {}
        self.stop_timeout = stop_timeout
        self.backoff, self.backoff_max = backoff, backoff_max
        self.steady, self.give_up_after, self.poll = steady, give_up_after, poll
        self.stopping = False

    def start(self):
        for child in self.children.values():
            self._spawn(child)

    def request_stop(self, *_):
        """Safe from a signal handler: the loop in ``run`` notices and stops everything."""
        self.stopping = True

    def run(self) -> int:
        """Supervise until ``request_stop`` or every service was given up; then stop them
        all. 1 if a service was given up, else 0."""
        while not self.stopping:
            now = time.monotonic()
            for child in self.children.values():
                if child.given_up:
                    continue
                if child.restart_at is not None:
                    if now >= child.restart_at:
                        child.restarts += 1
                        self._spawn(child)
                    continue
                if child.process.poll() is not None and not self.stopping:
                    self._crashed(child, now)
            if all(child.given_up for child in self.children.values()):
                break
            time.sleep(self.poll)
        self.stop()
        return 1 if any(child.given_up for child in self.children.values()) else 0

    def _spawn(self, child):
        child.restart_at = None
        child.process = subprocess.Popen(child.command, **self.popen_kwargs)
        child.started_at = time.monotonic()
        self.say(f"started {child.name} (pid {child.process.pid})")

    def _crashed(self, child, now):
        status = describe_exit(child.process.returncode)
        child.exits.append(child.process.returncode)
        ran = now - child.started_at
        child.crashes = 1 if ran >= self.steady else child.crashes + 1
        if child.crashes >= self.give_up_after:
            child.given_up = True
            self.say(f"{child.name} exited with {status} after {ran:.1f}s; it crashed "
                     f"{child.crashes} times in a row within {self.steady:g}s of starting: "
                     "giving up on it (the other services keep running)")
            return
        delay = min(self.backoff * 2 ** (child.crashes - 1), self.backoff_max)
        child.restart_at = now + delay
        self.say(f"{child.name} exited with {status} after {ran:.1f}s; restarting it in "
                 f"{delay:g}s (crash {child.crashes} in a row)")

    def stop(self):
        self.stopping = True
        running = [child for child in self.children.values()
                   if child.process is not None and child.process.poll() is None]
        self.say("stopping")
        for child in running:
            child.process.send_signal(signal.SIGTERM)
        # each service exits by itself within STOP_TIMEOUT_SECONDS (services/serve.py)
        deadline = time.monotonic() + self.stop_timeout
        for child in running:
            try:
                child.process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                self.say(f"{child.name} did not stop in time; killing it")
                child.process.kill()
                child.process.wait()
        self.say("stopped")
