"""Faults under a steady load of filed reports, longer than the test suite's runs.

    .venv/bin/python bench/fault_injection.py [--rate 20] [--before 5] [--after 10]
        [--broker-outage 15] [--postgres-outage 10]

tests/e2e/test_faults.py at a larger size: the gateway, disputes and notifications run
as processes (supervised as `gonghui up` does, tests/e2e/faults.py) on a PostgreSQL
server of their own (initdb in a temporary folder, a free port; the machine's server is
not touched) and behind a TCP proxy in front of RabbitMQ (a vhost of their own).
Officers file ``--rate`` reports a second through the gateway while, in turn: each
service is killed with -9 and started again by the supervisor, the broker is cut for
``--broker-outage`` seconds (past the gateway's 10 s deadline by default, so some
requests are answered 503 and must never be filed), PostgreSQL crashes and is started
``--postgres-outage`` seconds later. Each fault has ``--before`` seconds of load before
it and ``--after`` seconds after. Prints the counts of each run (accepted, refused,
unknown, persisted, lost, duplicates, notified, unpublished), then one JSON line.
"""

import sys
from pathlib import Path

import eventlet

eventlet.monkey_patch()
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import argparse  # noqa: E402
import tempfile  # noqa: E402
from contextlib import ExitStack  # noqa: E402

from bench._support import broker_vhost, emit  # noqa: E402
from shared.testing import PrivatePostgres, TcpProxy  # noqa: E402
from tests.e2e.faults import (  # noqa: E402
    SERVICES,
    District,
    cut_broker,
    restart_postgres,
    run,
)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=20, help="reports a second")
    parser.add_argument("--before", type=float, default=5, help="seconds before each fault")
    parser.add_argument("--after", type=float, default=10, help="seconds after each fault")
    parser.add_argument("--broker-outage", type=float, default=15)
    parser.add_argument("--postgres-outage", type=float, default=10)
    args = parser.parse_args(argv)

    with ExitStack() as stack:
        amqp_uri = stack.enter_context(broker_vhost("gonghui-bench-faults"))
        server = PrivatePostgres().start()
        stack.callback(server.close)
        proxy = TcpProxy(5672).start()
        stack.callback(proxy.stop)
        urls = {name: server.databases.create() for name in SERVICES}
        folder = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="gonghui-faults-")))
        district = District(proxy.rewrite(amqp_uri), urls, folder)
        stack.callback(district.stop)
        stack.callback(proxy.restore)  # first: a service without its broker cannot stop
        district.start()
        print(f"services up ({', '.join(SERVICES)}) on PostgreSQL :{server.port}; "
              f"{args.rate:g} reports/s, {args.before:g} s before and {args.after:g} s "
              "after each fault", flush=True)

        faults = {f"kill -9 {name}": (f"杀{name}-", lambda name=name: district.kill(name))
                  for name in SERVICES}
        faults[f"broker cut {args.broker_outage:g} s"] = (
            "断网-", lambda: cut_broker(proxy, args.broker_outage))
        faults[f"PostgreSQL crash, {args.postgres_outage:g} s down"] = (
            "重启库-", lambda: restart_postgres(server, args.postgres_outage))
        figures = {"rate": args.rate, "before_seconds": args.before,
                   "after_seconds": args.after, "runs": {}}
        for fault, (prefix, inject) in faults.items():
            counts, took = run(district, prefix, inject, args.rate, args.before, args.after)
            print(f"{fault} ({took:.1f} s): {counts.line()}", flush=True)
            figures["runs"][fault] = dict(counts.as_dict(), fault_seconds=round(took, 1),
                                          lost=len(counts.lost),
                                          duplicates=len(counts.duplicates),
                                          invented=len(counts.invented))
        emit("fault_injection", figures)


if __name__ == "__main__":
    main()
