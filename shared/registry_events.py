"""Mixin for a service that keeps a registry read model: one handler per registry
snapshot event, each on its own durable queue, each event applied once.

    class DisputesService(RegistryEventHandlers, OpsEndpoints):
        registry_readmodel = readmodel.registry   # has apply_organization/apply_enterprise

The handlers hand every organization event to ``apply_registry_organization``, every
enterprise event to ``apply_registry_enterprise`` and a bulk import's batch
(``enterprise_batch_imported``) to ``apply_registry_enterprise_batch``. By default these
call ``registry_readmodel.apply_organization(session, data, as_of)`` (resp.
``apply_enterprise``, ``apply_enterprises``) once per event (``uow.is_duplicate``), with
``as_of`` the time the registry took the snapshot, then ``on_registry_change(uow, kind,
change)`` in the same transaction for each row that changed (competitions flags
nominations there). A service whose projection does more (membership moves join-rate
counters) overrides the three methods. The handler names, hence
the queue names, are the ones the services always had.
"""

from datetime import datetime

from shared.consumers import event_handler


def event_time(event) -> datetime:
    """When the registry took the snapshot an event carries (its envelope's time)."""
    return datetime.fromisoformat(event.time)


class RegistryEventHandlers:
    registry_readmodel = None  # the service's RegistryReadModel (or a module like one)

    def apply_registry_organization(self, event):
        self._apply_registry(event, "organization")

    def apply_registry_enterprise(self, event):
        self._apply_registry(event, "enterprise")

    def apply_registry_enterprise_batch(self, event):
        """``enterprise_batch_imported``: the batch's snapshots in one unit of work,
        ``on_registry_change`` for each row that changed."""
        with self.db.unit_of_work() as uow:
            if uow.is_duplicate(event):
                return
            for change in self.registry_readmodel.apply_enterprises(
                    uow.session, event.data["enterprises"], event_time(event)):
                self.on_registry_change(uow, "enterprise", change)

    def on_registry_change(self, uow, kind: str, change) -> None:
        """Called in the event's unit of work after a snapshot changed a row: ``kind`` is
        ``"organization"`` or ``"enterprise"``, ``change`` the read model's ``Change``."""

    def _apply_registry(self, event, kind: str) -> None:
        apply = getattr(self.registry_readmodel, f"apply_{kind}")
        with self.db.unit_of_work() as uow:
            if uow.is_duplicate(event):
                return
            change = apply(uow.session, event.data, event_time(event))
            if change is not None:
                self.on_registry_change(uow, kind, change)

    @event_handler("registry", "organization_registered")
    def handle_organization_registered(self, event):
        self.apply_registry_organization(event)

    @event_handler("registry", "organization_updated")
    def handle_organization_updated(self, event):
        self.apply_registry_organization(event)

    @event_handler("registry", "organization_moved")
    def handle_organization_moved(self, event):
        self.apply_registry_organization(event)

    @event_handler("registry", "enterprise_registered")
    def handle_enterprise_registered(self, event):
        self.apply_registry_enterprise(event)

    @event_handler("registry", "enterprise_updated")
    def handle_enterprise_updated(self, event):
        self.apply_registry_enterprise(event)

    @event_handler("registry", "enterprise_moved")
    def handle_enterprise_moved(self, event):
        self.apply_registry_enterprise(event)

    @event_handler("registry", "enterprise_closed")
    def handle_enterprise_closed(self, event):
        self.apply_registry_enterprise(event)

    @event_handler("registry", "enterprise_batch_imported")
    def handle_enterprise_batch_imported(self, event):
        self.apply_registry_enterprise_batch(event)
