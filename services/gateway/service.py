"""The HTTP gateway: the one public door, JSON over HTTP, in front of the services' RPC.

How it is put together (and how to add another backing service)::

    class GatewayService(MembershipRoutes, RegistryRoutes, UserRoutes, OpsEndpoints):
        membership_rpc = BackendRpc("membership")       # 1. a proxy for the service
        ...

1. Write ``services/gateway/routes/<service>.py`` with a mixin class ``<Service>Routes``
   whose methods are declared with ``@route(...)`` (``services.gateway.api``): method,
   URL under ``/api/v1``, tag, access (``PUBLIC``, ``TOKEN``, ``auth.READ``, ``WRITE``,
   ``MANAGE_USERS``), request/response marshmallow schemas and any extra error codes.
   The decorator makes the nameko HTTP entrypoint (RFC 9457 problem+json errors, body
   size cap, ``Cache-Control: no-store``) and records the documentation; ``body_example``
   and ``response_example`` document examples (else they are made from the schemas, so
   give fields ``metadata={"example": ...}`` where a made-up value would look wrong).
2. In each method: ``user = self.auth.user(request, WRITE)`` (401 without a valid token,
   403 if the role may not write), then ``auth.require_scope(user, path)`` (403) where
   ``path`` is the target's organization path (district .. target) as the owning
   service reports it (``RegistryRoutes._organization_for`` / ``_enterprise_for`` fetch
   and check an organization or enterprise); ``read_json(request, Schema())`` for
   bodies (400, or 415 when not sent as JSON). The backend's ``shared.errors`` pass
   through as themselves (404, 409...); an unreachable or silent backend is a 503
   (``BackendRpc``).
3. Add the mixin to ``GatewayService``'s bases and its ``BackendRpc`` attribute below.
   ``/openapi.json`` then documents the new paths, schemas and error responses by itself
   (``services.gateway.openapi``), and the tests in ``tests/gateway/test_openapi.py``
   check that every HTTP entrypoint is documented, every body has a valid example, every
   error is the shared ``Problem`` and every list pages by cursor (``shared.paging``);
   ``test_api.py`` throws garbage at every route it finds there.

Unknown paths get the 404 problem (or 405 for a known path with another method) from the
catch-all route at the bottom. ``/docs`` shows ``/openapi.json`` in Swagger UI, served from
the pinned ``swagger-ui-bundle-v2`` package (no internet needed), and each problem ``type``
(``/problems/not-found``...) is a page saying what it means.
"""

from functools import cache
from pathlib import Path

from werkzeug.wrappers import Response

from services.gateway import openapi
from services.gateway.api import ANY_METHOD, PUBLIC, ApiEntrypoint, ApiRoute, route, unmatched
from services.gateway.dependencies import Auth, BackendRpc
from services.gateway.routes.competitions import CompetitionsRoutes
from services.gateway.routes.console import ConsoleRoutes
from services.gateway.routes.disputes import DisputesRoutes
from services.gateway.routes.figures_pages import FiguresPages
from services.gateway.routes.incubation import IncubationRoutes
from services.gateway.routes.membership import MembershipRoutes
from services.gateway.routes.notifications import NotificationsRoutes
from services.gateway.routes.officer_pages import OfficerPages
from services.gateway.routes.registry import RegistryRoutes
from services.gateway.routes.signin import SignInRoutes
from services.gateway.routes.statistics_pages import StatisticsPages
from services.gateway.routes.users import UserRoutes
from services.gateway.routes.users_pages import UsersPages
from services.gateway.schemas import HealthSchema, ReadinessSchema
from shared.dependencies import Database, Metrics
from shared.errors import NotFound
from shared.web import OpsEndpoints, json_response

MIGRATIONS = Path(__file__).parent / "migrations"

METRICS_EXAMPLE = ('# HELP gonghui_http_requests_total HTTP requests by route and status class\n'
                   '# TYPE gonghui_http_requests_total counter\n'
                   'gonghui_http_requests_total{route="/healthz",service="gateway",'
                   'status="2xx"} 3.0\n')


def _page(description, media, example):
    """``extra`` documenting a 200 answer that is not JSON."""
    return {"responses": {"200": {"description": description, "content": {
        media: {"schema": {"type": "string"}, "example": example}}}}}


# OpsEndpoints (shared by every service) are not declared with @route; documented here.
OPS_ROUTES = [
    ApiRoute("GET", "/healthz", summary="The process is alive: not wedged with every "
                                        "worker busy and none finishing (else a 503 problem)",
             tag="ops", access=PUBLIC, backend=False, errors=(503,), response=HealthSchema),
    ApiRoute("GET", "/readyz", summary="A worker free within 2 s, database and broker "
                                       "reachable (a 503 problem, with the same checks, "
                                       "when not)",
             tag="ops", access=PUBLIC, backend=False, errors=(503,), response=ReadinessSchema),
    ApiRoute("GET", "/metrics", summary="Prometheus metrics (text exposition format)",
             tag="ops", access=PUBLIC, backend=False,
             extra=_page("Prometheus text format", "text/plain", METRICS_EXAMPLE)),
]


class GatewayService(ConsoleRoutes, StatisticsPages, FiguresPages, UsersPages, OfficerPages,
                     CompetitionsRoutes, IncubationRoutes, NotificationsRoutes,
                     DisputesRoutes, MembershipRoutes, RegistryRoutes, UserRoutes,
                     SignInRoutes, OpsEndpoints):
    name = "gateway"
    api_tags = [{"name": "ops", "description": "Health, readiness, metrics, this document and "
                                              "its page, the problem types."}]

    probe_workers = True  # every request takes a worker: the probes check one can be had
    db = Database(MIGRATIONS)  # users and hashed tokens
    auth = Auth()
    metrics = Metrics()
    registry_rpc = BackendRpc("registry")
    disputes_rpc = BackendRpc("disputes")
    membership_rpc = BackendRpc("membership")
    notifications_rpc = BackendRpc("notifications")
    competitions_rpc = BackendRpc("competitions")
    incubation_rpc = BackendRpc("incubation")

    @route("GET", "/openapi.json", tag="ops", access=PUBLIC, backend=False,
           summary="This OpenAPI 3.1 document")
    def openapi_json(self, request):
        return json_response(openapi_document())

    @route("GET", "/docs", tag="ops", access=PUBLIC, backend=False,
           summary="This document as a page (Swagger UI)",
           extra=_page("Swagger UI on /openapi.json", "text/html", "<!DOCTYPE html>..."))
    def docs(self, request):
        return Response(openapi.DOCS_PAGE, mimetype="text/html", headers=openapi.DOCS_HEADERS)

    @route("GET", "/docs/<asset>", tag="ops", access=PUBLIC, backend=False,
           summary="The scripts, styles and icons of /docs",
           extra=_page("the file", "text/javascript", "window.addEventListener(...)"))
    def docs_asset(self, request, asset):
        found = openapi.docs_asset(asset)
        if found is None:
            raise NotFound(f"/docs has no file {asset[:100]}")
        content, media_type = found
        return Response(content, mimetype=media_type,
                        headers={"Cache-Control": openapi.ASSET_CACHE,
                                 "X-Content-Type-Options": "nosniff"})

    @route("GET", "/problems/<slug>", tag="ops", access=PUBLIC, backend=False,
           summary="What a problem type (the `type` of an error) means",
           extra=_page("a page about the problem type", "text/html",
                       "<!DOCTYPE html>...<h1>Not found</h1>..."))
    def problem_type(self, request, slug):
        page = openapi.problem_page(slug)
        if page is None:
            raise NotFound(f"no problem type {slug[:100]}")
        return Response(page, mimetype="text/html", headers=openapi.DOCS_HEADERS)

    @ApiEntrypoint.decorator(ANY_METHOD, "/<path:path>")
    def unknown_route(self, request, path=""):
        raise unmatched(type(self), request.method, request.path)

    unknown_route.catch_all = True


@cache
def openapi_document() -> dict:
    return openapi.build(GatewayService, extra=OPS_ROUTES)
