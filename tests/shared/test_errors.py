"""shared/errors.py: every error as RFC 9457 problem details, and across RPC as itself."""

import pytest
from marshmallow import Schema, ValidationError, fields, validate
from nameko.exceptions import deserialize, serialize

import shared.web  # noqa: F401 - registers the errors with nameko
from shared import errors


class Leader(Schema):
    phone = fields.String(required=True)


class Enterprise(Schema):
    headcount = fields.Integer(required=True, validate=validate.Range(min=0))
    leaders = fields.List(fields.Nested(Leader))


def marshmallow_messages(data, many=False):
    with pytest.raises(ValidationError) as caught:
        Enterprise(many=many).load(data)
    return caught.value.messages


def test_a_problem_has_the_standard_members_and_code():
    error = errors.NotFound("no organization has the code 'x'", {"code": "x", "kind": "org"})
    assert error.problem("/api/v1/organizations/x") == {
        "type": "/problems/not-found", "title": "Not found", "status": 404,
        "detail": "no organization has the code 'x'", "instance": "/api/v1/organizations/x",
        "code": "NOT_FOUND", "kind": "org"}  # the details' "code" would hide the real one


def test_field_errors_are_one_flat_list_of_dotted_paths():
    messages = marshmallow_messages({"headcount": -1, "leaders": [{"phone": 1}, {}],
                                     "zzz": 1})
    body = errors.from_validation_error(ValidationError(messages)).problem("/x")
    assert sorted(body["errors"], key=lambda e: e["field"]) == [
        {"field": "headcount", "message": "Must be greater than or equal to 0."},
        {"field": "leaders.0.phone", "message": "Not a valid string."},
        {"field": "leaders.1.phone", "message": "Missing data for required field."},
        {"field": "zzz", "message": "Unknown field."}]
    many = errors.InvalidInput("rows rejected", marshmallow_messages([{"headcount": 1}, 5],
                                                                     many=True))
    assert many.problem()["errors"] == [{"field": "1", "message": "Invalid input type."}]
    assert errors.InvalidInput("body is not JSON").problem()["errors"] == []


def test_other_details_become_members_and_their_errors_entry_the_field_list():
    forbidden = errors.Forbidden("2 rows outside", {"errors": {"2": ["outside"]},
                                                    "org_code": "longgang"})
    assert forbidden.problem()["errors"] == [{"field": "2", "message": "outside"}]
    assert forbidden.problem()["org_code"] == "longgang"
    limited = errors.TooManyRequests("slow down", {"scope": "caller", "retry_after": "7"})
    assert (limited.problem()["retry_after"], limited.problem()["scope"]) == (7, "caller")
    assert errors.Conflict("taken", ["not", "a", "dict"]).problem()["code"] == "CONFLICT"


@pytest.mark.parametrize("error", errors.ALL_ERRORS, ids=lambda e: e.code)
def test_each_error_is_its_own_problem_type(error):
    assert error.type_uri() == "/problems/" + error.code.lower().replace("_", "-")
    assert error.title and 400 <= error.status < 600
    assert error.status == error("x").problem()["status"]


@pytest.mark.parametrize("details", [
    None,
    {"worker_id": 5, "retry_after": 60, "closed": False, "reason": None},
    {"headcount": ["Must be at least 0."], "0": {"phone": ["Not a valid string."]}},
    ["a", 1, None],
])
def test_an_error_crosses_rpc_as_itself_with_its_details_typed(details):
    # nameko turns every number, boolean and None in an exception's args into a string
    error = errors.TooManyRequests("over the limit", details)
    arrived = deserialize(serialize(error))
    assert type(arrived) is errors.TooManyRequests
    assert (arrived.message, arrived.details) == ("over the limit", details)
    assert str(arrived) == "over the limit"
    assert arrived.problem("/p") == error.problem("/p")
