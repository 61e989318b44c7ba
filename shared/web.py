"""HTTP for every service: RFC 9457 problem details for errors, JSON helpers, ops endpoints.

Errors: a ``shared.errors`` class raised in a route (or in the service it called) is
answered with its status as ``application/problem+json`` (``ServiceError.problem``), the
request path as ``instance``, a 429 also with a ``Retry-After`` header; anything else is a
500 problem with no internals in it. A request no route takes gets a 404 or 405 problem
from the web server itself (``ProblemWebServer``), in every service.
"""

import json
import logging
import math
import re
import time
from collections import Counter
from functools import partial
from urllib.parse import quote

import eventlet
from eventlet.event import Event
from kombu import Connection
from marshmallow import ValidationError
from nameko.dependency_providers import Config
from nameko.exceptions import deserialize_to_instance
from nameko.extensions import Entrypoint
from nameko.web.handlers import HttpRequestHandler
from nameko.web.server import HttpOnlyProtocol, WebServer, WsgiApp
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from werkzeug.exceptions import HTTPException
from werkzeug.exceptions import MethodNotAllowed as HTTPMethodNotAllowed
from werkzeug.exceptions import NotFound as HTTPNotFound
from werkzeug.routing import IntegerConverter, Map
from werkzeug.wrappers import Request, Response

from shared import errors
from shared.consumers import dead_letter_depth
from shared.metrics import HTTP_REQUESTS, HTTP_SECONDS, HTTP_SLOW_CLIENTS

log = logging.getLogger(__name__)

# Errors raised in one service arrive in the caller as the same type, not RemoteError.
for _error in (errors.ServiceError, *errors.ALL_ERRORS, *errors.RPC_ONLY_ERRORS):
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
    a body sent as anything but UTF-8 JSON (``text/plain``, no Content-Type, a charset
    other than UTF-8...) is a 415."""
    raw = request.get_data(cache=True)
    if not raw:
        raise errors.InvalidInput("request body is empty; send a JSON object")
    if not is_json(request.mimetype):
        raise errors.UnsupportedMediaType(
            f"send the body as application/json, not "
            f"{request.mimetype[:100] or 'without a Content-Type'}",
            {"accepted": ["application/json"]})
    charset = request.mimetype_params.get("charset", "utf-8").lower()
    if charset not in ("utf-8", "utf8"):
        raise errors.UnsupportedMediaType(
            f"send the body in UTF-8, not {charset[:40]}", {"accepted": ["application/json"]})
    body = parse_json(raw)
    if schema is None:
        return body
    if not isinstance(body, dict | list):
        raise errors.InvalidInput("request body must be a JSON object")
    try:
        return schema.load(body, partial=partial)
    except ValidationError as exc:
        raise errors.from_validation_error(exc) from None


MAX_JSON_DEPTH = 32  # the deepest body any route takes is 4 levels
INT64 = 2**63 - 1  # what every database column and path id holds
_SURROGATE = re.compile("[\ud800-\udfff]")


def _json_int(text: str) -> int:
    # Checked on the digits before converting: Python refuses over 4,300 digits with a
    # ValueError of its own, and anything past 64 bits would overflow a column later.
    if len(text.lstrip("-")) > 19 or abs(value := int(text)) > INT64:
        raise ValueError(f"integer {text[:20]}... is out of range (at most 64 bits)")
    return value


def _json_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"number {text[:20]} is out of range")
    return value


def _json_constant(name: str):
    raise ValueError(f"{name} is not JSON")


def parse_json(raw: bytes):
    """``raw`` as JSON, strictly: UTF-8 only (``json.loads`` would guess UTF-16 or 32 from
    the bytes), at most ``MAX_JSON_DEPTH`` levels deep, integers within 64 bits, finite
    numbers, no lone surrogates (``"\\ud800"`` cannot be stored or sent as UTF-8).
    Any other body is an ``InvalidInput``, never a 500."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise errors.InvalidInput(f"request body is not UTF-8: {exc.reason} at byte "
                                  f"{exc.start}") from None
    try:
        body = json.loads(text, parse_int=_json_int, parse_float=_json_float,
                          parse_constant=_json_constant)
    except RecursionError:
        raise errors.InvalidInput(f"request body is nested more than {MAX_JSON_DEPTH} "
                                  f"levels deep") from None
    except ValueError as exc:  # JSONDecodeError, or what the parse_* hooks raised
        raise errors.InvalidInput(f"request body is not valid JSON: {str(exc)[:200]}") from None
    _check_json_value(body)
    return body


def _check_json_value(body):
    """Depth and surrogates, walked without recursion."""
    pending = [(body, 1)]
    while pending:
        value, depth = pending.pop()
        if isinstance(value, str):
            if _SURROGATE.search(value):
                raise errors.InvalidInput("request body holds a lone surrogate (\\ud800-"
                                          "\\udfff), which is not a character")
            continue
        if not isinstance(value, dict | list):
            continue
        if depth > MAX_JSON_DEPTH:
            raise errors.InvalidInput(f"request body is nested more than {MAX_JSON_DEPTH} "
                                      f"levels deep")
        if isinstance(value, dict):
            pending.extend((key, depth) for key in value)
            value = value.values()
        pending.extend((item, depth + 1) for item in value)


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


def _at_most(digits: str) -> str:
    """A regular expression for the decimal numbers from 0 to ``digits``."""
    shorter = [rf"\d{{1,{len(digits) - 1}}}"] if len(digits) > 1 else []
    below = [f"{digits[:i]}[0-{int(d) - 1}]" + (rf"\d{{{len(digits) - i - 1}}}"
                                              if i < len(digits) - 1 else "")
             for i, d in enumerate(digits) if d != "0"]
    return "|".join([*shorter, *below, digits])


class Int64Converter(IntegerConverter):
    """``<int:id>`` up to 2**63 - 1: a larger id does not match the path (a 404), rather
    than overflowing a database column. Checked in the pattern, not in ``to_python``:
    werkzeug turns a converter's refusal into a 405 when another method has the path."""

    regex = f"(?:{_at_most(str(INT64))})"


URL_CONVERTERS = {"int": Int64Converter}


# The access log names neither who asked (the client's address) nor when (eventlet's
# own timestamp): the log handler stamps each line anyway. Routes an anonymous informant
# uses are not logged per request at all, only counted (``HTTP_REQUESTS``): a line's
# time could be matched with a report's ``received_at``.
ACCESS_LOG_FORMAT = '"%(request_line)s" %(status_code)s %(body_length)s %(wall_seconds).6f'
UNLOGGED_ROUTES = ("POST /api/v1/disputes/reports", "POST /api/v1/disputes/receipts/",
                   "GET /disputes/report")


class _QuietAccessLog(logging.LoggerAdapter):
    def info(self, msg, *args, **kwargs):
        if isinstance(msg, str) and msg.startswith('"') and \
                msg[1:].startswith(UNLOGGED_ROUTES):
            return
        self.logger.info(msg, *args, **kwargs)


READ_TIMEOUT = 5.0  # seconds for a request's head and body (HTTP_READ_TIMEOUT)
CONNECTIONS_PER_CLIENT = 32  # open at once per client address (HTTP_CONNECTIONS_PER_CLIENT)
SOCKET_TIMEOUT = 60.0  # any one send or receive: a client that stops reading its answer
READ_DEADLINE = "gonghui.read_deadline"  # environ: time.monotonic() the body must be in by
CLOSE_CONNECTION = "gonghui.close_connection"  # environ: call to close after this answer
_TIMED_OUT = (b"HTTP/1.1 408 Request Timeout\r\nConnection: close\r\n"
              b"Content-Length: 0\r\n\r\n")
_TOO_MANY = json.dumps(errors.TooManyRequests(
    "too many connections from your address at once", {"retry_after": 1}).problem()).encode()
_REFUSED = (b"HTTP/1.1 429 Too Many Requests\r\nConnection: close\r\nRetry-After: 1\r\n"
            b"Content-Type: application/problem+json\r\nContent-Length: %d\r\n\r\n%s"
            % (len(_TOO_MANY), _TOO_MANY))


def trusted_proxies(config) -> frozenset:
    """``GATEWAY_TRUSTED_PROXIES``: the addresses (comma-separated, or a list in the
    nameko config) of the proxies in front of the gateway whose ``X-Forwarded-Proto``
    and ``X-Forwarded-For`` it believes; none by default."""
    value = config.get("GATEWAY_TRUSTED_PROXIES") or ""
    parts = value.split(",") if isinstance(value, str) else value
    return frozenset(part.strip() for part in parts if part.strip())


def client_address(request, proxies: frozenset) -> str | None:
    """Who is on the other end, for per-address limits: the peer itself, unless the peer
    is a trusted proxy; then the nearest address in ``X-Forwarded-For`` that is not one
    of ours (read from the right: the left part is whatever the client chose to send)."""
    peer = request.remote_addr
    if peer not in proxies:
        return peer
    hops = [hop.strip() for hop in request.headers.get("X-Forwarded-For", "").split(",")]
    hops = [hop for hop in hops if hop]
    for hop in reversed(hops):
        if hop not in proxies:
            return hop[:64]
    return hops[0][:64] if hops else peer


class ClientSlots:
    """How many connections (through a trusted proxy: requests) each client has open, up
    to ``limit``: one client's slow or idle connections cannot take every socket."""

    def __init__(self, limit: int):
        self.limit = limit
        self.open = Counter()

    def take(self, client: str) -> bool:
        if self.open[client] >= self.limit:
            return False
        self.open[client] += 1
        return True

    def give_back(self, client: str) -> None:
        self.open[client] -= 1
        if self.open[client] <= 0:
            del self.open[client]


class DeadlineProtocol(HttpOnlyProtocol):
    """eventlet's HTTP/1.1 connection handler with a deadline on every request it reads.

    eventlet.wsgi waits as long as a client likes for a request line and headers (nameko
    sets no socket timeout), and the body is read by whoever reads it: nameko's worker,
    in a route. Ten clients declaring a body and sending five bytes of it held all ten
    workers of the gateway (issue 12). Here, from the moment a connection is ready for a
    request (accepted, or the previous answer sent: an idle keep-alive counts, as in
    Apache's KeepAliveTimeout), the head must arrive within ``read_timeout`` or the
    connection is closed (a 408 if part of a request came); the body keeps the same
    deadline (``READ_DEADLINE``), and ``HttpEntrypoint`` reads it before taking a worker.
    """

    def handle_one_request(self):
        self.raw_requestline = b""
        self._read_deadline = time.monotonic() + self.server.read_timeout
        self._head_timer = eventlet.Timeout(self.server.read_timeout)
        try:
            super().handle_one_request()
        except eventlet.Timeout as exc:
            if exc is not self._head_timer:
                raise
            self.close_connection = 1
            if self.raw_requestline:  # idle keep-alives just close
                HTTP_SLOW_CLIENTS.labels(self.server.service_name, "head").inc()
                try:
                    self.wfile.write(_TIMED_OUT)
                    self.wfile.flush()
                except OSError:
                    pass
        finally:
            self._head_timer.cancel()

    def get_environ(self):
        self._head_timer.cancel()  # the head is in; the application runs without it
        environ = super().get_environ()
        environ[READ_DEADLINE] = self._read_deadline
        environ[CLOSE_CONNECTION] = self._close_after_answer
        return environ

    def _close_after_answer(self):
        self.close_connection = 1  # eventlet then skips reading what is left of the body


class ProblemWebServer(WebServer):
    """nameko's web server with problem answers for unknown routes, a read deadline on
    every request (``DeadlineProtocol``, ``HTTP_READ_TIMEOUT``) and at most
    ``HTTP_CONNECTIONS_PER_CLIENT`` connections open per client address: slow clients
    cost a connection each, never a worker, and one address cannot take them all. A
    connection from a proxy in ``GATEWAY_TRUSTED_PROXIES`` carries many clients, so
    there the limit counts each forwarded client's requests (``HttpEntrypoint``)."""

    def setup(self):
        config = self.container.config
        self.read_timeout = float(config.get("HTTP_READ_TIMEOUT", READ_TIMEOUT))
        self.clients = ClientSlots(int(config.get("HTTP_CONNECTIONS_PER_CLIENT",
                                                  CONNECTIONS_PER_CLIENT)))
        self.trusted_proxies = trusted_proxies(config)

    def get_wsgi_app(self):
        return ProblemWsgiApp(self)

    def make_url_map(self):
        url_map = Map(converters=URL_CONVERTERS)
        for provider in self._providers:  # as nameko's, with the converters
            rule = provider.get_url_rule()
            rule.endpoint = provider
            url_map.add(rule)
        return url_map

    def get_wsgi_server(self, sock, wsgi_app, protocol=DeadlineProtocol, debug=False):
        server = super().get_wsgi_server(sock, wsgi_app, protocol=protocol, debug=debug)
        server.log_format = ACCESS_LOG_FORMAT
        server.log = _QuietAccessLog(server.log, {})
        server.socket_timeout = SOCKET_TIMEOUT
        server.read_timeout = self.read_timeout
        server.service_name = self.container.service_name
        return server


    def run(self):
        while self._is_accepting:
            sock, address = self._sock.accept()
            sock.settimeout(self._serv.socket_timeout)
            held = None if address[0] in self.trusted_proxies else address[0]
            if held is not None and not self.clients.take(held):
                HTTP_SLOW_CLIENTS.labels(self.container.service_name, "refused").inc()
                self.container.spawn_managed_thread(partial(_refuse, sock))
                continue
            self.container.spawn_managed_thread(partial(self._serve, sock, address, held))

    def _serve(self, sock, address, held):
        try:
            self.process_request(sock, address)
        finally:
            if held is not None:
                self.clients.give_back(held)


def _refuse(sock):
    """A 429 to a connection over its client's limit, then close (never raises: an
    error in a managed thread would kill the container)."""
    try:
        sock.settimeout(1)
        sock.sendall(_REFUSED)
    except OSError:
        pass
    finally:
        sock.close()


class HttpEntrypoint(HttpRequestHandler):
    """nameko's ``@http`` with problem details for errors, and request metrics."""

    server = ProblemWebServer()

    def handle_request(self, request):
        # Before waiting for a worker: a deadline counted from here includes that wait.
        request.environ[RECEIVED_AT] = time.monotonic()
        server = self.server
        proxied = request.remote_addr in server.trusted_proxies
        client = client_address(request, server.trusted_proxies) if proxied else None
        if client is not None and not server.clients.take(client):
            HTTP_SLOW_CLIENTS.labels(self.container.service_name, "refused").inc()
            response = problem_response(errors.TooManyRequests(
                "too many requests from your address at once", {"retry_after": 1}))
        else:
            try:
                response = self.read_body(request) or self.respond(request)
            finally:
                if client is not None:
                    server.clients.give_back(client)
        if isinstance(response, ProblemResponse):
            response.at(request)
        HTTP_REQUESTS.labels(self.container.service_name, self.url,
                             f"{response.status_code // 100}xx").inc()
        HTTP_SECONDS.labels(self.container.service_name, self.url).observe(
            time.monotonic() - request.environ[RECEIVED_AT])
        return response

    def respond(self, request):
        return super().handle_request(request)

    def read_body(self, request):
        """Read the declared body here, in the connection's green thread, by the request's
        read deadline (``DeadlineProtocol``): a worker is taken only for a request that is
        all in. None when it is; else the answer (408, the connection then closed)."""
        deadline = request.environ.get(READ_DEADLINE)
        if not request.content_length or deadline is None:
            return None
        request.shallow = False
        timer = eventlet.Timeout(max(deadline - time.monotonic(), 0.001))
        try:
            request.get_data(cache=True)
        except eventlet.Timeout as exc:
            if exc is not timer:
                raise
            request.environ[CLOSE_CONNECTION]()  # the rest of the body may still come
            HTTP_SLOW_CLIENTS.labels(self.container.service_name, "body").inc()
            return problem_response(errors.RequestTimeout(
                "the request body did not arrive in time", {"content_length":
                                                             request.content_length}))
        except HTTPException:  # the client went away mid-body (werkzeug's 400)
            request.environ[CLOSE_CONNECTION]()
            return problem_response(errors.InvalidInput("the request body ended early"))
        finally:
            timer.cancel()
        return None

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


class WorkerProbe(Entrypoint):
    """An entrypoint only the probes use: /readyz runs its no-op method in a worker of the
    service's pool, so a ready answer proves a request would get a worker."""


PROBE_WORKER_SECONDS = 2.0  # a readiness probe waits this long for a worker
STALL_SECONDS = 30.0  # GATEWAY_STALL_SECONDS: longer than any request the gateway serves


def worker_available(container, seconds: float) -> bool:
    """Whether a worker of ``container`` ran the probe's no-op within ``seconds``."""
    probe = next(entrypoint for entrypoint in container.entrypoints
                 if isinstance(entrypoint, WorkerProbe))
    done = Event()

    def finished(worker_ctx, result, exc_info):
        done.send()
        return result, exc_info

    timer = eventlet.Timeout(seconds)
    try:
        container.spawn_worker(probe, (), {}, handle_result=finished)  # waits for a slot
        done.wait()
        return True
    except eventlet.Timeout as exc:
        if exc is not timer:
            raise
        return False
    finally:
        timer.cancel()


class OpsEndpoints:
    """Mixin: /metrics, /healthz (process alive), /readyz (database and broker reachable;
    else a 503 problem with the same ``checks``), answered even while every worker is busy
    (``OpsEntrypoint``): a busy backend digesting a backlog is not restarted for it.

    A service whose workers are what it serves (the gateway: every HTTP request takes
    one) sets ``probe_workers = True``: /readyz then also runs a no-op in a worker
    (``WorkerProbe``; not ready if none is free within ``PROBE_WORKER_SECONDS``, so the
    load balancer stops sending to a saturated gateway), and /healthz fails while every
    worker is busy and none has finished for ``GATEWAY_STALL_SECONDS`` (wedged: a restart
    is what helps).

    The service class must have a ``db`` dependency (``shared.dependencies.Database``).
    """

    config = Config()
    probe_workers = False

    @WorkerProbe.decorator
    def worker_probe(self):
        return None

    @staticmethod
    @ops_route("GET", "/healthz")
    def healthz(container, request):
        if container.service_cls.probe_workers:
            stall = float(container.config.get("GATEWAY_STALL_SECONDS", STALL_SECONDS))
            if container.workers_stalled(stall):
                raise errors.Unavailable(
                    f"wedged: all {container.max_workers} workers busy and none finished "
                    f"for {stall:g}s", {"service": container.service_name})
        return json_response({"status": "ok", "service": container.service_name})

    @staticmethod
    @ops_route("GET", "/readyz")
    def readyz(container, request):
        checks = {}
        if container.service_cls.probe_workers:
            checks["workers"] = worker_available(container, PROBE_WORKER_SECONDS)
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
        down = [name for name in ("workers", "database", "broker")
                if checks.get(name, True) is not True]
        if down:  # a 503 problem, the checks as members
            raise errors.Unavailable(f"not ready: {' and '.join(down)} unavailable",
                                     {"ready": False, "checks": checks})
        return json_response({"ready": True, "checks": checks})

    @staticmethod
    @ops_route("GET", "/metrics")
    def metrics_endpoint(container, request):
        try:
            dead_letter_depth(container.config["AMQP_URI"], container.service_name)
        except Exception:  # noqa: BLE001 - metrics must render while the broker is down
            log.warning("dead-letter depth unavailable: broker unreachable")
        try:
            dependency_provider(container, "db").measure()
        except Exception:  # noqa: BLE001 - nor may a database outage keep it from rendering
            log.warning("database gauges unavailable: database unreachable", exc_info=True)
        return Response(generate_latest(), headers={"Content-Type": CONTENT_TYPE_LATEST})
