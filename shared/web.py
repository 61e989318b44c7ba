"""HTTP for every service: RFC 9457 problem details for errors, JSON helpers, ops endpoints.

Errors: a ``shared.errors`` class raised in a route (or in the service it called) is
answered with its status as ``application/problem+json`` (``ServiceError.problem``), the
request path as ``instance``, a 429 also with a ``Retry-After`` header; anything else is a
500 problem with no internals in it. A request no route takes gets a 404 or 405 problem
from the web server itself (``ProblemWebServer``), in every service.
"""

import json
import logging
import time
from urllib.parse import quote

from kombu import Connection
from marshmallow import ValidationError
from nameko.dependency_providers import Config
from nameko.exceptions import deserialize_to_instance
from nameko.web.handlers import HttpRequestHandler
from nameko.web.server import WebServer, WsgiApp
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from werkzeug.exceptions import HTTPException
from werkzeug.exceptions import MethodNotAllowed as HTTPMethodNotAllowed
from werkzeug.exceptions import NotFound as HTTPNotFound
from werkzeug.wrappers import Request, Response

from shared import errors
from shared.consumers import dead_letter_depth
from shared.metrics import HTTP_REQUESTS

log = logging.getLogger(__name__)

# Errors raised in one service arrive in the caller as the same type, not RemoteError.
for _error in (errors.ServiceError, *errors.ALL_ERRORS):
    deserialize_to_instance(_error)

JSON = "application/json; charset=utf-8"
PROBLEM_JSON = "application/problem+json"
INSTANCE_MAX = 1000  # characters of the request path kept as a problem's ``instance``


def _dumps(data) -> str:
    return json.dumps(data, ensure_ascii=False, default=str)


def json_response(data, status=200, headers=None):
    return Response(_dumps(data), status=status, headers=headers, mimetype="application/json")


class ProblemResponse(Response):
    """An error answer; ``at(request)`` names the request path as the ``instance``."""

    def __init__(self, error: errors.ServiceError, request=None):
        self.error = error
        super().__init__(status=error.status, headers=_problem_headers(error),
                         mimetype=PROBLEM_JSON)
        self.at(request)

    def at(self, request) -> "ProblemResponse":
        instance = None if request is None else quote(request.path[:INSTANCE_MAX],
                                                      safe="/!$&'()*+,;=:@")
        self.set_data(_dumps(self.error.problem(instance)))
        return self


def _problem_headers(error: errors.ServiceError) -> dict:
    """A 429's ``retry_after`` as ``Retry-After``, for clients and proxies that back off on
    their own; a 405's ``allowed`` as ``Allow`` (RFC 9110 asks for it)."""
    members = error.members()
    headers = {}
    if isinstance(error, errors.TooManyRequests) and members.get("retry_after"):
        headers["Retry-After"] = str(members["retry_after"])
    if isinstance(error, errors.MethodNotAllowed) and isinstance(members.get("allowed"), list):
        headers["Allow"] = ", ".join(members["allowed"])
    return headers


def problem_response(error: errors.ServiceError, request=None) -> ProblemResponse:
    return ProblemResponse(error, request)


def read_json(request, schema=None, partial=False):
    """The request body as loaded by ``schema``; InvalidInput explains any rejection, and
    a body sent as anything but JSON (``text/plain``, no Content-Type...) is a 415."""
    raw = request.get_data(cache=True)
    if not raw:
        raise errors.InvalidInput("request body is empty; send a JSON object")
    if not is_json(request.mimetype):
        raise errors.UnsupportedMediaType(
            f"send the body as application/json, not "
            f"{request.mimetype[:100] or 'without a Content-Type'}",
            {"accepted": ["application/json"]})
    try:
        body = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise errors.InvalidInput(f"request body is not valid JSON: {exc}") from None
    if schema is None:
        return body
    if not isinstance(body, dict | list):
        raise errors.InvalidInput("request body must be a JSON object")
    try:
        return schema.load(body, partial=partial)
    except ValidationError as exc:
        raise errors.from_validation_error(exc) from None


def is_json(mimetype: str) -> bool:
    """``application/json`` or a ``+json`` type (``application/merge-patch+json``)."""
    mimetype = (mimetype or "").lower()
    return mimetype == "application/json" or (mimetype.startswith("application/")
                                              and mimetype.endswith("+json"))


def read_query(request, schema):
    try:
        return schema.load(request.args.to_dict())
    except ValidationError as exc:
        raise errors.from_validation_error(exc, "query parameters rejected") from None


RECEIVED_AT = "gonghui.received_at"  # WSGI environ key: time.monotonic() on arrival


def received_at(request) -> float | None:
    """When the kit's entrypoint took ``request`` (``time.monotonic()``)."""
    return request.environ.get(RECEIVED_AT)


def no_route(method: str, path: str, allowed=None) -> errors.ServiceError:
    """The error for a request no route took: 405 naming the methods the path has, or 404."""
    allowed = sorted(set(allowed or ()) - {"HEAD", "OPTIONS"})
    if allowed:
        return errors.MethodNotAllowed(f"{method[:20]} is not allowed on {path[:200]}",
                                       {"allowed": allowed})
    return errors.NotFound(f"no route {method[:20]} {path[:200]}")


class ProblemWsgiApp(WsgiApp):
    """nameko's WSGI app, answering a request no rule matches with a problem, not HTML."""

    def __call__(self, environ, start_response):
        request = Request(environ, shallow=True)  # as nameko: nothing reads the body yet
        try:
            provider, values = self.url_map.bind_to_environ(environ).match()
        except (HTTPNotFound, HTTPMethodNotAllowed) as exc:
            allowed = getattr(exc, "valid_methods", None)
            response = problem_response(no_route(request.method, request.path, allowed),
                                        request)
            response.headers["Cache-Control"] = "no-store"
        except HTTPException as exc:
            response = exc  # a redirect to the canonical URL, say
        else:
            request.path_values = values
            try:
                response = provider.handle_request(request)
            except HTTPException as exc:  # as nameko
                response = exc
        return response(environ, start_response)


class ProblemWebServer(WebServer):
    def get_wsgi_app(self):
        return ProblemWsgiApp(self)


class HttpEntrypoint(HttpRequestHandler):
    """nameko's ``@http`` with problem details for errors, and request metrics."""

    server = ProblemWebServer()

    def handle_request(self, request):
        # Before waiting for a worker: a deadline counted from here includes that wait.
        request.environ[RECEIVED_AT] = time.monotonic()
        response = self.respond(request)
        if isinstance(response, ProblemResponse):
            response.at(request)
        HTTP_REQUESTS.labels(self.container.service_name, self.url,
                             f"{response.status_code // 100}xx").inc()
        return response

    def respond(self, request):
        return super().handle_request(request)

    def response_from_exception(self, exc):
        if isinstance(exc, errors.ServiceError):
            return problem_response(exc)
        log.exception("unexpected error in %s %s", self.method, self.url, exc_info=exc)
        return problem_response(errors.Internal("unexpected error; it has been logged"))


http = HttpEntrypoint.decorator


class OpsEntrypoint(HttpEntrypoint):
    """An ``@http`` route answered in the web server's own green thread, without a worker.

    Probes queued behind a full worker pool (a backlog being digested) answer late, and
    Kubernetes would restart the pod exactly when it is busy. So the decorated function
    is static, called as ``fn(container, request)``, and reads the container's config and
    dependency providers instead of worker-injected attributes.
    """

    def respond(self, request):
        answer = getattr(self.container.service_cls, self.method_name)
        try:
            return answer(self.container, request)
        except Exception as exc:  # noqa: BLE001 - same error format as any route
            return self.response_from_exception(exc)


ops_route = OpsEntrypoint.decorator


def broker_reachable(amqp_uri: str) -> bool:
    with Connection(amqp_uri, connect_timeout=2) as connection:
        connection.ensure_connection(max_retries=1)
    return True


def dependency_provider(container, attr_name):
    """The provider the service declares as ``attr_name`` (e.g. its ``Database``)."""
    for provider in container.dependencies:
        if provider.attr_name == attr_name:
            return provider
    raise LookupError(f"{container.service_name} declares no {attr_name!r} dependency")


class OpsEndpoints:
    """Mixin: /metrics, /healthz (process alive), /readyz (database and broker reachable;
    else a 503 problem with the same ``checks``), answered even while every worker is busy
    (``OpsEntrypoint``).

    The service class must have a ``db`` dependency (``shared.dependencies.Database``).
    """

    config = Config()

    @staticmethod
    @ops_route("GET", "/healthz")
    def healthz(container, request):
        return json_response({"status": "ok", "service": container.service_name})

    @staticmethod
    @ops_route("GET", "/readyz")
    def readyz(container, request):
        checks = {}
        try:
            checks["database"] = dependency_provider(container, "db").ping()
        except Exception as exc:  # noqa: BLE001 - readiness reports, never raises
            checks["database"] = False
            checks["database_error"] = str(exc)[:200]
        try:
            checks["broker"] = broker_reachable(container.config["AMQP_URI"])
        except Exception as exc:  # noqa: BLE001
            checks["broker"] = False
            checks["broker_error"] = str(exc)[:200]
        down = [name for name in ("database", "broker") if checks[name] is not True]
        if down:  # a 503 problem, the checks as members
            raise errors.Unavailable(f"not ready: {' and '.join(down)} unreachable",
                                     {"ready": False, "checks": checks})
        return json_response({"ready": True, "checks": checks})

    @staticmethod
    @ops_route("GET", "/metrics")
    def metrics_endpoint(container, request):
        try:
            dead_letter_depth(container.config["AMQP_URI"], container.service_name)
        except Exception:  # noqa: BLE001 - metrics must render while the broker is down
            log.warning("dead-letter depth unavailable: broker unreachable")
        return Response(generate_latest(), headers={"Content-Type": CONTENT_TYPE_LATEST})
