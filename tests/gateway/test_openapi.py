"""The OpenAPI document (openapi.py): valid OpenAPI 3.1, served, covering every HTTP
entrypoint, an example for every body; the one API style it promises, checked on the
document and on the running gateway's real answers; the /docs and /problems pages."""

import re

import pytest
from openapi_schema_validator import OAS31Validator, oas31_format_checker
from openapi_spec_validator import OpenAPIV31SpecValidator, validate
from selenium.webdriver.common.by import By

from services.gateway.api import PUBLIC, ApiRoute, api_routes, http_rules, route
from services.gateway.openapi import build, example_for
from services.gateway.service import GatewayService, openapi_document
from shared import errors
from shared.paging import DEFAULT_LIMIT, MAX_LIMIT
from tests.disputes.test_routes_report_form import wait
from tests.gateway.fakes import NANKENG, NK_ENTERPRISE
from tests.shared.problems import PROBLEM_JSON

DOCUMENT = openapi_document()
COMPONENTS = DOCUMENT["components"]
OPERATIONS = [(method, path, operation) for path, item in DOCUMENT["paths"].items()
              for method, operation in item.items() if method != "parameters"]


def operation_id(value):
    return f"{value[0].upper()} {value[1]}" if isinstance(value, tuple) else None


def resolve(node, components=COMPONENTS):
    """``node`` with a ``$ref`` followed (one level: components never chain refs)."""
    if "$ref" not in node:
        return node
    section, name = node["$ref"].removeprefix("#/components/").split("/")
    return components[section][name]


def validator(schema):
    return OAS31Validator({**schema, "components": COMPONENTS},
                          format_checker=oas31_format_checker)


def problems_of(schema_errors):
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message[:200]}" for e in schema_errors]


@pytest.fixture(scope="module")
def document():
    return DOCUMENT


# --- the document --------------------------------------------------------------------------

def test_the_document_is_valid_openapi_3_1(document):
    assert document["openapi"] == "3.1.0"
    validate(document, cls=OpenAPIV31SpecValidator)


def test_every_http_entrypoint_is_documented_with_its_method(document):
    documented = {(method.upper(), path) for path, item in document["paths"].items()
                  for method in item if method != "parameters"}
    for methods, url in http_rules(GatewayService):
        path = ApiRoute(methods, url, "", "", PUBLIC).openapi_path
        for method in methods.split(","):
            assert (method, path) in documented, f"{method} {url} is not in /openapi.json"
    assert len(documented) == sum(len(m.split(",")) for m, _ in http_rules(GatewayService))


def test_routes_needing_a_token_declare_the_bearer_scheme_and_their_errors(document):
    scheme = document["components"]["securitySchemes"]["bearerAuth"]
    assert scheme == {"type": "http", "scheme": "bearer", "description": scheme["description"]}
    for api_route in api_routes(GatewayService):
        operation = document["paths"][api_route.openapi_path][api_route.method.lower()]
        responses = operation["responses"]
        if api_route.access is PUBLIC:
            assert operation["security"] == [], api_route
            # no token problem; the sign-in form answers a wrong password with a page (401)
            assert "401" not in responses or "$ref" not in responses["401"], api_route
        else:
            assert operation["security"] == [{"bearerAuth": []}], api_route
            assert responses["401"] == {"$ref": "#/components/responses/Unauthorized"}
        if api_route.body is not None:
            assert {"400", "411", "413", "415"} <= set(responses), api_route
        if api_route.path_parameters:
            assert "404" in responses, api_route
        assert "500" in responses, api_route


def test_public_and_protected_reads_are_documented_as_decided(document):
    paths = document["paths"]
    assert paths["/api/v1/organizations/{code}"]["get"]["security"] == []
    assert paths["/api/v1/organizations/{code}/statistics"]["get"]["security"] == []
    assert paths["/api/v1/organizations/{code}/contacts"]["get"]["security"] != []
    assert paths["/api/v1/enterprises/{credit_code}"]["get"]["security"] != []
    assert "Public data" in document["info"]["description"]


def test_schemas_come_from_the_marshmallow_schemas(document):
    schemas = document["components"]["schemas"]
    new_enterprise = schemas["NewEnterprise"]
    assert set(new_enterprise["required"]) == {"credit_code", "name", "community_code",
                                               "headcount"}
    assert schemas["ImportRow"]["required"] == ["credit_code"]
    assert new_enterprise["properties"]["union_status"]["enum"] == ["own", "covered", "none"]
    # OpenAPI 3.1 is JSON Schema: null is a type, not "nullable"
    assert new_enterprise["properties"]["address"]["type"] == ["string", "null"]
    assert "nullable" not in str(document)


def test_a_route_module_contributes_its_paths_by_being_a_base_class():
    class ExtraRoutes:
        api_tags = [{"name": "extra", "description": "an added backing service"}]

        @route("GET", "/api/v1/extra/<int:number>", tag="extra", access="read",
               summary="An extra route")
        def extra(self, request, number):
            raise NotImplementedError

    class Extended(ExtraRoutes, GatewayService):
        pass

    document = build(Extended)
    validate(document)
    operation = document["paths"]["/api/v1/extra/{number}"]["get"]
    assert {"401", "403", "404", "500", "503"} <= set(operation["responses"])
    assert document["paths"]["/api/v1/extra/{number}"]["parameters"][0]["schema"] == {
        "type": "integer", "minimum": 0, "maximum": 2**63 - 1}
    assert "extra" in [tag["name"] for tag in document["tags"]]


def test_the_document_is_served_at_openapi_json(client, document):
    response = client.get("/openapi.json")
    assert response.status_code == 200
    assert response.json() == document
    assert client.get(f"/api/v1/organizations/{NANKENG}").status_code == 200


@pytest.mark.parametrize("path", ["/api/v1/cards/check",
                                  "/api/v1/merchants/{merchant_id}/purchase-checks"])
def test_card_checks_document_their_429_and_its_retry_after_header(document, path):
    operation = document["paths"][path]["post"]
    assert operation["responses"]["429"] == {"$ref": "#/components/responses/TooManyRequests"}
    assert "MEMBERSHIP_RATE_LIMITS" in operation["description"]
    header = document["components"]["responses"]["TooManyRequests"]["headers"]["Retry-After"]
    assert header["schema"] == {"type": "integer", "minimum": 1}


# --- examples --------------------------------------------------------------------------------

def bodies(operation):
    """(what, media type, media object) of every request and response body."""
    found = [("request", media_type, media) for media_type, media in
             operation.get("requestBody", {}).get("content", {}).items()]
    for status, response in operation["responses"].items():
        found += [(status, media_type, media)
                  for media_type, media in resolve(response).get("content", {}).items()]
    return found


@pytest.mark.parametrize("operation", OPERATIONS, ids=operation_id)
def test_every_request_and_response_body_has_an_example_valid_against_its_schema(operation):
    _, _, op = operation
    for what, media_type, media in bodies(op):
        assert "example" in media, f"{what} {media_type} has no example"
        found = problems_of(validator(media["schema"]).iter_errors(media["example"]))
        assert not found, f"the {what} example ({media_type}) breaks its schema: {found}"


def test_an_example_comes_from_the_route_else_the_fields_metadata_else_their_types():
    from marshmallow import Schema, fields, validate

    class Thing(Schema):
        code = fields.String(required=True, metadata={"example": NANKENG})
        credit_code = fields.String(validate=validate.Regexp(r"^[0-9A-Z]{18}$"))
        at = fields.AwareDateTime(allow_none=True)
        count = fields.Integer(validate=validate.Range(min=5, max=9))
        kind = fields.String(validate=validate.OneOf(["own", "covered"]))
        tags = fields.List(fields.String(validate=validate.Length(min=3)))

    class ThingRoutes:
        @route("POST", "/api/v1/things", tag="things", access=PUBLIC, summary="A thing",
               body=Thing, response=Thing, response_example={"code": "given"})
        def thing(self, request):
            raise NotImplementedError

    class Extended(ThingRoutes, GatewayService):
        pass

    operation = build(Extended)["paths"]["/api/v1/things"]["post"]
    made = operation["requestBody"]["content"]["application/json"]["example"]
    assert made["code"] == NANKENG
    assert re.fullmatch(r"[0-9A-Z]{18}", made["credit_code"])
    assert made["at"].endswith("+08:00") and made["count"] == 5 and made["kind"] == "own"
    assert len(made["tags"][0]) >= 3
    assert operation["responses"]["200"]["content"]["application/json"]["example"] == {
        "code": "given"}
    assert example_for({"type": "string", "pattern": r"^\d{16}$"}, {}) == "0" * 16


# --- one style: every error a Problem, every list a cursor page -------------------------------

def test_the_problem_schema_is_rfc_9457_with_code_and_field_errors(document):
    problem = document["components"]["schemas"]["Problem"]
    assert {"type", "title", "status", "detail", "instance", "code"} <= set(
        problem["required"])
    assert problem["properties"]["errors"]["items"] == {
        "$ref": "#/components/schemas/FieldError"}
    assert document["components"]["schemas"]["FieldError"]["required"] == ["field", "message"]
    assert set(problem["properties"]["code"]["enum"]) == {e.code for e in errors.ALL_ERRORS}


@pytest.mark.parametrize("operation", OPERATIONS, ids=operation_id)
def test_every_error_response_is_the_shared_problem(operation):
    _, _, op = operation
    for status, response in op["responses"].items():
        if int(status) < 400:
            continue
        if list(response.get("content", {})) == ["text/html"]:
            continue  # a browser form answered with itself again (the sign-in page)
        if status == "414":
            assert "content" not in response  # eventlet's own answer, before any route
            continue
        assert response.keys() == {"$ref"}, f"{status}: a shared response, not its own"
        content = resolve(response)["content"]
        assert list(content) == [PROBLEM_JSON], status
        assert content[PROBLEM_JSON]["schema"] == {"$ref": "#/components/schemas/Problem"}


def test_every_error_class_has_its_documented_response(document):
    documented = {resolve({"$ref": f"#/components/responses/{name}"})["content"][PROBLEM_JSON][
        "example"]["code"] for name in document["components"]["responses"]}
    assert documented == {error.code for error in errors.ALL_ERRORS}


PAGING_PARAMETERS = {"cursor", "limit", "offset", "after_id"}


def is_list(operation, components=COMPONENTS) -> bool:
    """A GET answering a collection: an array, ``items``, or paged by some parameter.
    (An object that holds a few arrays among its fields, a case's timeline or an
    organization's contacts, is one thing, not a list.)"""
    answer = operation["responses"].get("200", {}).get("content", {}).get("application/json")
    if answer is None:
        return False
    schema = resolve(answer["schema"], components)
    items = resolve(schema.get("properties", {}).get("items", {}), components)
    paged = PAGING_PARAMETERS & {p["name"] for p in operation.get("parameters", ())}
    return schema.get("type") == "array" or items.get("type") == "array" or bool(paged)


LIST_OPERATIONS = [(method, path, op) for method, path, op in OPERATIONS
                   if method == "get" and is_list(op)]


def test_there_are_lists_to_check():
    assert len(LIST_OPERATIONS) >= 10


def assert_pages_by_cursor(op, components=COMPONENTS):
    """The one list style (shared.paging): query cursor and limit, {items, next_cursor}."""
    parameters = {p["name"]: p for p in op.get("parameters", ()) if p["in"] == "query"}
    cursor_type = parameters.get("cursor", {}).get("schema", {}).get("type")
    assert cursor_type in ("string", ["string", "null"]), "cursor"
    assert not parameters["cursor"].get("required")
    limit = parameters.get("limit", {}).get("schema", {})
    assert (limit.get("type"), limit.get("minimum"), limit.get("maximum"),
            limit.get("default")) == ("integer", 1, MAX_LIMIT, DEFAULT_LIMIT), "limit"
    page = resolve(op["responses"]["200"]["content"]["application/json"]["schema"],
                   components)
    assert page.get("type") == "object", "the answer is {items, next_cursor}, not an array"
    assert set(page["properties"]) == {"items", "next_cursor"}
    assert set(page["required"]) == {"items", "next_cursor"}
    assert page["properties"]["items"]["type"] == "array"
    assert page["properties"]["next_cursor"]["type"] == ["string", "null"]


@pytest.mark.parametrize("operation", LIST_OPERATIONS, ids=operation_id)
def test_every_list_operation_pages_by_cursor(operation):
    assert_pages_by_cursor(operation[2])


def test_a_list_made_with_shared_paging_passes_the_list_check():
    from marshmallow import Schema, fields

    from shared.paging import CursorQuery, page_schema

    class Thing(Schema):
        name = fields.String(required=True)

    class ThingQuery(CursorQuery):
        code = fields.String(required=True)

    class ThingRoutes:
        @route("GET", "/api/v1/things", tag="things", access=PUBLIC, summary="Things",
               query=ThingQuery, response=page_schema(Thing))
        def things(self, request):
            raise NotImplementedError

    class Extended(ThingRoutes, GatewayService):
        pass

    document = build(Extended)
    operation = document["paths"]["/api/v1/things"]["get"]
    assert is_list(operation, document["components"])
    assert_pages_by_cursor(operation, document["components"])


class StrictMembership:
    """Membership as far as the card check: over its limit."""

    def check_card(self, body, caller):
        raise errors.TooManyRequests("at most 60 per 1 min: try again in 42 s",
                                     {"scope": "caller", "limit": 60, "window_seconds": 60,
                                      "retry_after": 42})


def test_real_error_answers_are_the_documented_problems(client, tokens, registry, membership,
                                                        monkeypatch):
    """One request for each error status, against the running gateway: each answer is a
    Problem (schema, media type, status, instance), documented on its operation."""
    admin, viewer = tokens["district_admin"], tokens["nankeng_viewer"]
    monkeypatch.setattr(membership, "check_card", StrictMembership().check_card,
                        raising=False)

    def boom(code):
        raise RuntimeError("a bug")

    def chunks():
        yield b'{"name": "x"}'

    org = f"/api/v1/organizations/{NANKENG}"
    calls = [  # (status, method, path, documented path, request arguments)
        (400, "PATCH", f"/api/v1/enterprises/{NK_ENTERPRISE}", "/api/v1/enterprises/"
         "{credit_code}", {"token": admin, "json": {"headcount": "many"}}),
        (401, "GET", f"{org}/contacts", "/api/v1/organizations/{code}/contacts", {}),
        (403, "PATCH", f"/api/v1/enterprises/{NK_ENTERPRISE}", "/api/v1/enterprises/"
         "{credit_code}", {"token": viewer, "json": {"headcount": 130}}),
        (404, "GET", "/api/v1/organizations/longgang.nowhere", "/api/v1/organizations/{code}",
         {}),
        (404, "GET", "/api/v1/nothing/here", None, {}),
        (405, "DELETE", org, None, {}),
        (405, "TRACE", org, None, {}),
        (409, "POST", "/api/v1/enterprises", "/api/v1/enterprises", {"token": admin, "json": {
            "credit_code": NK_ENTERPRISE, "name": "重复", "community_code": NANKENG,
            "headcount": 30}}),
        (411, "PATCH", org, "/api/v1/organizations/{code}", {"token": admin,
                                                            "data": chunks()}),
        (413, "PATCH", org, "/api/v1/organizations/{code}", {"token": admin,
                                                            "data": b"1" * 70_000}),
        (415, "PATCH", org, "/api/v1/organizations/{code}", {
            "token": admin, "data": b'{"name": "x"}', "headers": {"Content-Type":
                                                                   "text/plain"}}),
        (415, "PATCH", org, "/api/v1/organizations/{code}", {"token": admin,
                                                            "data": b'{"name": "x"}'}),
        (429, "POST", "/api/v1/cards/check", "/api/v1/cards/check", {
            "token": viewer, "json": {"card_number": "1234"}}),
        (500, "GET", f"{org}/statistics", "/api/v1/organizations/{code}/statistics", {}),
        (503, "GET", "/api/v1/disputes/cases", "/api/v1/disputes/cases", {"token": admin}),
    ]
    monkeypatch.setattr(registry, "statistics", boom)
    problem_schema = validator({"$ref": "#/components/schemas/Problem"})
    for status, method, path, documented, arguments in calls:
        response = client.request(method, path, **arguments)
        where = f"{method} {path}"
        assert response.status_code == status, (where, response.text)
        assert response.headers["Content-Type"] == PROBLEM_JSON, where
        body = response.json()
        assert not problems_of(problem_schema.iter_errors(body)), (where, body)
        assert (body["status"], body["instance"]) == (status, path), where
        assert body["type"] == errors.problem_type(body["code"]), where
        if documented:
            assert str(status) in DOCUMENT["paths"][documented][method.lower()]["responses"], \
                f"{where} answers {status}, which its operation does not document"
        if status == 400:
            assert body["errors"] == [{"field": "headcount", "message": "Not a valid integer."}]
        if status == 405:
            assert response.headers["Allow"] == "GET, PATCH" and body["allowed"] == [
                "GET", "PATCH"]
        if status == 429:
            assert response.headers["Retry-After"] == "42" and body["retry_after"] == 42
        if status == 500:
            assert "a bug" not in response.text


# --- the pages --------------------------------------------------------------------------------

def test_the_docs_page_and_its_assets_are_served_by_the_gateway_itself(client):
    page = client.get("/docs")
    assert page.status_code == 200 and page.headers["Content-Type"].startswith("text/html")
    assert "default-src 'self'" in page.headers["Content-Security-Policy"]
    sources = re.findall(r'(?:src|href)="([^"]+)"', page.text)
    assert sources and not [s for s in sources if "//" in s], "nothing from elsewhere"
    for source in sources:
        asset = client.get("/" + source)
        assert asset.status_code == 200, source
        if source.startswith("docs/"):
            assert asset.headers["Cache-Control"].startswith("public"), source
    assert b"SwaggerUIBundle" in client.get("/docs/swagger-ui-bundle.js").content
    assert client.get("/docs/../pyproject.toml").status_code == 404
    assert client.get("/docs/index.j2").status_code == 404


@pytest.mark.parametrize("error", errors.ALL_ERRORS, ids=lambda e: e.code)
def test_each_problem_type_uri_is_a_page_about_it(client, error):
    page = client.get(error.type_uri())
    assert page.status_code == 200, error.type_uri()
    assert error.title in page.text and error.code in page.text


def test_an_unknown_problem_type_is_a_404_problem(client):
    response = client.get("/problems/nonsense")
    assert response.status_code == 404
    assert response.headers["Content-Type"] == PROBLEM_JSON


def test_the_docs_page_renders_the_operations_in_chromium(client, browser):  # noqa: F811
    browser.get(client.base + "/docs")
    wait(browser, lambda d: len(d.find_elements(By.CSS_SELECTOR, ".opblock")) > 40)
    paths = {e.text.replace("\u200b", "") for e in browser.find_elements(
        By.CSS_SELECTOR, ".opblock-summary-path")}
    assert "/api/v1/organizations/{code}" in paths
    assert "gonghui gateway" in browser.find_element(By.CSS_SELECTOR, ".title").text



def test_a_repeated_acknowledgement_is_documented_as_the_200_it_answers(document):
    """Found by the fuzz run: a repeat answered 200 where only 201 was documented."""
    responses = document["paths"]["/api/v1/cases/{case_id}/acknowledgements"]["post"][
        "responses"]
    assert {"200", "201"} <= set(responses)
    assert responses["200"]["content"]["application/json"]["schema"] == responses["201"][
        "content"]["application/json"]["schema"]


@pytest.mark.parametrize("path", ["/signin", "/signout"])
def test_a_form_posts_length_and_size_refusals_are_documented(document, path):
    """Found by the fuzz run: a chunked form post answered an undocumented 411."""
    assert {"411", "413"} <= set(document["paths"][path]["post"]["responses"])
