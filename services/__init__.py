"""The services. Each runs in its own process (``python -m services.serve <name>``)."""

import warnings
from importlib import import_module

# eventlet announces its bugfix-only status on import; nameko 2.x needs it regardless, and
# the banner would bury the CLI's own one-line messages.
warnings.filterwarnings("ignore", message=r"\s*Eventlet is deprecated")

# name -> "module:Class"; the order is the start order of `gonghui up`.
SERVICES = {
    "registry": "services.registry.service:RegistryService",
    "membership": "services.membership.service:MembershipService",
    "disputes": "services.disputes.service:DisputesService",
    "notifications": "services.notifications.service:NotificationsService",
    "competitions": "services.competitions.service:CompetitionsService",
    "incubation": "services.incubation.service:IncubationService",
    "gateway": "services.gateway.service:GatewayService",
}


def service_class(name: str):
    try:
        path = SERVICES[name]
    except KeyError:
        raise SystemExit(f"unknown service {name!r}; known: {', '.join(SERVICES)}") from None
    module, _, cls = path.partition(":")
    return getattr(import_module(module), cls)


def event_consumers() -> list[dict]:
    """Every service's event handlers: who consumes which event through which queue (the
    receive operations of asyncapi.yaml), read off the service classes."""
    from shared.config import service_config
    from shared.consumers import consumers

    return [consumer for name in SERVICES
            for consumer in consumers(service_class(name), service_config(name, env={}))]
