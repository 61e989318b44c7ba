"""The OpenAPI 3 document of the gateway, built from the routes' own declarations.

Each ``@route`` carries its schemas, access rule and extra error codes (``api.ApiRoute``);
``build(GatewayService)`` walks the class (every route mixin included), turns marshmallow
schemas into components with apispec's MarshmallowPlugin, and adds the error responses
that follow from each route's shape:

- 400 when it reads a body or query parameters; 411 and 413 when it reads a body;
- 401 unless public; 403 when it needs a role or scope;
- 404 when the path names something (``<code>``); 503 when it calls another service.

So a route module contributes its paths just by existing in the service class's bases.
"""

from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin

from services.gateway.api import PUBLIC, TOKEN, ApiRoute, api_routes
from services.gateway.auth import MANAGE_USERS, READ, WRITE
from services.gateway.schemas import ErrorSchema

OPENAPI_VERSION = "3.0.3"
BEARER = "bearerAuth"

ERROR_RESPONSES = {
    400: ("InvalidInput", "Bad JSON, a missing or invalid field, or an unknown field."),
    401: ("Unauthorized", "No bearer token, or one that is unknown or revoked."),
    403: ("Forbidden", "The token's role may not do this, or the target lies outside "
                       "the subtree of the token's organization."),
    404: ("NotFound", "No such organization, enterprise, user or route."),
    405: ("MethodNotAllowed", "The path exists but not with this HTTP method."),
    409: ("Conflict", "The change contradicts the current state (duplicate code, "
                      "closed enterprise, a move into its own subtree...)."),
    411: ("LengthRequired", "A chunked body: send it with a Content-Length instead."),
    413: ("PayloadTooLarge", "The request body is over this route's size limit."),
    429: ("TooManyRequests", "Over a rate limit; details.retry_after says when to retry."),
    503: ("Unavailable", "A backing service did not answer in time."),
}

ERROR_HEADERS = {
    429: {"Retry-After": {"description": "seconds until a request will pass again "
                                         "(the same as details.retry_after)",
                          "schema": {"type": "integer", "minimum": 1}}},
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

**Errors.** Always JSON `{"error", "message", "details"}` with the status below.
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
    if route.body is not None:
        op["requestBody"] = {"required": True,
                             "content": {"application/json": {"schema": route.body}}}
    success = {"description": "Created" if route.status == 201 else "OK"}
    if route.response is not None:
        success["content"] = {"application/json": {"schema": route.response}}
    op["responses"][str(route.status)] = success
    for status in sorted(_error_statuses(route)):
        op["responses"][str(status)] = ERROR_RESPONSES[status][0]
    op.update(route.extra)
    return op


def _error_statuses(route: ApiRoute) -> set[int]:
    statuses = set(route.errors)
    if route.body is not None:
        statuses |= {400, 411, 413}
    if route.query is not None:
        statuses.add(400)
    if route.access is not PUBLIC:
        statuses.add(401)
    if route.access not in (PUBLIC, TOKEN):
        statuses.add(403)
    if route.path_parameters:
        statuses.add(404)
    if route.backend:
        statuses.add(503)
    return statuses


def _operation_id(route: ApiRoute) -> str:
    words = [part for part in route.openapi_path.replace("{", "").replace("}", "").split("/")
             if part and part not in ("api", "v1")]
    return route.method.lower() + "_" + "_".join(words).replace("-", "_").replace(".", "_")


def _path_parameters(route: ApiRoute) -> list[dict]:
    types = {"int": {"type": "integer"}, "float": {"type": "number"}}
    return [{"in": "path", "name": name, "required": True,
             "schema": types.get(converter, {"type": "string"})}
            for name, converter in route.path_parameters]


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
    spec.components.schema("Error", schema=ErrorSchema)
    for status, (name, description) in ERROR_RESPONSES.items():
        spec.components.response(name, {
            "description": description,
            "content": {"application/json": {"schema": "Error"}},
        } | ({"headers": ERROR_HEADERS[status]} if status in ERROR_HEADERS else {}))

    by_path = {}
    for route in [*api_routes(service_cls), *extra]:
        by_path.setdefault(route.openapi_path, []).append(route)
    for path, routes in by_path.items():
        spec.path(
            path=path,
            operations={route.method.lower(): _operation(route) for route in routes},
            parameters=_path_parameters(routes[0]),
        )
    return spec.to_dict()
