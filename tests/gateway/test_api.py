"""The kit every route is made with (api.py): garbage thrown at every route gives a clear
4xx problem (RFC 9457), never a 500; bodies are capped and must be JSON; unknown routes and
methods are a 404 or 405 problem.

The routes come from the service class itself, so a route added later is covered too.
"""

import json
import re

import pytest

from services.gateway.api import api_routes
from services.gateway.service import GatewayService
from tests.gateway.fakes import NANKENG, NK_ENTERPRISE
from tests.shared.problems import PROBLEM_JSON, error_fields, problem

V1 = "/api/v1"
ROUTES = api_routes(GatewayService)
BODY_ROUTES = [r for r in ROUTES if r.body is not None]
PATH_VALUES = {"code": NANKENG, "credit_code": NK_ENTERPRISE, "name": "nankeng_viewer"}


def concrete(route, **values):
    """The route's URL with a value for each ``<converter:name>``."""
    return re.sub(r"<(?:\w+:)?(\w+)>",
                  lambda m: values.get(m[1], PATH_VALUES.get(m[1], "1")), route.url)


def route_id(route):
    return f"{route.method} {route.url}"


def fields_of(route):
    schema = route.body() if isinstance(route.body, type) else route.body
    return list(schema.fields)


def assert_error(response, *statuses):
    return problem(response, *statuses)


@pytest.fixture
def admin(tokens):
    return tokens["district_admin"]


@pytest.mark.parametrize("route", BODY_ROUTES, ids=route_id)
def test_every_body_route_rejects_garbage_bodies_with_400(client, admin, registry, route):
    url = concrete(route)
    garbage = [b"", b"not json{", b"\xff\xfe\x00garbage", b"null", b"42", b'"text"',
               b"true", json.dumps({"zzz_unknown": 1}).encode(),
               json.dumps(["x", 1, None]).encode()]
    if not getattr(route.body, "many", False):
        garbage.append(b"[]")
    for body in garbage:
        response = client.request(route.method, url, token=admin, data=body,
                                  headers={"Content-Type": "application/json"})
        assert_error(response, 400)
    assert registry.writes == []


@pytest.mark.parametrize("route", BODY_ROUTES, ids=route_id)
def test_every_body_route_rejects_wrong_types_and_unknown_fields(client, admin, registry,
                                                                  route):
    url = concrete(route)
    many = getattr(route.body, "many", False)
    fields = fields_of(route)
    for value in (12345, {"nested": "object"}, ["a", "list"], -1.5, "x" * 5000):
        body = {name: value for name in fields}
        response = client.request(route.method, url, token=admin,
                                  json=[body] if many else body)
        errors = assert_error(response, 400)["errors"]
        assert errors, f"{value!r}: the 400 should say which fields are wrong"
    unknown = {"zzz_unknown": "?"}
    response = client.request(route.method, url, token=admin, json=[unknown] if many
                              else unknown)
    assert "zzz_unknown" in json.dumps(assert_error(response, 400)["errors"])
    assert registry.writes == []


@pytest.mark.parametrize("route", BODY_ROUTES, ids=route_id)
def test_a_body_over_the_routes_limit_is_refused_with_413(client, admin, registry, route):
    response = client.request(route.method, concrete(route), token=admin,
                              data=b"[" + b"1," * (route.max_body // 2) + b"1]")
    assert_error(response, 413)
    assert registry.writes == []


def test_a_chunked_body_is_refused_with_411_rather_than_read_without_limit(client, admin,
                                                                          registry):
    def chunks():
        yield json.dumps({"name": "改名"}).encode()

    response = client.request("PATCH", f"{V1}/organizations/{NANKENG}", token=admin,
                              data=chunks())
    assert "Content-Length" in assert_error(response, 411)["detail"]
    assert registry.writes == []


@pytest.mark.parametrize("route", [r for r in ROUTES if r.path_parameters], ids=route_id)
def test_every_route_survives_huge_or_odd_path_values(client, admin, route):
    for value in ("x" * 5000, "%E5%8D%97", "..", "null", "0"):
        url = concrete(route, **{name: value for name, _ in route.path_parameters})
        response = client.request(route.method, url, token=admin, json={})
        assert response.status_code < 500, (url[:100], response.text)
        if response.history:  # a page ("/docs/.." is "/"), sending the browser to sign in
            assert "/signin?next=/" in response.url, response.url[:200]
            continue
        assert response.headers["Content-Type"] in answers(route)


def answers(route) -> tuple:
    """The content types a route may answer with: a page's errors are pages."""
    media = {media for answer in route.extra.get("responses", {}).values()
             for media in answer.get("content", {})}
    page = ("text/html; charset=utf-8",) if "text/html" in media else ()
    return ("application/json", PROBLEM_JSON, *page)


INT_ROUTES = [r for r in ROUTES if any(conv == "int" for _, conv in r.path_parameters)]


@pytest.mark.parametrize("route", INT_ROUTES, ids=route_id)
def test_an_id_past_64_bits_names_nothing(client, admin, route):
    """Reward ids above 2**63 on approve/pay overflowed the database (a 500)."""
    url = concrete(route, **{name: str(2**63) for name, _ in route.path_parameters})
    assert_error(client.request(route.method, url, token=admin, json={}), 404)


@pytest.mark.parametrize("query", ["limit=abc", "limit=-1", "limit=100000000000000000000",
                                   "offset=-5", "limit=1.5", "unknown=1"])
def test_bad_paging_parameters_are_a_400(client, admin, query):
    response = client.get(f"{V1}/organizations/{NANKENG}/enterprises?{query}", token=admin)
    assert_error(response, 400)


def test_an_empty_change_is_a_400_that_says_so(client, admin, registry):
    response = client.patch(f"{V1}/enterprises/{NK_ENTERPRISE}", {}, token=admin)
    assert "at least one field" in json.dumps(assert_error(response, 400)["errors"])
    assert registry.writes == []


def test_an_import_names_each_bad_row_and_imports_nothing(client, admin, registry):
    good = {"credit_code": "91440300MA5GD0001H", "name": "好厂", "community_code": NANKENG,
            "headcount": 30, "union_status": "covered"}
    rows = [good, {**good, "headcount": "many"}, "not a row", {**good, "credit_code": None},
            {"name": "no credit code"}]
    body = assert_error(client.post(f"{V1}/enterprises/import", rows, token=admin), 400)
    assert sorted(error_fields(body)) == ["2", "3", "4", "5"]
    assert registry.writes == []
    assert_error(client.post(f"{V1}/enterprises/import", [], token=admin), 400)
    too_many = client.post(f"{V1}/enterprises/import", [good] * 5001, token=admin)
    assert_error(too_many, 400)


def test_unknown_routes_get_the_404_problem(client):
    for path in ("/nothing", "/api/v1/nothing", "/api/v2/organizations/x",
                 f"{V1}/organizations/{NANKENG}/nothing"):
        for method in ("GET", "POST", "DELETE"):
            response = client.request(method, path)
            assert assert_error(response, 404)["code"] == "NOT_FOUND"


def test_a_known_path_with_the_wrong_method_is_a_405_naming_the_allowed_ones(client):
    response = client.request("DELETE", f"{V1}/organizations/{NANKENG}")
    assert assert_error(response, 405)["allowed"] == ["GET", "PATCH"]
    assert response.headers["Allow"] == "GET, PATCH"
    assert_error(client.request("POST", "/healthz"), 405)
    assert_error(client.request("POST", "/"), 405)  # the staff home is a page to GET


def test_unknown_organizations_and_enterprises_are_a_404(client, admin):
    assert_error(client.get(f"{V1}/organizations/longgang.nowhere"), 404)
    assert_error(client.get(f"{V1}/enterprises/91440300MA5NONE01X", token=admin), 404)
    response = client.post(f"{V1}/enterprises/91440300MA5NONE01X/close", {"reason": "x"},
                           token=admin)
    assert_error(response, 404)


def test_a_conflict_from_the_registry_is_a_409(client, admin, registry):
    existing = {"credit_code": NK_ENTERPRISE, "name": "重复", "community_code": NANKENG,
                "headcount": 30}
    response = client.post(f"{V1}/enterprises", existing, token=admin)
    assert assert_error(response, 409)["code"] == "CONFLICT"
    assert registry.writes == []


def test_api_answers_are_never_cached(client):
    response = client.get(f"{V1}/organizations/{NANKENG}")
    assert response.headers["Cache-Control"] == "no-store"
