"""The notifications service: entrypoints only; the rules are in ``domain.py``.

Listens to the registry (its read model) and to disputes (cases); two timers fire due
deadlines and send pending webhook deliveries; RPC and HTTP serve inboxes, the per-case
audit, and acknowledgements.
"""

import logging
from pathlib import Path

from eventlet import GreenPool
from marshmallow import ValidationError

from services.notifications import domain, readmodel, views
from services.notifications.channels import DeliveryFailed
from services.notifications.dependencies import (
    DEADLINE_LATENESS,
    DEADLINES_FIRED,
    DELIVERIES,
    Clock,
    NotifierProvider,
    timer_from,
)
from services.notifications.schemas import AcknowledgementSchema, InboxQuerySchema
from shared.consumers import event_handler
from shared.dependencies import Database, Metrics
from shared.errors import from_validation_error
from shared.rpc import rpc
from shared.web import OpsEndpoints, http, json_response, read_json, read_query

log = logging.getLogger(__name__)

MIGRATIONS = Path(__file__).parent / "migrations"
DEADLINE_BATCH = 50  # per transaction: small enough that each commit comes quickly
DELIVERY_CONCURRENCY = 10


class NotificationsService(OpsEndpoints):
    name = "notifications"
    db = Database(MIGRATIONS)
    metrics = Metrics()
    notifier = NotifierProvider()
    clock = Clock()

    # --- the registry read model ---------------------------------------------------------

    @event_handler("registry", "organization_registered")
    def handle_organization_registered(self, event):
        self._apply(event, readmodel.apply_organization)

    @event_handler("registry", "organization_updated")
    def handle_organization_updated(self, event):
        self._apply(event, readmodel.apply_organization)

    @event_handler("registry", "organization_moved")
    def handle_organization_moved(self, event):
        self._apply(event, readmodel.apply_organization)

    @event_handler("registry", "organization_contacts_changed")
    def handle_organization_contacts_changed(self, event):
        self._apply(event, readmodel.apply_contacts)

    @event_handler("registry", "enterprise_registered")
    def handle_enterprise_registered(self, event):
        self._apply(event, readmodel.apply_enterprise)

    @event_handler("registry", "enterprise_updated")
    def handle_enterprise_updated(self, event):
        self._apply(event, readmodel.apply_enterprise)

    @event_handler("registry", "enterprise_moved")
    def handle_enterprise_moved(self, event):
        self._apply(event, readmodel.apply_enterprise)

    @event_handler("registry", "enterprise_closed")
    def handle_enterprise_closed(self, event):
        self._apply(event, readmodel.apply_enterprise)

    def _apply(self, event, apply):
        self.db.apply_once(event, apply, readmodel.event_time(event.time))

    # --- cases ---------------------------------------------------------------------------

    @event_handler("disputes", "case_opened", batch=True)
    def handle_case_opened(self, events):
        # Batched: under a flood of reports, one transaction tells many cases' chains.
        with self.db.unit_of_work() as uow:
            fresh = uow.fresh(events)
            if fresh:
                self.notifier.open_cases(uow, [event.data for event in fresh], self.clock())

    @event_handler("disputes", "case_regraded")
    def handle_case_regraded(self, event):
        self._on_case(event, self.notifier.regrade_case)

    @event_handler("disputes", "case_status_changed")
    def handle_case_status_changed(self, event):
        self._on_case(event, self.notifier.change_status)

    def _on_case(self, event, handle):
        with self.db.unit_of_work() as uow:
            if uow.is_duplicate(event):
                return
            handle(uow, event.data, self.clock())

    # --- durable deadlines and external deliveries -----------------------------------------

    @timer_from("NOTIFICATIONS_DEADLINE_POLL_SECONDS", 0.25)
    def fire_deadlines(self):
        """Fire what is due, a batch per transaction, until nothing due is left."""
        for _ in range(50):  # bounded, so a flood cannot starve the container's shutdown
            fired = self._fire_batch()
            if fired < DEADLINE_BATCH:
                return

    def _fire_batch(self) -> int:
        holder = self.notifier.holder
        try:
            with self.db.unit_of_work() as uow:
                fired = self.notifier.fire_due_deadlines(uow, self.clock(), holder,
                                                         limit=DEADLINE_BATCH)
        except Exception:  # noqa: BLE001 - one bad deadline must not block the others
            log.exception("firing a batch of deadlines failed; firing them one by one")
            return self._fire_one_by_one()
        self._observe(fired)
        return len(fired)

    def _fire_one_by_one(self) -> int:
        with self.db.session() as session:
            ids = domain.due_deadline_ids(session, self.clock(), DEADLINE_BATCH)
        count = 0
        for deadline_id in ids:
            try:
                with self.db.unit_of_work() as uow:
                    fired = self.notifier.fire_due_deadlines(
                        uow, self.clock(), self.notifier.holder, only_id=deadline_id)
                self._observe(fired)
                count += len(fired)
            except Exception as exc:  # noqa: BLE001
                log.exception("deadline %s failed to fire", deadline_id)
                with self.db.unit_of_work() as uow:
                    self.notifier.postpone_deadline(uow, deadline_id, repr(exc), self.clock())
        return count

    @staticmethod
    def _observe(fired):
        for item in fired:
            DEADLINE_LATENESS.labels(item["kind"]).observe(max(item["lateness"], 0))
            DEADLINES_FIRED.labels(item["kind"], item["outcome"]).inc()

    @timer_from("NOTIFICATIONS_DELIVERY_POLL_SECONDS", 0.5)
    def send_deliveries(self):
        with self.db.unit_of_work() as uow:
            claimed = self.notifier.claim_deliveries(uow, self.clock(), self.notifier.holder)
        if not claimed:
            return
        pool = GreenPool(DELIVERY_CONCURRENCY)
        for delivery, error in pool.imap(self._send, claimed):
            DELIVERIES.labels(delivery["channel"], "ok" if error is None else "error").inc()
            with self.db.unit_of_work() as uow:
                self.notifier.record_delivery(uow, delivery["id"], self.clock(), error)

    def _send(self, delivery):
        channel = self.notifier.channels[delivery["channel"]]
        try:
            channel.send(delivery["address"], delivery["body"], delivery["id"])
        except DeliveryFailed as exc:
            return delivery, str(exc)
        except Exception as exc:  # noqa: BLE001 - a channel bug is a failed delivery
            log.exception("channel %s raised", delivery["channel"])
            return delivery, f"{type(exc).__name__}: {exc}"[:500]
        return delivery, None

    # --- API -----------------------------------------------------------------------------

    @rpc
    def acknowledge(self, case_id, organization_code, by, recipient_kind="union"):
        payload = _load(AcknowledgementSchema(), {
            "organization_code": organization_code, "by": by,
            "recipient_kind": recipient_kind})
        return self._acknowledge(case_id, payload)

    def _acknowledge(self, case_id, payload):
        with self.db.unit_of_work() as uow:
            return self.notifier.acknowledge(
                uow, case_id, payload["organization_code"], payload["by"], self.clock(),
                recipient_kind=payload["recipient_kind"])

    @rpc
    def case(self, case_id, scope=None):
        """The case's notifications; with ``scope`` (an organization code), 403 unless the
        case is visible from there (``views.require_in_scope``)."""
        with self.db.session() as session:
            return views.case_view(session, case_id, scope)

    @rpc
    def case_audit(self, case_id, scope=None):
        with self.db.session() as session:
            return views.case_audit(session, case_id, scope)

    @rpc
    def inbox(self, organization_code, **query):
        query = _load(InboxQuerySchema(), query)
        with self.db.session() as session:
            return views.inbox(session, organization_code, **query)

    @http("POST", "/cases/<string:case_id>/acknowledgements")
    def http_acknowledge(self, request, case_id):
        result = self._acknowledge(case_id, read_json(request, AcknowledgementSchema()))
        return json_response(result, status=200 if result["already_acknowledged"] else 201)

    @http("GET", "/cases/<string:case_id>")
    def http_case(self, request, case_id):
        return json_response(self.case(case_id))

    @http("GET", "/cases/<string:case_id>/audit")
    def http_case_audit(self, request, case_id):
        return json_response({"case_id": case_id, "entries": self.case_audit(case_id)})

    @http("GET", "/inbox/<string:organization_code>")
    def http_inbox(self, request, organization_code):
        query = read_query(request, InboxQuerySchema())
        with self.db.session() as session:
            messages = views.inbox(session, organization_code, **query)
        return json_response({"organization_code": organization_code, "messages": messages})


def _load(schema, data):
    try:
        return schema.load(data)
    except ValidationError as exc:
        raise from_validation_error(exc) from None
