"""shared/web.py: problem answers over HTTP in every service, JSON bodies only (415),
and hostile JSON a 400, never a 500."""

import pytest
import requests
from werkzeug.test import EnvironBuilder
from werkzeug.wrappers import Request

from shared import errors
from shared.web import INT64, MAX_JSON_DEPTH, http, json_response, read_json
from tests.shared.demo.service import DemoService
from tests.shared.problems import problem


class WebDemo(DemoService):
    @http("POST", "/echo")
    def echo(self, request):
        return json_response(read_json(request))

    @http("GET", "/refuse")
    def refuse(self, request):
        raise errors.TooManyRequests("at most 1 per 1 h", {"retry_after": 3599})

    @http("GET", "/crash")
    def crash(self, request):
        raise RuntimeError("internal detail")


@pytest.fixture
def base(container_factory, service_config):
    container_factory(WebDemo, service_config).start()
    return f"http://{service_config['WEB_SERVER_ADDRESS']}"


def test_errors_raised_in_a_route_are_problems_naming_the_request(base):
    refused = problem(requests.get(f"{base}/refuse?x=1"), 429)
    assert refused["instance"] == "/refuse" and refused["retry_after"] == 3599
    crashed = requests.get(f"{base}/crash")
    assert problem(crashed, 500)["code"] == "INTERNAL"
    assert "internal detail" not in crashed.text


def test_a_request_no_route_takes_is_a_problem_from_the_server_itself(base):
    missing = problem(requests.get(f"{base}/nowhere/南"), 404)
    assert missing["instance"] == "/nowhere/%E5%8D%97"
    wrong = requests.delete(f"{base}/healthz")
    assert problem(wrong, 405)["allowed"] == ["GET"]
    assert wrong.headers["Allow"] == "GET"


def test_a_json_route_takes_json_only(base):
    assert requests.post(f"{base}/echo", json={"a": 1}).json() == {"a": 1}
    for headers in ({"Content-Type": "text/plain"}, {}, {"Content-Type": "application/xml"}):
        refused = problem(requests.post(f"{base}/echo", data=b'{"a": 1}', headers=headers),
                          415)
        assert refused["accepted"] == ["application/json"]
    merge_patch = {"Content-Type": "application/merge-patch+json; charset=utf-8"}
    assert requests.post(f"{base}/echo", data=b'{"a": 1}', headers=merge_patch).ok
    assert problem(requests.post(f"{base}/echo", data=b"", headers={}), 400)["errors"] == []


HOSTILE_BODIES = {
    "nested 20,000 deep": b"[" * 20_000 + b"]" * 20_000,
    "nested past the limit": b'{"a":' * (MAX_JSON_DEPTH + 1) + b"1" + b"}" * (MAX_JSON_DEPTH + 1),
    "a 5,000-digit integer": b'{"n": ' + b"9" * 5000 + b"}",
    "an integer past 64 bits": b'{"n": %d}' % (INT64 + 1),
    "a lone surrogate": b'{"name": "\\ud800"}',
    "a lone surrogate as a key": b'{"\\udfff": 1}',
    "a number that is infinite": b'{"n": 1e400}',
    "NaN": b'{"n": NaN}',
    "not UTF-8": b'{"name": "\xff"}',
    "UTF-16 with its BOM": '{"a": 1}'.encode("utf-16"),
    "UTF-16 without a BOM": '{"a": 1}'.encode("utf-16-le"),
}


@pytest.mark.parametrize("body", HOSTILE_BODIES.values(), ids=HOSTILE_BODIES.keys())
def test_hostile_json_is_a_400_problem_never_a_500(base, body):
    refused = problem(requests.post(f"{base}/echo", data=body,
                                    headers={"Content-Type": "application/json"}), 400)
    assert refused["code"] == "INVALID_INPUT"


def test_json_at_the_limits_is_taken():
    deepest = b'{"a":' * (MAX_JSON_DEPTH - 1) + b"[1]" + b"}" * (MAX_JSON_DEPTH - 1)
    for body in (b'{"n": %d, "m": %d}' % (INT64, -INT64), deepest, '{"名": "南坑 ✓"}'.encode()):
        request = Request(EnvironBuilder(method="POST", data=body,
                                         content_type="application/json").get_environ())
        assert read_json(request) is not None


@pytest.mark.parametrize("content_type", ["application/json; charset=utf-16",
                                          "application/json; charset=latin-1"])
def test_a_json_body_in_another_charset_than_utf8_is_a_415(base, content_type):
    answer = requests.post(f"{base}/echo", data='{"a": 1}'.encode("utf-16"),
                           headers={"Content-Type": content_type})
    assert "UTF-8" in problem(answer, 415)["detail"]


@pytest.mark.parametrize("content_type", ["text/plain", None, "multipart/form-data"])
def test_read_json_refuses_a_body_that_is_not_json_with_415(content_type):
    headers = {"Content-Type": content_type} if content_type else {}
    request = Request(EnvironBuilder(method="POST", data=b"{}", headers=headers).get_environ())
    with pytest.raises(errors.UnsupportedMediaType):
        read_json(request)


def test_an_unready_service_is_a_503_problem_with_its_checks(container_factory,
                                                              make_service_config,
                                                              sqlite_url):
    config = make_service_config(sqlite_url)
    container_factory(WebDemo, config).start()
    config["AMQP_URI"] = "amqp://guest:guest@127.0.0.1:1/"
    answer = problem(requests.get(f"http://{config['WEB_SERVER_ADDRESS']}/readyz"), 503)
    assert answer["code"] == "UNAVAILABLE" and answer["checks"]["database"] is True
    assert "broker" in answer["detail"]
