"""The OpenAPI document: valid OpenAPI 3, served, and covering every HTTP entrypoint."""

import pytest
from openapi_spec_validator import validate

from services.gateway.api import PUBLIC, ApiRoute, api_routes, http_rules
from services.gateway.openapi import build
from services.gateway.service import GatewayService, openapi_document
from tests.gateway.fakes import NANKENG


@pytest.fixture(scope="module")
def document():
    return openapi_document()


def test_the_document_is_valid_openapi_3(document):
    validate(document)
    assert document["openapi"].startswith("3.")


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
    for route in api_routes(GatewayService):
        operation = document["paths"][route.openapi_path][route.method.lower()]
        responses = operation["responses"]
        if route.access is PUBLIC:
            assert operation["security"] == [], route
            assert "401" not in responses
        else:
            assert operation["security"] == [{"bearerAuth": []}], route
            assert responses["401"] == {"$ref": "#/components/responses/Unauthorized"}
        if route.body is not None:
            assert {"400", "413"} <= set(responses), route
        if route.path_parameters:
            assert "404" in responses, route


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
    assert schemas["Error"]["required"] == ["error", "message"]


def test_a_route_module_contributes_its_paths_by_being_a_base_class():
    from services.gateway.api import route

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
    assert {"401", "403", "404", "503"} <= set(operation["responses"])
    assert document["paths"]["/api/v1/extra/{number}"]["parameters"][0]["schema"] == {
        "type": "integer"}
    assert "extra" in [tag["name"] for tag in document["tags"]]


def test_the_document_is_served_at_openapi_json(client, document):
    response = client.get("/openapi.json")
    assert response.status_code == 200
    assert response.json() == document
    assert client.get(f"/api/v1/organizations/{NANKENG}").status_code == 200


@pytest.mark.parametrize("path", ["/api/v1/members", "/api/v1/service-requests",
                                  "/api/v1/merchants",
                                  "/api/v1/organizations/{code}/join-rates"])
def test_cursor_pages_document_their_cursor_page_size_and_next(document, path):
    operation = document["paths"][path]["get"]
    parameters = {p["name"]: p["schema"] for p in operation["parameters"]}
    assert parameters["cursor"]["type"] == "string"
    assert parameters["limit"] | {"example": None} == {
        "type": "integer", "default": 100, "minimum": 1, "maximum": 500, "example": None}
    assert "400" in operation["responses"]
    page = operation["responses"]["200"]["content"]["application/json"]["schema"]["$ref"]
    properties = document["components"]["schemas"][page.rsplit("/", 1)[1]]["properties"]
    assert set(properties) == {"items", "next_cursor"}
    assert properties["items"]["type"] == "array"


@pytest.mark.parametrize("path", ["/api/v1/cards/check",
                                  "/api/v1/merchants/{merchant_id}/purchase-checks"])
def test_card_checks_document_their_429_and_its_retry_after_header(document, path):
    operation = document["paths"][path]["post"]
    assert operation["responses"]["429"] == {"$ref": "#/components/responses/TooManyRequests"}
    assert "MEMBERSHIP_RATE_LIMITS" in operation["description"]
    header = document["components"]["responses"]["TooManyRequests"]["headers"]["Retry-After"]
    assert header["schema"] == {"type": "integer", "minimum": 1}
