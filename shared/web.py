"""HTTP for every service: one JSON error format, JSON helpers, and the ops endpoints.

Errors: ``{"error": CODE, "message": ..., "details": ...}`` with the status of the
``shared.errors`` class raised (a 429 also with a ``Retry-After`` header); anything else
is a 500 with no internals in the body.
"""

import json
import logging
import time

from kombu import Connection
from marshmallow import ValidationError
from nameko.dependency_providers import Config
from nameko.exceptions import deserialize_to_instance
from nameko.web.handlers import HttpRequestHandler
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from werkzeug.wrappers import Response

from shared import errors
from shared.consumers import dead_letter_depth
from shared.metrics import HTTP_REQUESTS

log = logging.getLogger(__name__)

# Errors raised in one service arrive in the caller as the same type, not RemoteError.
for _error in (errors.ServiceError, *errors.ALL_ERRORS):
    deserialize_to_instance(_error)

JSON = "application/json; charset=utf-8"


def json_response(data, status=200, headers=None):
    return Response(
        json.dumps(data, ensure_ascii=False, default=str),
        status=status,
        headers=headers,
        mimetype="application/json",
    )


def error_response(error: errors.ServiceError):
    return json_response(error.to_dict(), status=error.status, headers=_retry_after(error))


def _retry_after(error: errors.ServiceError) -> dict | None:
    """A 429's ``details.retry_after`` as the standard header too, for clients and proxies
    that back off on their own. After an RPC it arrives as a string (nameko's error
    serialisation), hence the conversion."""
    if not isinstance(error, errors.TooManyRequests) or not isinstance(error.details, dict):
        return None
    try:
        return {"Retry-After": str(max(1, int(error.details["retry_after"])))}
    except (KeyError, TypeError, ValueError):
        return None


def read_json(request, schema=None, partial=False):
    """The request body as loaded by ``schema``; InvalidInput explains any rejection."""
    raw = request.get_data(cache=True)
    if not raw:
        raise errors.InvalidInput("request body is empty; send a JSON object")
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


def read_query(request, schema):
    try:
        return schema.load(request.args.to_dict())
    except ValidationError as exc:
        raise errors.from_validation_error(exc, "query parameters rejected") from None


RECEIVED_AT = "gonghui.received_at"  # WSGI environ key: time.monotonic() on arrival


def received_at(request) -> float | None:
    """When the kit's entrypoint took ``request`` (``time.monotonic()``)."""
    return request.environ.get(RECEIVED_AT)


class HttpEntrypoint(HttpRequestHandler):
    """nameko's ``@http`` with the project's error format and request metrics."""

    def handle_request(self, request):
        # Before waiting for a worker: a deadline counted from here includes that wait.
        request.environ[RECEIVED_AT] = time.monotonic()
        response = self.respond(request)
        HTTP_REQUESTS.labels(self.container.service_name, self.url,
                             f"{response.status_code // 100}xx").inc()
        return response

    def respond(self, request):
        return super().handle_request(request)

    def response_from_exception(self, exc):
        if isinstance(exc, errors.ServiceError):
            return error_response(exc)
        log.exception("unexpected error in %s %s", self.method, self.url, exc_info=exc)
        return json_response(
            {"error": "INTERNAL", "message": "unexpected error; it has been logged",
             "details": None},
            status=500,
        )


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
    """Mixin: /metrics, /healthz (process alive), /readyz (database and broker reachable),
    answered even while every worker is busy (``OpsEntrypoint``).

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
        ready = checks["database"] is True and checks["broker"] is True
        return json_response({"ready": ready, "checks": checks}, status=200 if ready else 503)

    @staticmethod
    @ops_route("GET", "/metrics")
    def metrics_endpoint(container, request):
        try:
            dead_letter_depth(container.config["AMQP_URI"], container.service_name)
        except Exception:  # noqa: BLE001 - metrics must render while the broker is down
            log.warning("dead-letter depth unavailable: broker unreachable")
        return Response(generate_latest(), headers={"Content-Type": CONTENT_TYPE_LATEST})
