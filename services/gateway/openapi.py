"""The OpenAPI 3.1 document of the gateway, built from the routes' own declarations.

Each ``@route`` carries its schemas, access rule and extra error codes (``api.ApiRoute``);
``build(GatewayService)`` walks the class (every route mixin included), turns marshmallow
schemas into components with apispec's MarshmallowPlugin, and adds the error responses
that follow from each route's shape, every one an RFC 9457 ``Problem``
(``application/problem+json``, ``shared.errors``):

- 400 when it reads a body or query parameters; 408, 411, 413 and 415 when it reads a body;
- 401 unless public; 403 when it needs a role or scope;
- 404 when the path names something (``<code>``) or it calls another service (which may
  not know an organization, fund or call the query or body names); 503 when it calls
  another service, and 504 too when it writes (the outcome unknown);
- 400 also when the path holds a value (``<credit_code>`` may be malformed);
- 414 (from the HTTP server, no body) and 500 on every operation.

Every request and response body has an example: the route's own (``body_example``,
``response_example``), else one made from its schema (``example_for``), where a field's
``metadata={"example": ...}`` wins over what its type and validators suggest.

So a route module contributes its paths just by existing in the service class's bases.
"""

import copy
import functools
import html
import re
from re import _constants as sre  # the parser behind re (3.11+): to sample a pattern
from re import _parser as sre_parse

from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin

from services.gateway.api import PUBLIC, SAFE_METHODS, TOKEN, ApiRoute, api_routes
from services.gateway.auth import MANAGE_USERS, READ, WRITE
from shared import errors, idempotency
from shared.web import INT64, PROBLEM_JSON

OPENAPI_VERSION = "3.1.0"
BEARER = "bearerAuth"
JSON = "application/json"

# status -> (error class, when it happens); the class names the response component
ERROR_RESPONSES = {
    400: (errors.InvalidInput, "Bad JSON, a missing or invalid field, or an unknown field: "
                               "`errors` names each field and what is wrong with it."),
    401: (errors.Unauthorized, "No bearer token, or one that is unknown or revoked."),
    403: (errors.Forbidden, "The token's role may not do this, or the target lies outside "
                            "the subtree of the token's organization."),
    404: (errors.NotFound, "No such organization, enterprise, user or route."),
    405: (errors.MethodNotAllowed, "The path exists but not with this HTTP method: `allowed` "
                                   "(and the `Allow` header) name the methods it has."),
    409: (errors.Conflict, "The change contradicts the current state (duplicate code, "
                           "closed enterprise, a move into its own subtree...)."),
    408: (errors.RequestTimeout, "The body did not arrive within `HTTP_READ_TIMEOUT` seconds "
                                 "of the connection being ready for the request; the "
                                 "connection is closed."),
    411: (errors.LengthRequired, "A chunked body: send it with a Content-Length instead."),
    413: (errors.PayloadTooLarge, "The request body is over this route's size limit "
                                  "(`max_bytes`)."),
    415: (errors.UnsupportedMediaType, "The body is not sent as `application/json` (a "
                                      "`text/plain` or missing Content-Type)."),
    422: (errors.IdempotencyKeyReused, "The `Idempotency-Key` was first sent with another "
                                       "request (method, path or body): nothing was done. "
                                       "A new request takes a new key."),
    429: (errors.TooManyRequests, "Over a rate limit; `retry_after` (and the `Retry-After` "
                                  "header) say when to retry. Any route also answers it, "
                                  "before reading the request, to a connection over "
                                  "`HTTP_CONNECTIONS_PER_CLIENT` from one address."),
    500: (errors.Internal, "An unexpected error; it has been logged, the answer holds no "
                           "internals."),
    503: (errors.Unavailable, "Not done, and it never will be: a backing service was not "
                              "reached in time (`service` names it), or refused the request "
                              "as past its deadline. Safe to retry."),
    504: (errors.OutcomeUnknown, "A write was sent to a backing service (`service` names "
                                 "it) and its answer did not come back in time: it may have "
                                 "been done. Retry with the same `Idempotency-Key`: the "
                                 "answer is then the first outcome if there was one."),
}

ERROR_HEADERS = {
    405: {"Allow": {"description": "the methods this path has",
                    "schema": {"type": "string"}}},
    429: {"Retry-After": {"description": "seconds until a request will pass again "
                                         "(the same as `retry_after`)",
                          "schema": {"type": "integer", "minimum": 1}}},
}

# What each problem of ERROR_RESPONSES looks like, for its example.
ERROR_EXAMPLES = {
    400: (errors.InvalidInput("input rejected", {
        "headcount": ["Must be greater than or equal to 0."],
        "contacts": {"0": {"phone": ["Not a valid string."]}}}),
          "/api/v1/enterprises"),
    401: (errors.Unauthorized("invalid or revoked token"), "/api/v1/me"),
    403: (errors.Forbidden("the target is outside the subtree of organization "
                           "longgang.bantian.nankeng",
                           {"organization_code": "longgang.bantian.nankeng"}),
          "/api/v1/organizations/longgang.yuanshan.zhangbei/contacts"),
    404: (errors.NotFound("no organization has the code 'longgang.nowhere'"),
          "/api/v1/organizations/longgang.nowhere"),
    405: (errors.MethodNotAllowed("DELETE is not allowed on /api/v1/organizations/longgang",
                                  {"allowed": ["GET", "PATCH"]}),
          "/api/v1/organizations/longgang"),
    409: (errors.Conflict("enterprise 91440300MA5NK0001X is already registered",
                          {"credit_code": "91440300MA5NK0001X"}), "/api/v1/enterprises"),
    408: (errors.RequestTimeout("the request body did not arrive in time",
                                {"content_length": 1000}), "/api/v1/disputes/reports"),
    411: (errors.LengthRequired("chunked request bodies are not accepted; send a "
                                "Content-Length"), "/api/v1/enterprises"),
    413: (errors.PayloadTooLarge("request body is larger than 65536 bytes",
                                 {"max_bytes": 65536}), "/api/v1/enterprises"),
    415: (errors.UnsupportedMediaType("send the body as application/json, not text/plain",
                                      {"accepted": ["application/json"]}),
          "/api/v1/enterprises"),
    422: (errors.IdempotencyKeyReused("this Idempotency-Key was sent with another request; use "
                                      "a new key for a new request"),
          "/api/v1/disputes/reports"),
    429: (errors.TooManyRequests("at most 60 per 1 min: try again in 42 s",
                                 {"scope": "caller", "limit": 60, "window_seconds": 60,
                                  "retry_after": 42}), "/api/v1/cards/check"),
    500: (errors.Internal("unexpected error; it has been logged"), "/api/v1/enterprises"),
    503: (errors.Unavailable("registry did not answer within 10s", {"service": "registry"}),
          "/api/v1/organizations/longgang"),
    504: (errors.OutcomeUnknown("disputes did not answer within 10s: the report may have "
                                "been filed; send it again with the same Idempotency-Key",
                                {"service": "disputes"}), "/api/v1/disputes/reports"),
}

PROBLEM_SCHEMA = {
    "type": "object",
    "description": "An error, as RFC 9457 problem details (`application/problem+json`). "
                   "Clients ignore members they do not know.",
    "required": ["type", "title", "status", "detail", "instance", "code"],
    "properties": {
        "type": {"type": "string", "format": "uri-reference",
                 "pattern": "^/problems/[a-z-]+$",
                 "description": "the problem type, relative to this server, where it is "
                                "described: `/problems/` and `code` in kebab case"},
        "title": {"type": "string", "description": "the problem type, for people"},
        "status": {"type": "integer", "minimum": 400, "maximum": 599,
                   "description": "the HTTP status of this answer"},
        "detail": {"type": "string", "description": "what went wrong this time, for people"},
        "instance": {"type": "string", "format": "uri-reference",
                     "description": "the path of the request"},
        "code": {"type": "string", "enum": sorted(error.code for error in errors.ALL_ERRORS),
                 "description": "the problem type as a name to switch on"},
        "errors": {"type": "array", "items": {"$ref": "#/components/schemas/FieldError"},
                   "description": "INVALID_INPUT only, and always there (maybe empty): "
                                  "each field rejected and why"},
        "retry_after": {"type": "integer", "minimum": 1,
                        "description": "TOO_MANY_REQUESTS: seconds until a request will "
                                       "pass (the `Retry-After` header too)"},
        "allowed": {"type": "array", "items": {"type": "string"},
                    "description": "METHOD_NOT_ALLOWED: the methods this path has"},
        "max_bytes": {"type": "integer", "minimum": 1,
                      "description": "PAYLOAD_TOO_LARGE: this route's body limit"},
        "accepted": {"type": "array", "items": {"type": "string"},
                     "description": "UNSUPPORTED_MEDIA_TYPE: the media types a body may have"},
        "service": {"type": "string",
                    "description": "UNAVAILABLE: the backing service that did not answer"},
    },
    "additionalProperties": {
        "description": "other members name what the error is about (`credit_code`, "
                       "`worker_id`, the `scope` and `limit` of a rate limit...)"},
}

FIELD_ERROR_SCHEMA = {
    "type": "object",
    "required": ["field", "message"],
    "properties": {
        "field": {"type": "string", "examples": ["contacts.0.phone"],
                  "description": "dotted path of the field in the body or query (list "
                                 "items by index); \"\" for the body as a whole"},
        "message": {"type": "string", "examples": ["Not a valid string."]},
    },
    "additionalProperties": False,
}

ACCESS_TEXT = {
    PUBLIC: "Public: no token needed.",
    TOKEN: "Needs a bearer token (any role).",
    READ: "Needs a bearer token (any role); the target must lie within the subtree of the "
          "token's organization.",
    WRITE: "Needs a bearer token of role staff or admin; the target (and, for creates and "
           "moves, the parent or destination) must lie within the subtree of the token's "
           "organization.",
    MANAGE_USERS: "Needs a bearer token of role admin; the user's organization must lie "
                  "within the admin's subtree.",
}

DESCRIPTION = """\
HTTP API of gonghui, district trade-union governance (Longgang model).
This document is also shown as a page at [/docs](/docs).

**Authentication.** `Authorization: Bearer <token>`. Tokens are issued by
`gonghui gateway create-user` (or `POST /api/v1/users` by an admin) and shown once.
Each token belongs to a user with a role and an organization:
`viewer` reads, `staff` reads and writes, `admin` also manages users, always
within the subtree of their organization (the organization and everything below it).

**Public data.** Without a token anyone may read an organization's card (code, name,
kind, tier, parent, path, supervising party organization), its children and its
statistics: the structure of the union tree and aggregate figures, no personal data.
Contacts, the escalation chain (which carries contacts), enterprises (headcounts,
assigned leaders) and every write need a token.

**Bodies.** Requests with a body send JSON as `Content-Type: application/json`
(anything else is a 415).

**Lists.** Every list is read a page at a time: query `limit` (1 to 500, default 100)
and `cursor` (absent for the first page); the answer is `{"items": [...],
"next_cursor": "..."}`, and `next_cursor` is null on the last page. A cursor is opaque:
send it back as it came.

**Timestamps.** Every timestamp is RFC 3339 with an offset, e.g.
`2025-03-01T09:30:00+08:00`.

**Errors.** Always RFC 9457 problem details, `application/problem+json`: `type`,
`title`, `status`, `detail`, `instance`, plus `code` (e.g. `NOT_FOUND`) and, for invalid
input, `errors: [{"field": "a.b", "message": "..."}]`; see the `Problem` schema. Each
problem type is described at its `type` URI (`/problems/not-found`...).
"""


def _operation(route: ApiRoute) -> dict:
    op = {
        "tags": [route.tag],
        "summary": route.summary,
        "description": "\n\n".join(filter(None, [route.description,
                                                  ACCESS_TEXT[route.access]])),
        "operationId": _operation_id(route),
        "security": [] if route.access is PUBLIC else [{BEARER: []}],
        "responses": {},
    }
    if route.query is not None:
        op["parameters"] = [{"in": "query", "schema": route.query}]
    if route.idempotent:
        op.setdefault("parameters", []).append(copy.deepcopy(IDEMPOTENCY_PARAMETER))
        op["description"] = "\n\n".join(filter(None, [op["description"], IDEMPOTENCY_TEXT]))
    if route.body is not None:
        media = {"schema": route.body}
        if route.body_example is not None:
            media["example"] = route.body_example
        op["requestBody"] = {"required": True, "content": {JSON: media}}
    success = {"description": "Created" if route.status == 201 else "OK"}
    if route.response is not None:
        media = {"schema": route.response}
        if route.response_example is not None:
            media["example"] = route.response_example
        success["content"] = {JSON: media}
    op["responses"][str(route.status)] = success
    for status in sorted(_error_statuses(route)):
        op["responses"][str(status)] = {"$ref": _response_ref(status)}
    op["responses"]["414"] = copy.deepcopy(URI_TOO_LONG)
    extra = copy.deepcopy(route.extra)
    op["responses"].update(extra.pop("responses", {}))
    op.update(extra)
    return op


IDEMPOTENCY_PARAMETER = {
    "in": "header", "name": idempotency.HEADER, "required": False,
    "description": "the client's own id for this request (a random UUID, say: 8-64 "
                   "letters, digits, '-' or '_'; at least 32 without a token), kept for "
                   "24 hours, per caller",
    "schema": {"type": "string", "pattern": idempotency.PATTERN.pattern}}
IDEMPOTENCY_TEXT = (
    "Send an `Idempotency-Key` and a retry with the same key and body (after a 504, or a "
    "lost connection) gets the first answer instead of doing it twice; the same key with "
    "another body is a 422. Keys are kept 24 hours, and are the caller's own (another "
    "caller's same key is another request).")


# eventlet's HTTP server refuses a request line over 8 KiB itself, before any route (and
# so before any problem+json): an empty answer, documented as such on every operation.
URI_TOO_LONG = {"description": "The request line (path and query) is longer than 8 KiB; "
                               "answered by the HTTP server with no body, before any route"}


def _response_ref(status: int) -> str:
    return f"#/components/responses/{ERROR_RESPONSES[status][0].__name__}"


def _error_statuses(route: ApiRoute) -> set[int]:
    statuses = set(route.errors) | {500}
    if route.body is not None:
        statuses |= {400, 408, 411, 413, 415}
    elif "requestBody" in route.extra:
        # A page's form: the entrypoint reads every body the same way (a deadline, a
        # Content-Length, a size limit) before the page sees it.
        statuses |= {408, 411, 413}
    if route.query is not None:
        statuses.add(400)
    if route.access is not PUBLIC:
        statuses.add(401)
    if route.access not in (PUBLIC, TOKEN):
        statuses.add(403)
    if route.path_parameters:
        statuses.add(400)  # a value the route rejects, e.g. a malformed credit code
    if route.path_parameters or route.backend:
        statuses.add(404)
    if route.idempotent:
        statuses.add(422)
    if route.backend:
        statuses.add(503)
        if route.method not in SAFE_METHODS:
            statuses.add(504)  # a write whose answer was lost: see errors.OutcomeUnknown
    return statuses


def _operation_id(route: ApiRoute) -> str:
    words = [part for part in route.openapi_path.replace("{", "").replace("}", "").split("/")
             if part and part not in ("api", "v1")]
    return route.method.lower() + "_" + "_".join(words).replace("-", "_").replace(".", "_")


def _path_parameters(route: ApiRoute) -> list[dict]:
    types = {"int": {"type": "integer", "minimum": 0, "maximum": INT64},
             "float": {"type": "number"}}
    return [{"in": "path", "name": name, "required": True,
             "schema": types.get(converter, {"type": "string"})}
            for name, converter in route.path_parameters]


def problem_responses() -> dict:
    """The ``components.responses`` of every error: one ``Problem`` each, with an example."""
    responses = {}
    for status, (error, description) in ERROR_RESPONSES.items():
        example, path = ERROR_EXAMPLES[status]
        responses[error.__name__] = {
            "description": description,
            "content": {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"},
                                       "example": example.problem(path)}},
        } | ({"headers": ERROR_HEADERS[status]} if status in ERROR_HEADERS else {})
    return responses


def build(service_cls, extra=(), title="gonghui gateway", version="1.0.0") -> dict:
    """The OpenAPI document of ``service_cls`` (plus ``extra`` routes) as a JSON-ready dict."""
    tags = {}
    for klass in reversed(service_cls.__mro__):
        for tag in getattr(klass, "api_tags", ()):
            tags[tag["name"]] = tag
    spec = APISpec(
        title=title,
        version=version,
        openapi_version=OPENAPI_VERSION,
        plugins=[MarshmallowPlugin()],
        info={"description": DESCRIPTION},
        tags=list(tags.values()),
    )
    spec.components.security_scheme(BEARER, {
        "type": "http", "scheme": "bearer",
        "description": "an opaque token of 32 random bytes (ghu_...)",
    })
    spec.components.schema("Problem", PROBLEM_SCHEMA)
    spec.components.schema("FieldError", FIELD_ERROR_SCHEMA)
    for name, response in problem_responses().items():
        spec.components.response(name, response)

    by_path = {}
    for route in [*api_routes(service_cls), *extra]:
        by_path.setdefault(route.openapi_path, []).append(route)
    for path, routes in by_path.items():
        spec.path(
            path=path,
            operations={route.method.lower(): _operation(route) for route in routes},
            parameters=_path_parameters(routes[0]),
        )
    document = spec.to_dict()
    add_examples(document)
    return document


# --- examples ------------------------------------------------------------------------------

def add_examples(document: dict) -> None:
    """An ``example`` for every request and response body that has none yet."""
    components = document.get("components", {})
    for item in document["paths"].values():
        for method, operation in item.items():
            if method == "parameters":
                continue
            bodies = [("request", operation.get("requestBody", {}))]
            bodies += [("response", response) for response in operation["responses"].values()]
            for direction, body in bodies:
                for media in body.get("content", {}).values():
                    if "example" not in media and "examples" not in media:
                        media["example"] = example_for(media.get("schema", {}), components,
                                                       direction)


FORMAT_EXAMPLES = {
    "date-time": "2025-03-01T09:30:00+08:00",
    "date": "2025-03-01",
    "time": "09:30:00+08:00",
    "email": "someone@example.org",
    "uri": "https://example.org/gonghui",
    "url": "https://example.org/gonghui",
    "uri-reference": "/api/v1/organizations/longgang",
    "uuid": "7f8c2d4e-1b3a-4c5d-9e6f-0a1b2c3d4e5f",
    "ipv4": "192.0.2.10",
    "ipv6": "2001:db8::10",
    "hostname": "example.org",
}
MAX_DEPTH = 8  # nested objects deeper than this (recursive schemas) keep required members only


def example_for(schema: dict, components: dict, direction: str = "response", depth: int = 0):
    """A value valid against the JSON schema ``schema`` (OpenAPI 3.1), refs resolved in
    ``components``. ``direction`` "request" leaves read-only members out, "response"
    write-only ones."""
    if "example" in schema:
        return copy.deepcopy(schema["example"])
    if schema.get("examples"):
        return copy.deepcopy(schema["examples"][0])
    if "const" in schema:
        return schema["const"]
    if "$ref" in schema:
        return example_for(_resolve(schema["$ref"], components), components, direction, depth)
    if schema.get("default") is not None:
        return copy.deepcopy(schema["default"])
    if "enum" in schema:
        return next((value for value in schema["enum"] if value is not None), None)
    for combinator in ("allOf", "anyOf", "oneOf"):
        if combinator in schema:
            options = [option for option in schema[combinator] if option.get("type") != "null"]
            if combinator == "allOf" and all(_is_object(o, components) for o in options):
                merged = {}
                for option in options:
                    merged.update(example_for(option, components, direction, depth))
                return merged
            return example_for(options[0], components, direction, depth) if options else None
    types = schema.get("type", [])
    types = [types] if isinstance(types, str) else [t for t in types if t != "null"]
    kind = types[0] if types else ("object" if "properties" in schema else None)
    if kind == "object":
        return _object_example(schema, components, direction, depth)
    if kind == "array":
        item = example_for(schema.get("items", {}), components, direction, depth + 1)
        count = max(1, schema.get("minItems", 1))
        return [copy.deepcopy(item) for _ in range(min(count, schema.get("maxItems", count)))]
    if kind == "string":
        return _string_example(schema)
    if kind in ("integer", "number"):
        return _number_example(schema, kind)
    if kind == "boolean":
        return True
    return {} if kind is None else None


def _resolve(ref: str, components: dict) -> dict:
    section, name = ref.removeprefix("#/components/").split("/")
    return components[section][name]


def _is_object(schema: dict, components: dict) -> bool:
    if "$ref" in schema:
        schema = _resolve(schema["$ref"], components)
    return schema.get("type") == "object" or "properties" in schema


def _object_example(schema, components, direction, depth):
    skip = "readOnly" if direction == "request" else "writeOnly"
    required = set(schema.get("required", ()))
    example = {}
    for name, member in schema.get("properties", {}).items():
        if member.get(skip) or (depth >= MAX_DEPTH and name not in required):
            continue
        example[name] = example_for(member, components, direction, depth + 1)
    extra = schema.get("additionalProperties")
    if not example and isinstance(extra, dict) and extra:
        example["key"] = example_for(extra, components, direction, depth + 1)
    return example


def _string_example(schema) -> str:
    if schema.get("format") in FORMAT_EXAMPLES:
        return FORMAT_EXAMPLES[schema["format"]]
    text = _matching(schema["pattern"]) if "pattern" in schema else "string"
    low, high = schema.get("minLength", 0), schema.get("maxLength")
    if len(text) < low:
        text += (text[-1:] or "x") * (low - len(text)) if "pattern" in schema else \
            "x" * (low - len(text))
    return text if high is None else text[:high]


def _number_example(schema, kind):
    low = schema.get("minimum", schema.get("exclusiveMinimum"))
    high = schema.get("maximum", schema.get("exclusiveMaximum"))
    value = 1 if low is None else low + (1 if "exclusiveMinimum" in schema else 0)
    if high is not None and value > high:
        value = high - (1 if "exclusiveMaximum" in schema else 0)
    return int(value) if kind == "integer" else value


def _matching(pattern: str) -> str:
    """The shortest string ``re.search(pattern)`` accepts, near enough for documentation."""
    text = "".join(_emit(sre_parse.parse(pattern)))
    return text if re.search(pattern, text) else "string"


_CATEGORY = {sre.CATEGORY_DIGIT: "0", sre.CATEGORY_WORD: "a", sre.CATEGORY_SPACE: " ",
             sre.CATEGORY_NOT_DIGIT: "a", sre.CATEGORY_NOT_WORD: "-",
             sre.CATEGORY_NOT_SPACE: "a"}


def _emit(parsed):
    for op, value in parsed:
        if op is sre.LITERAL:
            yield chr(value)
        elif op is sre.NOT_LITERAL:
            yield "b" if chr(value) == "a" else "a"
        elif op is sre.ANY:
            yield "a"
        elif op is sre.IN:
            yield _one_of(value)
        elif op in (sre.MAX_REPEAT, sre.MIN_REPEAT, sre.POSSESSIVE_REPEAT):
            low, _, item = value
            yield "".join(_emit(item)) * low
        elif op is sre.SUBPATTERN:
            yield from _emit(value[-1])
        elif op is sre.BRANCH:
            yield from _emit(value[1][0])
        elif op is sre.ATOMIC_GROUP:
            yield from _emit(value)
        # anchors (AT) and lookarounds match no character


def _one_of(items) -> str:
    if items and items[0][0] is sre.NEGATE:
        return "a" if not any(op is sre.LITERAL and value == ord("a")
                              for op, value in items[1:]) else "b"
    op, value = items[0]
    if op is sre.LITERAL:
        return chr(value)
    if op is sre.RANGE:
        return chr(value[0])
    if op is sre.CATEGORY:
        return _CATEGORY.get(value, "a")
    return "a"


# --- the pages: /docs (Swagger UI, served from the pinned swagger-ui-bundle-v2) and one page
# per problem type (/problems/not-found...), so each ``type`` URI describes itself -----------

DOCS_ASSETS = {  # what /docs/<name> serves, from the package's directory
    "swagger-ui.css": "text/css",
    "swagger-ui-bundle.js": "text/javascript",
    "favicon-32x32.png": "image/png",
    "favicon-16x16.png": "image/png",
}
DOCS_SCRIPT = "gonghui-docs.js"  # ours: starts Swagger UI on /openapi.json
DOCS_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; "
                               "style-src 'self' 'unsafe-inline'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
}
ASSET_CACHE = "public, max-age=86400"  # the assets change only with the package's pin

DOCS_PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>gonghui gateway API</title>
  <link rel="stylesheet" href="docs/swagger-ui.css">
  <link rel="icon" type="image/png" href="docs/favicon-32x32.png" sizes="32x32">
  <link rel="icon" type="image/png" href="docs/favicon-16x16.png" sizes="16x16">
</head>
<body>
  <div id="swagger-ui"><noscript>This page needs JavaScript; the document itself is
    <a href="openapi.json">/openapi.json</a>.</noscript></div>
  <script src="docs/swagger-ui-bundle.js"></script>
  <script src="docs/gonghui-docs.js"></script>
</body>
</html>
"""

DOCS_JS = """window.addEventListener("load", function () {
  window.ui = SwaggerUIBundle({
    url: "openapi.json",
    dom_id: "#swagger-ui",
    deepLinking: true,
    validatorUrl: null,
    presets: [SwaggerUIBundle.presets.apis],
    layout: "BaseLayout"
  });
});
"""


def docs_asset(name: str) -> tuple[bytes, str] | None:
    """(content, media type) of a file /docs may load, or None."""
    if name == DOCS_SCRIPT:
        return DOCS_JS.encode(), "text/javascript"
    if name not in DOCS_ASSETS:
        return None
    return _asset_bytes(name), DOCS_ASSETS[name]


@functools.cache
def _asset_bytes(name: str) -> bytes:
    from swagger_ui_bundle import swagger_ui_path  # only when /docs is first loaded

    return (swagger_ui_path / name).read_bytes()


PROBLEM_PAGE = """<!DOCTYPE html>
<html lang="en">
<head><meta charset="utf-8"><title>{title}</title></head>
<body>
  <h1>{title}</h1>
  <p>HTTP status {status}, <code>"code": "{code}"</code>,
     <code>"type": "{type}"</code>.</p>
  <p>{description}</p>
  <p>Every error of this API is RFC 9457 problem details (<code>application/problem+json</code>):
     see the <code>Problem</code> schema at <a href="/docs">/docs</a>.</p>
</body>
</html>
"""


def problem_page(slug: str) -> str | None:
    """The page a problem ``type`` URI (/problems/<slug>) names, or None."""
    for status, (error, description) in ERROR_RESPONSES.items():
        if error.type_uri() == errors.PROBLEM_TYPES + slug:
            return PROBLEM_PAGE.format(
                title=html.escape(error.title), status=status, code=error.code,
                type=error.type_uri(),
                description=html.escape(description).replace("`", ""))
    return None
