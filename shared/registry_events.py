"""Mixin for a service that keeps a registry read model: one handler per registry
snapshot event, each on its own durable queue, each event applied once.

    class DisputesService(RegistryEventHandlers, OpsEndpoints):
        registry_readmodel = readmodel.registry   # has apply_organization/apply_enterprise

The handlers hand every organization event to ``apply_registry_organization`` and every
enterprise event to ``apply_registry_enterprise``; by default these call
``registry_readmodel.apply_organization(session, data, as_of)`` (resp. ``apply_enterprise``)
through ``db.apply_once``, with ``as_of`` the time the registry took the snapshot. A
service whose projection does more (membership moves join-rate counters) overrides them.
The handler names, hence the queue names, are the ones the services always had.
"""

from datetime import datetime

from shared.consumers import event_handler


def event_time(event) -> datetime:
    """When the registry took the snapshot an event carries (its envelope's time)."""
    return datetime.fromisoformat(event.time)


class RegistryEventHandlers:
    registry_readmodel = None  # the service's RegistryReadModel (or a module like one)

    def apply_registry_organization(self, event):
        self.db.apply_once(event, self.registry_readmodel.apply_organization,
                           event_time(event))

    def apply_registry_enterprise(self, event):
        self.db.apply_once(event, self.registry_readmodel.apply_enterprise, event_time(event))

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
