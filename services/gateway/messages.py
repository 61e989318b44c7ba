"""The pages' message catalogue: what the services say in English (problem codes, field
messages, details), and the values they name, as people in the district read them. The
data is ``messages.yaml`` beside this file; this module only looks things up.

Server-rendered pages (``pages.render``) explain an error they caught::

    try:
        ...
    except ServiceError as error:
        explained = messages.explain(error)   # or explain(problem_json) from a script
        explained.summary                     # one Chinese sentence
        explained.fields                      # {"workers_affected": ["此项必填。"], ...}

and templates have ``{{ "urgent" | value("grade") }}`` (紧急), ``{{ "workers_affected" |
label }}`` (涉及人数) and the macro ``field_error(errors, "workers_affected")`` from
``_form.html``, which puts the messages beside the field with ``aria-describedby``.

Pages with a script (the report form, the judges' page) get the same catalogue as JSON
(``catalogue()``, in ``{% include "_messages_script.html" %}``) and ``gonghuiMessages
.explain(problem)``, which answers the same as ``explain`` here.

A message with no entry is shown as the generic sentence of its kind (``此项填写有误。``
beside a field, the problem code's sentence above the form), never in English.
"""

import re
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import yaml

from shared.errors import ServiceError, field_errors

CATALOGUE = Path(__file__).with_name("messages.yaml")
UNKNOWN_FIELD_MESSAGE = "此项填写有误。"
UNKNOWN_PROBLEM = "操作未能完成，请稍后再试。"
_PLACEHOLDER = re.compile(r"\{(\w+)\}")
_FILLED = re.compile(r"\{(\w+)(?::(\w+))?\}")  # {name}, or {name:kind}: the value's label


@dataclass(frozen=True)
class Explained:
    summary: str
    fields: dict = field(default_factory=dict)  # field name -> [Chinese messages]
    status: int = 400


def _pattern(template: str) -> str:
    """A catalogue template as a regular expression: ``{name}`` matches any text."""
    parts = _PLACEHOLDER.split(template)
    # split alternates text and placeholder names: text, name, text, name, text...
    return "^" + "".join(re.escape(part) if index % 2 == 0 else f"(?P<{part}>.+?)"
                         for index, part in enumerate(parts)) + "$"


@cache
def _data() -> dict:
    return yaml.safe_load(CATALOGUE.read_text(encoding="utf-8"))


@cache
def _templates(section: str) -> tuple:
    """(compiled pattern, Chinese) of a section, exact texts first then by length, so the
    most specific template wins."""
    entries = sorted(_data()[section].items(),
                     key=lambda item: ("{" in item[0], -len(item[0])))
    return tuple((re.compile(_pattern(english), re.DOTALL), chinese)
                 for english, chinese in entries)


def _fill(found, name: str, kind: str | None) -> str:
    text = found.group(name) or ""
    return value(text, kind) if kind else text


def _translate(section: str, english: str) -> str | None:
    for pattern, chinese in _templates(section):
        found = pattern.match(english.strip())
        if found:
            return _FILLED.sub(lambda m, found=found: _fill(found, *m.groups()), chinese)
    return None


def field_message(english: str) -> str:
    """A field's message in Chinese: ``Field may not be null.`` -> ``此项必填。``."""
    return _translate("fields", str(english)) or UNKNOWN_FIELD_MESSAGE


def problem_sentence(code: str | None, detail: str | None = None) -> str:
    """The sentence above a form: the detail's entry, else the problem code's."""
    if detail:
        known = _translate("details", str(detail))
        if known:
            return known
    return _data()["problems"].get(code or "", UNKNOWN_PROBLEM)


def value(name: str, kind: str) -> str:
    """A service's value as the pages say it: ``value("urgent", "grade")`` -> 紧急; an
    unknown one as it came."""
    if name is None:
        return ""
    return _data()["values"].get(kind, {}).get(name, name)


def reward_rule(english: str) -> str:
    """A line of a reward's explanation (the rule behind part of its amount) in Chinese:
    ``verified.urgent: 600.00`` -> ``核实奖励（紧急）：600.00 元``; one with no entry
    as it came (it names the policy's own terms)."""
    return _translate("reward_rules", str(english)) or str(english)


def label(name: str) -> str:
    """A field's name as the pages say it: ``workers_affected`` -> 涉及人数."""
    return _data()["labels"].get(name, name)


def explain(error) -> Explained:
    """A ``ServiceError`` or a problem JSON (``shared.errors``) in Chinese: a sentence, and
    each field's messages under the field's top-level name (``identity.phone`` ->
    ``identity``: the form has one place for it)."""
    if isinstance(error, ServiceError):
        problem = error.problem()
    else:
        problem = dict(error or {})
    fields_: dict[str, list[str]] = {}
    for item in problem.get("errors") or field_errors(problem.get("details")):
        name = str(item.get("field") or "").split(".")[0]
        fields_.setdefault(name, []).append(field_message(item.get("message", "")))
    return Explained(problem_sentence(problem.get("code"), problem.get("detail")),
                     fields_, int(problem.get("status") or 400))


@cache
def catalogue() -> dict:
    """The catalogue for a page's script: JavaScript regular expressions (named groups
    ``(?<name>...)``) with their Chinese, and the tables as they are."""
    data = _data()

    def script(section):
        return [[pattern.pattern.replace("(?P<", "(?<"), chinese]
                for pattern, chinese in _templates(section)]

    return {"problems": data["problems"], "details": script("details"),
            "fields": script("fields"), "values": data["values"], "labels": data["labels"],
            "unknown_field": UNKNOWN_FIELD_MESSAGE, "unknown_problem": UNKNOWN_PROBLEM}
