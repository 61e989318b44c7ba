"""The floor of report intake: the same hops as the real pipeline, with no work in them.

    python bench/_floor.py gateway|disputes|notifications

``disputes_reports.py`` starts these three as it starts the real services (one process
each, the same settings, run by ``services.serve.run``), on their own vhost and databases:

- gateway: the gateway's HTTP entrypoint (``ApiEntrypoint``: ``shared.web``'s problem
  answers, body cap, metrics) on the same path, the body read as JSON and sent on by the
  gateway's ``BackendRpc`` (deadline, expiry, parking reply listener); no authentication
  (a database read in the real one), no schema;
- disputes: ``shared.rpc``'s ``@rpc`` ``submit_report``, which commits one unit of work
  holding one ``case_opened`` event (what a new report publishes) and answers; the
  outbox relay publishes it with confirms (``shared.outbox``);
- notifications: ``shared.consumers``' batched event handler on ``case_opened`` doing
  nothing but note when each event arrived, read back on ``GET /consumed``.

Each keeps the anatomy every service has (``OpsEndpoints``, ``Database``, ``Metrics``), so
what the floor measures is what any report pays for the framework and the transport.
"""

import sys
from pathlib import Path

import eventlet

eventlet.monkey_patch()
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import os  # noqa: E402
import time  # noqa: E402
import uuid  # noqa: E402

from services.disputes.service import MIGRATIONS as DISPUTES_MIGRATIONS  # noqa: E402
from services.gateway.api import ApiEntrypoint  # noqa: E402
from services.gateway.dependencies import BackendRpc  # noqa: E402
from services.gateway.service import MIGRATIONS as GATEWAY_MIGRATIONS  # noqa: E402
from services.notifications.service import MIGRATIONS as NOTIFICATIONS_MIGRATIONS  # noqa: E402
from shared.consumers import event_handler  # noqa: E402
from shared.dependencies import Database, Metrics  # noqa: E402
from shared.events import catalogue  # noqa: E402
from shared.examples import payload  # noqa: E402
from shared.rpc import rpc  # noqa: E402
from shared.web import OpsEndpoints, http, json_response, read_json  # noqa: E402

REPORTS_URL = "/api/v1/disputes/officer-reports"
CASE_OPENED = payload(catalogue.get("disputes", "case_opened"))  # a valid payload, once


class FloorGateway(OpsEndpoints):
    name = "gateway"
    probe_workers = True  # as the gateway's: /readyz runs a no-op in a worker
    db = Database(GATEWAY_MIGRATIONS)
    metrics = Metrics()
    disputes_rpc = BackendRpc("disputes")

    @ApiEntrypoint.decorator("POST", REPORTS_URL)
    def report_as_officer(self, request):
        return json_response(self.disputes_rpc.submit_report(
            read_json(request), request_id=uuid.uuid4().hex), status=201)


class FloorDisputes(OpsEndpoints):
    name = "disputes"
    db = Database(DISPUTES_MIGRATIONS)
    metrics = Metrics()

    @rpc
    def submit_report(self, data, request_id=None):
        # The enterprise's name as the subject: the consumer tells the bench which
        # report each event came from.
        with self.db.unit_of_work() as uow:
            uow.publish("case_opened", CASE_OPENED, subject=data["name"])
        return {"report": request_id}


CONSUMED = {}  # event subject -> time.time() it was handled (this process)


class FloorNotifications(OpsEndpoints):
    name = "notifications"
    db = Database(NOTIFICATIONS_MIGRATIONS)
    metrics = Metrics()

    @event_handler("disputes", "case_opened", batch=True)
    def handle_case_opened(self, events):
        now = time.time()
        for event in events:
            CONSUMED.setdefault(event.subject, now)

    @http("GET", "/consumed")
    def consumed(self, request):
        return json_response(CONSUMED)


FLOOR = {"gateway": FloorGateway, "disputes": FloorDisputes,
         "notifications": FloorNotifications}


def main(argv=None):
    from services.serve import run
    from shared.config import service_config, stop_timeout
    from shared.logs import configure_logging

    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 1 or argv[0] not in FLOOR:
        raise SystemExit(f"usage: python bench/_floor.py {'|'.join(FLOOR)}")
    configure_logging(argv[0], os.environ.get("LOG_LEVEL", "INFO"),
                      os.environ.get("LOG_FORMAT", "json"))
    run(FLOOR[argv[0]], service_config(argv[0]), stop_timeout())


if __name__ == "__main__":
    main()
