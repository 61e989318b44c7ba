"""Issue 12: faults under load. The gateway, disputes and notifications run as processes
(``tests/e2e/faults.py``: supervised as `gonghui up` supervises them) on a PostgreSQL
server of this module's own and behind one TCP proxy in front of RabbitMQ; officers file
reports through the gateway at a steady rate while, in turn, each service is killed with
-9 (the gateway included: its clients then get no answer or a refused connection), the
broker is cut, and PostgreSQL is restarted. Each run counts what was accepted, refused
and of unknown outcome against what was persisted and notified: no accepted report is
lost, none is filed twice, nothing refused is filed, every case reaches every recipient
its grade names once, and every outbox drains.

Short windows keep the module at 75-95 s here; ``bench/fault_injection.py`` runs the same
faults longer and at a higher rate and prints the counts.
"""

import pytest

from shared.testing import TcpProxy
from tests.e2e.faults import SERVICES, District, cut_broker, restart_postgres, run

RATE = 8  # reports a second
AFTER = 2  # seconds of load once the fault is over
OUTAGE_SECONDS = 5  # a broker restart here takes ~6 s, a PostgreSQL one ~2 s


@pytest.fixture(scope="module")
def broker(request, vhost_pipeline):
    """A TCP proxy to this module's own vhost (nameko's pipeline makes and removes it)."""
    from urllib.parse import urlsplit

    with vhost_pipeline.get() as vhost:
        proxy = TcpProxy(5672).start()
        uri = urlsplit(request.config.getoption("RABBIT_AMQP_URI"))._replace(path=f"/{vhost}")
        yield proxy, uri.geturl()
        proxy.stop()


@pytest.fixture(scope="module")
def district(private_postgres, broker, tmp_path_factory):
    proxy, amqp_uri = broker
    urls = {name: private_postgres.databases.create() for name in SERVICES}
    district = District(proxy.rewrite(amqp_uri), urls, tmp_path_factory.mktemp("district"))
    try:
        yield district.start()
    finally:
        proxy.restore()  # a service whose broker is gone cannot stop gracefully
        district.stop()
        for url in urls.values():
            private_postgres.databases.drop(url)


def assert_nothing_lost_or_doubled(counts, district):
    """The guarantees every run holds to, whatever the fault."""
    summary = f"{counts.as_dict()}\n{district.output()}"
    assert counts.lost == [], summary
    assert counts.duplicates == [], summary
    assert counts.invented == [], summary  # nothing refused (503) was filed
    assert counts.rejected == 0, summary
    assert counts.persisted == counts.accepted + counts.unknown_persisted, summary
    assert counts.notified == counts.persisted, summary
    assert counts.notices_missing == counts.notices_repeated == 0, summary
    assert not any(counts.unpublished.values()), summary


@pytest.mark.timeout(180)  # the first one starts the district too
@pytest.mark.parametrize("service", SERVICES)
def test_kill_9_of_a_service_under_load_loses_no_report_and_tells_nobody_twice(
        district, service):
    before = district.pid(service)
    counts, back_after = run(district, f"杀{service}-", lambda: district.kill(service), RATE,
                               after=AFTER)
    print(f"kill -9 {service}: back after {back_after:.1f} s; {counts.line()}")
    assert district.pid(service) != before
    assert f"{service} exited with -9 (SIGKILL)" in " ".join(district.said)
    assert_nothing_lost_or_doubled(counts, district)
    assert counts.accepted >= RATE * 3  # the load ran before, during and after


@pytest.mark.timeout(120)
def test_a_broker_cut_under_load_loses_no_report_and_tells_nobody_twice(district, broker):
    proxy, _ = broker
    dropped = proxy.dropped

    counts, _ = run(district, "断网-", lambda: cut_broker(proxy, OUTAGE_SECONDS), RATE,
                    after=AFTER)
    print(f"broker cut {OUTAGE_SECONDS} s: {counts.line()}")
    assert proxy.dropped > dropped
    assert_nothing_lost_or_doubled(counts, district)
    # a cut shorter than the gateway's deadline costs time, not answers
    assert counts.accepted == counts.posted, counts.statuses


@pytest.mark.timeout(120)
def test_a_postgresql_restart_under_load_loses_no_report_and_tells_nobody_twice(
        district, private_postgres):
    starts = private_postgres.starts

    # a crash, not a clean stop: in-flight transactions die with it
    counts, down = run(district, "重启库-", lambda: restart_postgres(private_postgres, 2),
                       RATE, after=AFTER)
    print(f"PostgreSQL down {down:.1f} s: {counts.line()}")
    assert private_postgres.starts == starts + 1
    assert_nothing_lost_or_doubled(counts, district)
    # a database that is down is a 503 (not done: resend) or, for a commit whose
    # connection died, a 504; never an internal error
    assert set(counts.statuses) <= {"201", "503", "504"}, counts.statuses
