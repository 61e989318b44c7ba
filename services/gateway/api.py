"""``@route``: one decorator that makes an HTTP entrypoint and documents it for OpenAPI.

    @route("GET", "/api/v1/enterprises/<credit_code>", tag="enterprises",
           summary="One enterprise", access=READ, response=EnterpriseOutSchema)
    def get_enterprise(self, request, credit_code):
        ...

The entrypoint is ``shared.web.http`` (problem+json errors, metrics) plus two guards every API
route needs: a cap on the request body (413 before reading it; the bulk import gets a
larger one) and ``Cache-Control: no-store`` (answers may hold personal data). The
documentation (``ApiRoute``) stays on the function, where ``openapi.build`` finds it.
"""

import re
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from marshmallow import Schema
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge
from werkzeug.exceptions import MethodNotAllowed as HTTPMethodNotAllowed
from werkzeug.routing import Map, Rule

from shared.errors import LengthRequired, NotFound, PayloadTooLarge, ServiceError
from shared.web import URL_CONVERTERS, HttpEntrypoint, no_route, problem_response

# Methods that change nothing: a lost answer costs nothing but a retry.
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

MAX_BODY = 64 * 1024  # a single organization or enterprise is far smaller
ANY_METHOD = "*"  # an entrypoint for every method, the catch-all's
PUBLIC = None  # access: no token needed
TOKEN = "token"  # access: any valid token, no scope


@dataclass(frozen=True)
class ApiRoute:
    method: str
    url: str  # werkzeug rule, e.g. /api/v1/organizations/<code>
    summary: str
    tag: str
    access: str | None  # PUBLIC, TOKEN, or an auth permission (READ, WRITE, MANAGE_USERS)
    description: str = ""
    body: Schema | type[Schema] | None = None
    query: type[Schema] | None = None
    response: Schema | type[Schema] | None = None
    body_example: Any = None  # documented examples; else made from the schemas (openapi)
    response_example: Any = None
    status: int = 200
    errors: tuple[int, ...] = ()  # besides those implied by access, body and parameters
    backend: bool = True  # calls another service, so may answer 503
    idempotent: bool = False  # takes an Idempotency-Key (shared.idempotency)
    max_body: int = MAX_BODY
    extra: dict = field(default_factory=dict)  # merged into the OpenAPI operation

    @property
    def path_parameters(self) -> list[tuple[str, str]]:
        """(name, converter) of each ``<converter:name>`` in the rule."""
        return [(name, conv or "string")
                for conv, name in re.findall(r"<(?:(\w+):)?(\w+)>", self.url)]

    @property
    def openapi_path(self) -> str:
        return re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", self.url)


class ApiEntrypoint(HttpEntrypoint):
    def __init__(self, method, url, max_body=MAX_BODY, **kwargs):
        self.max_body = max_body
        # A client's mistake is logged by nameko as a warning, not as an error.
        kwargs.setdefault("expected_exceptions", ServiceError)
        super().__init__(method, url, **kwargs)

    def get_url_rule(self):
        if self.method == ANY_METHOD:
            return Rule(self.url)  # TRACE, PROPFIND...: whatever a client sends
        return super().get_url_rule()

    def handle_request(self, request):
        # A declared length over the cap is refused before anything reads it. A chunked
        # body has no length, and eventlet's server does not mark its end for werkzeug,
        # which would then read it as empty: refuse it plainly instead.
        request.max_content_length = self.max_body
        if request.content_length is not None and request.content_length > self.max_body:
            response = problem_response(self._too_large(), request)
        elif "chunked" in request.headers.get("Transfer-Encoding", "").lower():
            response = problem_response(LengthRequired(
                "chunked request bodies are not accepted; send a Content-Length"), request)
        else:
            response = super().handle_request(request)
        response.headers.setdefault("Cache-Control", "no-store")
        return response

    def response_from_exception(self, exc):
        if isinstance(exc, RequestEntityTooLarge):
            exc = self._too_large()
        return super().response_from_exception(exc)

    def _too_large(self):
        return PayloadTooLarge(f"request body is larger than {self.max_body} bytes",
                               {"max_bytes": self.max_body})


def route(method, url, *, summary, tag, access, **doc):
    """Declare an API route: an ``ApiEntrypoint`` plus its ``ApiRoute`` documentation."""
    spec = ApiRoute(method=method, url=url, summary=summary, tag=tag, access=access, **doc)

    def decorate(fn):
        fn.api_route = spec
        return ApiEntrypoint.decorator(method, url, max_body=spec.max_body)(fn)

    return decorate


def api_routes(service_cls) -> list[ApiRoute]:
    """Every documented route of a service class (its mixins included), in a stable order."""
    found = []
    for name in dir(service_cls):
        spec = getattr(getattr(service_cls, name, None), "api_route", None)
        if isinstance(spec, ApiRoute):
            found.append(spec)
    return sorted(found, key=lambda spec: (spec.url, spec.method))


def http_rules(service_cls) -> list[tuple[str, str]]:
    """(methods, url) of every nameko HTTP entrypoint of a class but its catch-all."""
    rules = []
    for name in dir(service_cls):
        method = getattr(service_cls, name, None)
        if getattr(method, "catch_all", False):
            continue
        for entrypoint in getattr(method, "nameko_entrypoints", ()):
            if isinstance(getattr(entrypoint, "url", None), str):
                rules.append((entrypoint.method, entrypoint.url))
    return sorted(rules, key=lambda rule: (rule[1], rule[0]))


@cache
def _url_map(service_cls) -> Map:
    return Map([Rule(url, methods=methods.split(",")) for methods, url in
                http_rules(service_cls)], converters=URL_CONVERTERS)


def unmatched(service_cls, method: str, path: str) -> ServiceError:
    """The error for a request no route took: 405 if the path exists, else 404."""
    adapter = _url_map(service_cls).bind("gateway")
    try:
        adapter.match(path, method=method)
    except HTTPMethodNotAllowed as exc:
        return no_route(method, path, exc.valid_methods)
    except HTTPException:
        pass
    return NotFound(f"no route {method[:20]} {path[:200]}; see /openapi.json or /docs")
