"""The notifications service: entrypoints only. The rules are in ``domain.py``, the use
cases in ``operations.py``, the reads in ``views.py``.

Listens to the registry (its read model), to disputes (cases) and to incubation
(reminders for the hub's staff when an incubation period nears its end); two timers fire due
deadlines and send pending webhook deliveries; RPC serves inboxes, a case's escalation,
notifications and audit, and acknowledgements. Every RPC argument is loaded, and every
answer dumped, with the contract in ``shared/api/notifications.py``; every RPC method
takes the caller (``shared.caller``).
"""

import logging
from pathlib import Path

from eventlet import GreenPool

from services.notifications import operations, readmodel, views
from services.notifications.adapters import DeliveryFailed
from services.notifications.dependencies import (
    Clock,
    NotifierProvider,
    timer_from,
)
from shared.api.notifications import (
    AcknowledgementInSchema,
    AcknowledgementSchema,
    AuditEntryPageSchema,
    CaseEscalationSchema,
    CaseNotificationPageSchema,
    CaseRefSchema,
    InboxMessagePageSchema,
    InboxQuerySchema,
    OrganizationRefSchema,
)
from shared.caller import Caller
from shared.consumers import event_handler
from shared.dependencies import Database, Metrics
from shared.metrics import DEADLINE_LATENESS, DEADLINES_FIRED, DELIVERIES
from shared.paging import CursorQuery
from shared.registry_events import RegistryEventHandlers, event_time
from shared.rpc import rpc
from shared.schemas import load
from shared.web import OpsEndpoints

log = logging.getLogger(__name__)

MIGRATIONS = Path(__file__).parent / "migrations"
DEADLINE_BATCH = 50  # per transaction: small enough that each commit comes quickly
DELIVERY_CONCURRENCY = 10


class NotificationsService(RegistryEventHandlers, OpsEndpoints):
    name = "notifications"
    db = Database(MIGRATIONS, gauges=[views.measure_cases_and_deadlines])
    metrics = Metrics()
    notifier = NotifierProvider()
    clock = Clock()

    # --- the registry read model ---------------------------------------------------------

    @event_handler("registry", "organization_contacts_changed")
    def handle_organization_contacts_changed(self, event):
        self.db.apply_once(event, readmodel.apply_contacts, event_time(event))

    registry_readmodel = readmodel.registry  # the other handlers: RegistryEventHandlers

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

    # --- the incubation hub -----------------------------------------------------------------

    @event_handler("incubation", "incubation_deadline_approaching")
    def handle_incubation_deadline_approaching(self, event):
        """The hub's staff find a reminder in their inbox."""
        self._on_case(event, self.notifier.remind_incubation_deadline)

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
            ids = operations.due_deadline_ids(session, self.clock(), DEADLINE_BATCH)
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

    def _observe(self, fired):
        for item in fired:
            DEADLINE_LATENESS.labels(self.name, item["kind"]).observe(max(item["lateness"], 0))
            DEADLINES_FIRED.labels(self.name, item["kind"], item["outcome"]).inc()

    @timer_from("NOTIFICATIONS_DELIVERY_POLL_SECONDS", 0.5)
    def send_deliveries(self):
        with self.db.unit_of_work() as uow:
            claimed = self.notifier.claim_deliveries(uow, self.clock(), self.notifier.holder)
        if not claimed:
            return
        pool = GreenPool(DELIVERY_CONCURRENCY)
        for delivery, error in pool.imap(self._send, claimed):
            DELIVERIES.labels(self.name, delivery["channel"],
                              "ok" if error is None else "error").inc()
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

    # --- RPC ---------------------------------------------------------------------------

    @rpc
    def acknowledge(self, case_id, acknowledgement, caller):
        """The caller acknowledges (签收) the case for a notified recipient in its subtree;
        its name is recorded as who signed. 403 for a recipient that was not notified."""
        case_id, caller = _case_id(case_id), Caller.from_dict(caller)
        acknowledgement = load(AcknowledgementInSchema(), acknowledgement,
                               "acknowledgement rejected")
        with self.db.unit_of_work() as uow:
            result = self.notifier.acknowledge(
                uow, case_id, acknowledgement["organization_code"],
                acknowledgement["recipient_kind"], caller, self.clock())
        return AcknowledgementSchema().dump(result)

    @rpc
    def case_escalation(self, case_id, caller):
        """Where the case's escalation stands; 403 unless the case is visible from the
        caller's organization (``views.require_case_in_scope``)."""
        case_id, caller = _case_id(case_id), Caller.from_dict(caller)
        with self.db.session() as session:
            return CaseEscalationSchema().dump(views.case_escalation(session, case_id, caller))

    @rpc
    def case_notifications(self, case_id, caller, query=None):
        case_id, caller = _case_id(case_id), Caller.from_dict(caller)
        query = load(CursorQuery(), query or {}, "query rejected")
        with self.db.session() as session:
            page = views.case_notifications(session, case_id, caller, **query)
        return CaseNotificationPageSchema().dump(page)

    @rpc
    def case_audit(self, case_id, caller, query=None):
        case_id, caller = _case_id(case_id), Caller.from_dict(caller)
        query = load(CursorQuery(), query or {}, "query rejected")
        with self.db.session() as session:
            page = views.case_audit(session, case_id, caller, **query)
        return AuditEntryPageSchema().dump(page)

    @rpc
    def inbox(self, organization_code, caller, query=None):
        organization_code = load(OrganizationRefSchema(),
                                 {"organization_code": organization_code},
                                 "organization rejected")["organization_code"]
        caller = Caller.from_dict(caller)
        query = load(InboxQuerySchema(), query or {}, "query rejected")
        with self.db.session() as session:
            page = views.inbox(session, organization_code, caller, **query)
        return InboxMessagePageSchema().dump(page)


def _case_id(value) -> str:
    return load(CaseRefSchema(), {"case_id": value}, "case rejected")["case_id"]
