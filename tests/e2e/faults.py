"""A district under a steady load of filed reports, for fault injection
(tests/e2e/test_faults.py, and its longer run, bench/fault_injection.py).

``District``: the gateway, disputes and notifications, each in its own process as
`gonghui up` runs them (``services.supervisor.Supervisor``: one killed with -9 is started
again), on databases the caller gives (a ``PrivatePostgres`` server, so it can be
restarted) and a broker URI (a ``TcpProxy``'s, so it can be cut). The registry is not
run: its organization events are published as it would publish them, and the read
models fill from them. ``Load``: information officers file reports through the gateway
at a steady rate, each naming an enterprise of its own, so each opens a case. ``count``:
what one run's answers were and what became of the reports:

- accepted: answered 201;
- refused: answered 503 (the gateway's word that the request never runs) or the
  connection was refused (nothing was sent): never filed;
- unknown: answered 504 or another 5xx, or no answer (a connection cut mid-request):
  the outcome is unknown to the client, so such a report may be filed, once;
- rejected: any 4xx (none is expected: every request is valid);
- persisted (reports in disputes' database), lost (accepted, not persisted), duplicates
  (filed twice), invented (filed though refused, rejected or never posted);
- notified: cases whose every recipient the policy names at once has its notice, once
  (notifications' database); outboxes: events not yet published, per service.
"""

import os
import secrets
import signal
import subprocess
import sys
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path

import eventlet
import requests
from eventlet.event import Event
from sqlalchemy import select
from urllib3.exceptions import NewConnectionError

from services.cli import _die_with_parent
from services.disputes.models import cases as dispute_cases
from services.disputes.models import reports
from services.notifications.models import inbox_messages, notifications
from services.notifications.models import organizations as notified_organizations
from services.notifications.policy import Policy
from services.supervisor import Supervisor
from shared import pii, sealing
from shared.db import open_database
from shared.testing import free_port, publish_events, service_ready, unpublished, wait_for
from tests.conftest import gateway_tokens

ROOT = Path(__file__).resolve().parents[2]
SERVICES = ("disputes", "notifications", "gateway")
DISTRICT, BANTIAN, NANKENG = "longgang", "longgang.bantian", "longgang.bantian.nankeng"
CHAIN = {"district": DISTRICT, "street": BANTIAN, "community": NANKENG}
ORGANIZATIONS = [  # registry's organization_registered events
    {"code": DISTRICT, "name": "龙岗区总工会", "kind": "district_federation",
     "tier": "district", "path": [DISTRICT],
     "party_organization": {"name": "中共深圳市龙岗区委", "kind": "district_committee"}},
    {"code": BANTIAN, "name": "坂田街道总工会", "kind": "street_federation", "tier": "street",
     "parent_code": DISTRICT, "path": [DISTRICT, BANTIAN],
     "party_organization": {"name": "坂田街道党工委", "kind": "street_working_committee"}},
    {"code": NANKENG, "name": "南坑社区工联会", "kind": "community_federation",
     "tier": "community", "parent_code": BANTIAN, "path": [DISTRICT, BANTIAN, NANKENG],
     "party_organization": {"name": "南坑社区综合党委", "kind": "community_party_committee"}},
]
OFFICERS = 5
REPORTS = "/api/v1/disputes/officer-reports"
READY_SECONDS = 90  # a service's start on a busy machine (imports, migrations)


class District:
    """The three services, supervised; ``start()`` waits until officers can file."""

    def __init__(self, amqp_uri, urls: dict, folder: Path, env=None):
        self.amqp_uri = amqp_uri
        self.urls = urls
        self.ports = {name: free_port() for name in SERVICES}
        self.base = f"http://127.0.0.1:{self.ports['gateway']}"
        self.log = folder / "services.log"
        self.said = []  # the supervisor's lines: starts, exits, restarts
        private, public = sealing.new_pair()
        environment = dict(
            os.environ, AMQP_URI=amqp_uri, HTTP_HOST="127.0.0.1", LOG_FORMAT="text",
            GONGHUI_VAR_DIR=str(folder),
            # one client address posts everything here: not a client to limit
            HTTP_CONNECTIONS_PER_CLIENT="1000",
            DISPUTES_RATE_LIMITS="officer=1000000/3600,source=1000000/3600",
            **{sealing.PUBLIC_SETTING: public, sealing.PRIVATE_SETTING: private,
               pii.setting_name("gateway"): secrets.token_hex(32),
               pii.setting_name("disputes"): secrets.token_hex(32)},
            **{f"{name.upper()}_HTTP_PORT": str(port) for name, port in self.ports.items()},
            **{f"{name.upper()}_DATABASE_URL": url for name, url in urls.items()},
            **(env or {}))
        environment.pop("GONGHUI_SERVICE", None)
        self._out = self.log.open("w")
        self.supervisor = Supervisor(
            {name: [sys.executable, "-m", "services.serve", name] for name in SERVICES},
            say=self.said.append,
            popen_kwargs={"env": environment, "cwd": ROOT, "stdout": self._out,
                          "stderr": subprocess.STDOUT, "start_new_session": True,
                          "preexec_fn": _die_with_parent})
        self.tokens = []
        self._thread = None

    def start(self):
        self.supervisor.start()
        self._thread = eventlet.spawn(self.supervisor.run)
        self.wait_ready()
        # the consumers' queues exist now: the read models take the tree
        for organization in ORGANIZATIONS:
            publish_events(self.amqp_uri, "registry", "organization_registered", organization)
        admin = gateway_tokens(self.urls["gateway"], {"admin": ("admin", DISTRICT)})["admin"]
        self.tokens = [self._officer(admin, number) for number in range(OFFICERS)]
        notified = open_database(self.urls["notifications"], "notifications",
                                 run_migrations=False)
        try:
            def tree_known():
                with notified.session() as session:
                    return len(session.execute(select(notified_organizations.c.code))
                               .all()) == len(ORGANIZATIONS)
            assert wait_for(tree_known, timeout=30), "notifications never had the tree"
        finally:
            notified.engine.dispose()
        return self

    def _officer(self, admin_token, number):
        """An officer of 南坑, registered once disputes knows 南坑 (a 404 until then)."""
        def register():
            response = requests.post(
                f"{self.base}/api/v1/disputes/officers",
                json={"organization_code": NANKENG, "real_name": f"信息员{number}",
                      "phone": f"139000000{number:02d}"},
                headers={"Authorization": f"Bearer {admin_token}"}, timeout=30)
            assert response.status_code in (201, 404), response.text
            return response.status_code == 201 and response.json()["token"]
        token = wait_for(register, timeout=30, interval=0.2)
        assert token, "disputes never had 南坑"
        return token

    def wait_ready(self, names=SERVICES):
        for name in names:
            assert wait_for(lambda name=name: service_ready(self.ports[name]),
                            timeout=READY_SECONDS, interval=0.2), \
                f"{name} never became ready:\n{self.output()}"

    def pid(self, name) -> int:
        return self.supervisor.children[name].process.pid

    def kill(self, name) -> float:
        """``kill -9`` of one service; the seconds until its new process was ready."""
        killed_at, before = time.monotonic(), self.pid(name)
        os.kill(before, signal.SIGKILL)
        assert wait_for(lambda: self.pid(name) != before, timeout=60, interval=0.1), \
            f"{name} was not started again:\n{self.said}"
        self.wait_ready([name])
        return time.monotonic() - killed_at

    def output(self) -> str:
        self._out.flush()
        return "\n".join(self.said) + "\n" + self.log.read_text()[-6000:]

    def stop(self):
        self.supervisor.request_stop()
        if self._thread is not None:
            self._thread.wait()
        self._out.close()


def cut_broker(proxy, seconds) -> float:
    """Cut the TCP proxy in front of RabbitMQ as the next bytes go out (the broker has
    them, their sender never hears back), restore it ``seconds`` later: its seconds."""
    assert proxy.cut_in_flight(), "nothing went to the broker to cut"
    cut_at = time.monotonic()
    eventlet.sleep(seconds)
    proxy.restore()
    return time.monotonic() - cut_at


def restart_postgres(server, seconds) -> float:
    """Crash the ``PrivatePostgres`` (in-flight transactions die with it; it recovers
    from its WAL) and start it ``seconds`` later: how long it was down."""
    server.stop("immediate")
    down_at = time.monotonic()
    eventlet.sleep(seconds)
    server.start()
    return time.monotonic() - down_at


def post_report(base, token, name) -> dict:
    """One officer's report naming enterprise ``name``: its outcome (see the module)."""
    body = {"credit_code": None, "name": name, "address": "坂田南坑", "community_code": NANKENG,
            "category": "unpaid_wages", "workers_affected": 3, "amount_owed": "1000",
            "description": f"{name}拖欠工资"}
    started = time.monotonic()
    try:
        response = requests.post(f"{base}{REPORTS}", json=body, timeout=60,
                                 headers={"Authorization": f"Bearer {token}"})
        status = response.status_code
    except requests.ConnectionError as exc:
        reason = getattr(exc.args[0], "reason", None) if exc.args else None
        status = "refused" if isinstance(reason, NewConnectionError) else "no answer"
    except requests.RequestException:
        status = "no answer"
    return {"name": name, "status": status, "started": started,
            "took": time.monotonic() - started}


def outcome(status) -> str:
    if status == 201:
        return "accepted"
    if status in (503, "refused"):
        return "refused"
    if isinstance(status, int) and 400 <= status < 500:
        return "rejected"
    return "unknown"  # 504, another 5xx, no answer


class Load:
    """Reports posted at ``rate`` a second from its making to ``stop()``, each in its own
    green thread (one that hangs holds up no other); officers in turn."""

    def __init__(self, district, prefix, rate):
        self.district, self.prefix, self.rate = district, prefix, rate
        self.posts = []
        self._pool = eventlet.GreenPool(10_000)
        self._stopping = Event()
        self._poster = eventlet.spawn(self._post_until_stopped)

    def _post_until_stopped(self):
        started, number = time.monotonic(), 0
        while not self._stopping.ready():
            token = self.district.tokens[number % len(self.district.tokens)]
            self._pool.spawn_n(lambda n=number, t=token: self.posts.append(
                post_report(self.district.base, t, f"{self.prefix}{n}")))
            number += 1
            eventlet.sleep(max(0.0, started + number / self.rate - time.monotonic()))

    def stop(self) -> list:
        self._stopping.send()
        self._poster.wait()
        self._pool.waitall()
        return self.posts


@dataclass
class Counts:
    posted: int = 0
    statuses: dict = field(default_factory=dict)  # answer (or "refused"/"no answer") -> n
    accepted: int = 0
    refused: int = 0
    unknown: int = 0
    rejected: int = 0
    persisted: int = 0
    unknown_persisted: int = 0  # of the unknown, those filed (once)
    lost: list = field(default_factory=list)
    duplicates: list = field(default_factory=list)
    invented: list = field(default_factory=list)
    notified: int = 0
    notices: int = 0
    notices_missing: int = 0
    notices_repeated: int = 0
    unpublished: dict = field(default_factory=dict)

    def as_dict(self) -> dict:
        return asdict(self)

    def line(self) -> str:
        return (f"posted {self.posted}: accepted {self.accepted}, refused {self.refused}, "
                f"unknown {self.unknown} ({self.unknown_persisted} of them filed), rejected "
                f"{self.rejected} (answers {self.statuses}); persisted {self.persisted}, "
                f"lost {len(self.lost)}, duplicates {len(self.duplicates)}, invented "
                f"{len(self.invented)}; notified {self.notified} ({self.notices} notices, "
                f"{self.notices_missing} missing, {self.notices_repeated} repeated); "
                f"unpublished {sum(self.unpublished.values())}")

    def settled(self) -> bool:
        return (not self.lost and self.notified == self.persisted
                and not any(self.unpublished.values()))


def count(district, prefix, posts) -> Counts:
    """What became of one run's reports (``prefix``: their enterprises' names)."""
    counts = Counts(posted=len(posts))
    by_name = {post["name"]: outcome(post["status"]) for post in posts}
    counts.statuses = dict(Counter(str(post["status"]) for post in posts))
    for kind, number in Counter(by_name.values()).items():
        setattr(counts, kind, number)
    databases = {name: open_database(url, name, run_migrations=False)
                 for name, url in district.urls.items()}
    try:
        with databases["disputes"].session() as session:
            filed = session.execute(
                select(reports.c.enterprise_name, dispute_cases.c.id, dispute_cases.c.grade)
                .join(dispute_cases, dispute_cases.c.id == reports.c.case_id)
                .where(reports.c.enterprise_name.startswith(prefix))).all()
        times = Counter(row.enterprise_name for row in filed)
        counts.persisted = len(times)
        counts.lost = sorted(name for name, kind in by_name.items()
                             if kind == "accepted" and name not in times)
        counts.duplicates = sorted(name for name, n in times.items() if n > 1)
        counts.invented = sorted(name for name in times
                                 if by_name.get(name) not in ("accepted", "unknown"))
        counts.unknown_persisted = sum(by_name.get(name) == "unknown" for name in times)
        grades = {row.id: row.grade for row in filed}
        policy = Policy.load()
        expected = Counter((case_id, CHAIN[tier], kind) for case_id, grade in grades.items()
                           for tier in policy.ladder for kind, _ in policy.at_once(grade, tier))
        with databases["notifications"].session() as session:
            told = Counter(tuple(row) for row in session.execute(
                select(notifications.c.case_id, notifications.c.organization_code,
                       notifications.c.recipient_kind)
                .join(inbox_messages, inbox_messages.c.notification_id == notifications.c.id)
                .where(notifications.c.reason == "opened",
                       inbox_messages.c.message_kind == "notice",
                       notifications.c.case_id.in_(list(grades)))))
        counts.notices = sum(told.values())
        counts.notices_missing = sum((expected - told).values())
        counts.notices_repeated = sum((told - expected).values())
        counts.notified = sum(all(told[key] == n for key, n in expected.items()
                                  if key[0] == case_id) for case_id in grades)
        counts.unpublished = {name: unpublished(database)
                              for name, database in databases.items()}
    finally:
        for database in databases.values():
            database.engine.dispose()
    return counts


def settle(district, prefix, posts, timeout=60) -> Counts:
    """``count`` once every accepted report is persisted and notified and the outboxes
    are empty (or after ``timeout`` seconds), and a moment later: duplicates come late."""
    counts = wait_for(lambda: (c := count(district, prefix, posts)).settled() and c,
                      timeout=timeout, interval=0.5)
    if counts:
        eventlet.sleep(0.5)
    return count(district, prefix, posts)


def run(district, prefix, fault, rate, before=2.0, after=3.0) -> tuple[Counts, object]:
    """Reports at ``rate`` a second; ``fault()`` after ``before`` seconds; the load goes
    on ``after`` seconds once it returned; then one more report must be accepted (the
    district is back), and the counts once settled. Returns (counts, what fault returned)."""
    load = Load(district, prefix, rate)
    eventlet.sleep(before)
    result = fault()
    eventlet.sleep(after)
    posts = load.stop()
    last = post_report(district.base, district.tokens[0], f"{prefix}last")
    assert last["status"] == 201, (last, district.output())
    return settle(district, prefix, [*posts, last]), result
