"""The pages' message catalogue (services/gateway/messages.yaml): what the services can
say, and what the pages name, has its Chinese."""

import inspect

import pytest
from marshmallow import Schema, ValidationError, fields, validate

from services.figures import FIGURES
from services.gateway import messages
from shared.api import disputes as contract
from shared.api.notifications import AcknowledgementInSchema
from shared.errors import ALL_ERRORS, Conflict, InvalidInput
from shared.events.disputes import CATEGORIES, GRADES, HANDLING_TIERS, STATUSES


# Every rejection marshmallow can make, with the parameters our schemas give them.
def rejected(validator, value) -> str:
    try:
        validator(value)
    except ValidationError as error:
        return error.messages[0]
    raise AssertionError(f"{validator} took {value!r}")


VALIDATOR_MESSAGES = [
    rejected(validate.Range(min=0, max=5), 9), rejected(validate.Range(min=0), -1),
    rejected(validate.Range(max=5), 9), rejected(validate.Length(min=1, max=200), ""),
    rejected(validate.Length(min=1), ""), rejected(validate.Length(max=2), "abc"),
    rejected(validate.Length(equal=2), "abc"), rejected(validate.OneOf(GRADES), "x"),
    rejected(validate.Regexp("^a$"), "b"),
]


def marshmallow_messages() -> list[str]:
    found = set(Schema._default_error_messages.values())
    for _, field in inspect.getmembers(fields, inspect.isclass):
        if issubclass(field, fields.Field):
            found.update(field.default_error_messages.values())
    return sorted(message for message in found if "{" not in message)


@pytest.mark.parametrize("english", marshmallow_messages() + VALIDATOR_MESSAGES)
def test_every_message_marshmallow_makes_has_its_chinese(english):
    chinese = messages.field_message(english)
    assert chinese != messages.UNKNOWN_FIELD_MESSAGE or english == "Invalid value.", english
    assert not any("a" <= ch.lower() <= "z" for ch in chinese), chinese


def rejections(schema, body) -> list[str]:
    try:
        schema.load(body)
    except ValidationError as error:
        return [item["message"] for item in InvalidInput("x", error.messages).problem()
                ["errors"]]
    raise AssertionError("accepted")


@pytest.mark.parametrize("schema, body", [
    (contract.ReportSchema(), {"workers_affected": None, "amount_owed": "1.001",
                               "description": "", "category": "x", "expected_at": "someday",
                               "identity": {"real_name": "王", "phone": "call me"}}),
    (contract.ReportSchema(), {"category": "other", "workers_affected": -1,
                               "amount_owed": "1e30", "description": "d"}),
    (contract.ReportSchema(), {"category": "other", "workers_affected": 1,
                               "amount_owed": 1, "description": "d", "credit_code": "123"}),
    (contract.ReportSchema(), {"category": "other", "workers_affected": 1,
                               "amount_owed": 1, "description": "d"}),
    (contract.HandlingSchema(), {"joint": True, "departments": []}),
    (contract.ResolveSchema(), {"wages_recovered": "lots", "workers_covered": "many"}),
    (contract.VisitSchema(), {"kind": "call", "irregular_practice": "perhaps"}),
    (AcknowledgementInSchema(), {"organization_code": "a b", "recipient_kind": "boss"}),
])
def test_what_the_console_forms_can_be_told_is_in_the_catalogue(schema, body):
    for english in rejections(schema, body):
        assert messages.field_message(english) != messages.UNKNOWN_FIELD_MESSAGE, english


def test_every_problem_code_has_a_sentence():
    for error in ALL_ERRORS:
        assert messages.problem_sentence(error.code) != messages.UNKNOWN_PROBLEM, error.code


def test_a_conflict_names_the_statuses_in_chinese():
    explained = messages.explain(Conflict("a reported case cannot become closed; next: "
                                          "verified, rejected"))
    assert explained.summary == "案件当前为“已受理”，不能改为“已结案”。"
    assert explained.status == 409


def test_field_errors_are_gathered_under_the_field_the_form_shows():
    explained = messages.explain({"code": "INVALID_INPUT", "status": 400, "errors": [
        {"field": "identity.phone", "message": "must be a phone number"},
        {"field": "workers_affected", "message": "Field may not be null."}]})
    assert explained.fields == {"identity": ["请填写正确的电话号码。"],
                                "workers_affected": ["此项必填。"]}
    assert messages.field_message("no entry for this one") == "此项填写有误。"


@pytest.mark.parametrize("kind, names", [("grade", GRADES), ("status", STATUSES),
                                         ("category", CATEGORIES), ("tier", HANDLING_TIERS)])
def test_the_pages_name_every_value_in_chinese(kind, names):
    for name in names:
        assert messages.value(name, kind) != name, (kind, name)


def test_the_scripts_catalogue_is_the_same_catalogue():
    catalogue = messages.catalogue()
    assert catalogue["problems"]["NOT_FOUND"] == messages.problem_sentence("NOT_FOUND")
    assert any(chinese == "此项必填。" and "null" in pattern
               for pattern, chinese in catalogue["fields"])
    assert all("(?P<" not in pattern for pattern, _ in catalogue["fields"])


def test_the_figures_page_names_every_figure_in_chinese():
    for figure in FIGURES:
        for text in (messages.value(figure.place, "figure_place"),
                     messages.value(figure.what, "figure"),
                     messages.value(figure.seed, "figure_seed"),
                     messages.value(figure.service, "service")):
            assert not any("a" <= ch <= "z" for ch in text), (figure.what, text)
