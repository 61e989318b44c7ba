"""The HTTP gateway: the one public door, JSON over HTTP, in front of the services' RPC.

How it is put together (and how to add another backing service)::

    class GatewayService(MembershipRoutes, RegistryRoutes, UserRoutes, OpsEndpoints):
        membership_rpc = BackendRpc("membership")       # 1. a proxy for the service
        ...

1. Write ``services/gateway/routes/<service>.py`` with a mixin class ``<Service>Routes``
   whose methods are declared with ``@route(...)`` (``services.gateway.api``): method,
   URL under ``/api/v1``, tag, access (``PUBLIC``, ``TOKEN``, ``auth.READ``, ``WRITE``,
   ``MANAGE_USERS``), request/response marshmallow schemas and any extra error codes.
   The decorator makes the nameko HTTP entrypoint (JSON errors, body size cap,
   ``Cache-Control: no-store``) and records the documentation.
2. In each method: ``user = self.auth.user(request, WRITE)`` (401 without a valid token,
   403 if the role may not write), then ``auth.require_scope(user, path)`` (403) where
   ``path`` is the target's organization path (district .. target) as the owning
   service reports it (``RegistryRoutes._organization_for`` / ``_enterprise_for`` fetch
   and check an organization or enterprise); ``read_json(request, Schema())`` for
   bodies (400). The backend's ``shared.errors`` pass through as themselves (404,
   409...); an unreachable or silent backend is a 503 (``BackendRpc``).
3. Add the mixin to ``GatewayService``'s bases and its ``BackendRpc`` attribute below.
   ``/openapi.json`` then documents the new paths, schemas and error responses by itself
   (``services.gateway.openapi``), and the tests in ``tests/gateway/test_openapi.py``
   check that every HTTP entrypoint is documented; ``test_bad_input.py`` throws
   garbage at every route it finds there.

Unknown paths get the JSON 404 (or 405 for a known path with another method) from the
catch-all route at the bottom.
"""

from functools import cache
from pathlib import Path

from services.gateway import openapi
from services.gateway.api import PUBLIC, ApiEntrypoint, ApiRoute, route, unmatched
from services.gateway.dependencies import Auth, BackendRpc
from services.gateway.routes.competitions import CompetitionsRoutes
from services.gateway.routes.disputes import DisputesRoutes
from services.gateway.routes.membership import MembershipRoutes
from services.gateway.routes.notifications import NotificationsRoutes
from services.gateway.routes.registry import RegistryRoutes
from services.gateway.routes.users import UserRoutes
from shared.dependencies import Database, Metrics
from shared.web import OpsEndpoints, json_response

MIGRATIONS = Path(__file__).parent / "migrations"
ANY_METHOD = "GET,POST,PUT,PATCH,DELETE,OPTIONS"

# OpsEndpoints (shared by every service) are not declared with @route; documented here.
OPS_ROUTES = [
    ApiRoute("GET", "/healthz", summary="The process is alive", tag="ops", access=PUBLIC,
             backend=False),
    ApiRoute("GET", "/readyz", summary="Database and broker reachable (503 when not)",
             tag="ops", access=PUBLIC, backend=False, errors=(503,)),
    ApiRoute("GET", "/metrics", summary="Prometheus metrics (text exposition format)",
             tag="ops", access=PUBLIC, backend=False,
             extra={"responses": {"200": {"description": "Prometheus text format",
                                          "content": {"text/plain": {"schema": {
                                              "type": "string"}}}}}}),
]


class GatewayService(CompetitionsRoutes, NotificationsRoutes, DisputesRoutes, MembershipRoutes,
                     RegistryRoutes, UserRoutes, OpsEndpoints):
    name = "gateway"
    api_tags = [{"name": "ops", "description": "Health, readiness, metrics, this document."}]

    db = Database(MIGRATIONS)  # users and hashed tokens
    auth = Auth()
    metrics = Metrics()
    registry_rpc = BackendRpc("registry")
    disputes_rpc = BackendRpc("disputes")
    membership_rpc = BackendRpc("membership")
    notifications_rpc = BackendRpc("notifications")
    competitions_rpc = BackendRpc("competitions")

    @route("GET", "/openapi.json", tag="ops", access=PUBLIC, backend=False,
           summary="This OpenAPI 3 document")
    def openapi_json(self, request):
        return json_response(openapi_document())

    @ApiEntrypoint.decorator(ANY_METHOD, "/<path:path>")
    @ApiEntrypoint.decorator(ANY_METHOD, "/")
    def unknown_route(self, request, path=""):
        raise unmatched(type(self), request.method, request.path)

    unknown_route.catch_all = True


@cache
def openapi_document() -> dict:
    return openapi.build(GatewayService, extra=OPS_ROUTES)
