"""Bulk import of enterprises (CSV, JSON, JSON lines): upsert by credit code.

    report = import_rows(db, read_file("enterprises.csv")[1], caller)

Rows go through the same rules and the same ``EnterpriseWriter`` as the RPC API, a
batch per transaction: the counts of a batch are summed in memory and written once, its
events go to the outbox in one INSERT. A bad row is reported (row number, credit code,
reason) and skipped; the good rows of its batch are kept. An unchanged row writes
nothing and publishes nothing, so importing the same file twice is harmless.

A blank cell means "not stated": a new enterprise takes the default, an existing one
keeps its value (see ``domain.merge_enterprise``). ``assigned_leader`` in a CSV cell is
``姓名|职务|电话`` (title and phone optional) or a JSON object.

Each row is loaded here with the RPC contract's ``NewEnterpriseSchema`` (partial for an
enterprise already registered), not by the entrypoint: a bad row is one line of the
report, not a rejected call. A row outside the caller's subtree is rejected the same way.
A row of plainly good values takes a shortcut that gives what the schema would
(``quick_load``); any other goes through the schema, so a rejection reads the same.
"""

import csv
import io
import json
from dataclasses import dataclass, field
from pathlib import Path

from marshmallow import validate

from services.registry import domain
from services.registry.operations import EnterpriseWriter
from services.registry.views import Organizations
from shared.api.registry import (
    HEADCOUNT,
    NewEnterpriseSchema,
    code_problem,
    credit_code_problem,
    normalize_credit_code,
)
from shared.caller import Caller
from shared.errors import Forbidden, InvalidInput, ServiceError
from shared.events.registry import UNION_STATUSES
from shared.schemas import load

COLUMNS = ("credit_code", "name", "address", "community_code", "headcount", "union_status",
           "union_code", "key_enterprise", "assigned_leader")
BATCH_SIZE = 5000  # rows per transaction and per enterprise_batch_imported (about 1.7 MB)
ROW = NewEnterpriseSchema()


@dataclass
class ImportReport:
    rows: int = 0
    created: int = 0
    updated: int = 0  # updated or moved
    unchanged: int = 0
    rejected: int = 0
    errors: list = field(default_factory=list)  # {"row", "credit_code", "reason"}
    ignored_columns: list = field(default_factory=list)

    def count(self, outcome):
        if outcome == "created":
            self.created += 1
        elif outcome == "unchanged":
            self.unchanged += 1
        else:
            self.updated += 1

    def reject(self, row_number, credit_code, reason):
        self.rejected += 1
        self.errors.append({"row": row_number, "credit_code": credit_code, "reason": reason})

    def as_dict(self) -> dict:
        return {"rows": self.rows, "created": self.created, "updated": self.updated,
                "unchanged": self.unchanged, "rejected": self.rejected,
                "errors": self.errors, "ignored_columns": self.ignored_columns}


def reason_text(error: ServiceError) -> str:
    """One line from an error and its field messages (for a report cell)."""
    if isinstance(error, Forbidden) or not isinstance(error.details, dict):
        return error.message
    parts = []
    for name, messages in error.details.items():
        if isinstance(messages, dict):  # nested: assigned_leader.name
            messages = [f"{key}: {' '.join(map(str, value))}" for key, value in messages.items()]
        elif not isinstance(messages, list):
            messages = [messages]
        parts.append(f"{name}: {' '.join(str(m) for m in messages)}")
    return "; ".join(parts) or error.message


def clean_row(raw) -> dict:
    """Drops blank cells and unknown columns; parses a ``姓名|职务|电话`` leader cell."""
    if isinstance(raw, Exception):  # a line that could not be parsed
        raise ValueError(str(raw))
    if not isinstance(raw, dict):
        raise ValueError(f"a row is an object of columns, got {type(raw).__name__}")
    row = {}
    for name in COLUMNS:
        value = raw.get(name)
        if isinstance(value, str):
            value = value.strip()
        if value is None or value == "":
            continue
        row[name] = value
    leader = row.get("assigned_leader")
    if isinstance(leader, str):
        if leader.startswith("{"):
            row["assigned_leader"] = json.loads(leader)
        elif leader in ("-", "无"):  # explicitly none
            row["assigned_leader"] = None
        else:
            parts = [part.strip() or None for part in leader.split("|")]
            row["assigned_leader"] = dict(zip(("name", "title", "phone"), parts, strict=False))
    return row


# --- the shortcut past the schema for plainly good rows -----------------------------------
# marshmallow spends ~60 us on a row (a third of the import's CPU). These checks accept
# only values whose load is plain (text of the right type and length, an int or a string
# of ASCII digits, a known status) and return what ROW.load returns for them; anything
# else is left to the schema. Lengths and ranges are read from the schema's own fields;
# tests/registry/test_importer.py holds the two side by side.

_NOT_PLAIN = object()


def _length(schema_field):
    (length,) = [v for v in schema_field.validators if isinstance(v, validate.Length)]
    return length.min or 0, length.max


def _text(schema_field):
    low, high = _length(schema_field)
    allow_none = schema_field.allow_none

    def check(value):
        if type(value) is str and low <= len(value) <= high:
            return value
        return None if value is None and allow_none else _NOT_PLAIN
    return check


def _code(schema_field):
    allow_none = schema_field.allow_none

    def check(value):
        if type(value) is str:
            value = value.strip()
            return _NOT_PLAIN if code_problem(value) else value
        return None if value is None and allow_none else _NOT_PLAIN
    return check


def _credit_code(value):
    if type(value) is not str:
        return _NOT_PLAIN
    value = normalize_credit_code(value)
    return _NOT_PLAIN if credit_code_problem(value) else value


def _headcount(value):
    if type(value) is str and value.isascii() and value.isdigit():
        value = int(value)
    elif type(value) is not int:
        return _NOT_PLAIN
    return value if HEADCOUNT.min <= value <= HEADCOUNT.max else _NOT_PLAIN


def _union_status(value):
    return value if type(value) is str and value in UNION_STATUSES else _NOT_PLAIN


_KEY_FIELD = ROW.fields["key_enterprise"]


def _key_enterprise(value):
    if value is None:
        return None
    if type(value) in (bool, int, str):
        if value in _KEY_FIELD.truthy:
            return True
        if value in _KEY_FIELD.falsy:
            return False
    return _NOT_PLAIN


_LEADER_FIELDS = ROW.fields["assigned_leader"].schema.fields
_LEADER = {name: _text(_LEADER_FIELDS[name]) for name in ("name", "title", "phone")}


def _leader(value):
    if value is None:
        return None
    if type(value) is not dict or "name" not in value or not value.keys() <= _LEADER.keys():
        return _NOT_PLAIN
    loaded = {}
    for name, check in _LEADER.items():  # the schema's field order, as its load gives
        if name in value:
            loaded[name] = check(value[name])
            if loaded[name] is _NOT_PLAIN:
                return _NOT_PLAIN
    return loaded


QUICK_CHECKS = {  # one per field of NewEnterpriseSchema, in its order
    "credit_code": _credit_code,
    "name": _text(ROW.fields["name"]),
    "address": _text(ROW.fields["address"]),
    "community_code": _code(ROW.fields["community_code"]),
    "headcount": _headcount,
    "union_status": _union_status,
    "union_code": _code(ROW.fields["union_code"]),
    "key_enterprise": _key_enterprise,
    "assigned_leader": _leader,
}
_REQUIRED = [name for name, schema_field in ROW.fields.items() if schema_field.required]


def quick_load(row: dict, partial: bool) -> dict | None:
    """``ROW.load(row, partial=partial)`` for a row of plainly good values; None where
    the schema must decide (a missing required field too, and any unknown column)."""
    if not row.keys() <= QUICK_CHECKS.keys() or "credit_code" not in row:
        return None
    if not partial and any(name not in row for name in _REQUIRED):
        return None
    loaded = {}
    for name, check in QUICK_CHECKS.items():
        if name in row:
            value = check(row[name])
            if value is _NOT_PLAIN:
                return None
            loaded[name] = value
    return loaded


def _stated(writer, raw):
    """(credit_code, stated fields) of one row; raises ServiceError explaining a rejection."""
    try:
        row = clean_row(raw)
    except (ValueError, json.JSONDecodeError) as exc:
        raise InvalidInput(f"row rejected: {exc}") from None
    code = normalize_credit_code(row.get("credit_code"))
    existing = writer.current(code) if isinstance(code, str) else None
    # A new enterprise needs its name, community and headcount; an existing one, nothing.
    # (The schema checks the credit code, so a bad one is reported with the rest.)
    partial = existing is not None
    stated = quick_load(row, partial)
    if stated is None:
        stated = load(ROW, row, "row rejected", partial=partial)
    return stated["credit_code"], stated


def _save(writer, code, stated) -> str:
    existing = writer.current(code)
    if existing is None:
        return writer.save(domain.merge_enterprise(None, stated))
    community = stated.pop("community_code", existing.community_code)
    if community != existing.community_code:
        existing = domain.moved_enterprise(existing, community)
    return writer.save(domain.merge_enterprise(existing, stated))


def _named_codes(writer, parsed):
    """Organizations the rows will look up, so that one query reads them all."""
    for _, code, stated in parsed:
        existing = writer.current(code)
        community = stated.get("community_code") or existing.community_code
        yield community
        yield stated.get("union_code")
        if existing is not None or stated.get("union_status") == "own":
            # An own union, if it has one; a new enterprise not stated "own" cannot.
            yield domain.enterprise_union_code(community, code)


def import_rows(db, rows, caller: Caller, batch_size=BATCH_SIZE, progress=None
                ) -> ImportReport:
    """Imports ``(row_number, row)`` pairs for ``caller``; ``progress(n)`` is told of each
    n rows done."""
    report = ImportReport()
    batch = []
    for item in rows:
        batch.append(item)
        if len(batch) >= batch_size:
            _import_batch(db, batch, report, caller)
            if progress:
                progress(len(batch))
            batch = []
    if batch:
        _import_batch(db, batch, report, caller)
        if progress:
            progress(len(batch))
    return report


def _import_batch(db, batch, report, caller):
    rejected = []
    with db.unit_of_work() as uow:
        writer = EnterpriseWriter(uow, Organizations(uow.session, lock=True), caller)
        writer.load(
            normalize_credit_code(raw.get("credit_code")) for _, raw in batch
            if isinstance(raw, dict) and isinstance(raw.get("credit_code"), str)
        )
        parsed = []
        for row_number, raw in batch:
            try:
                parsed.append((row_number, *_stated(writer, raw)))
            except ServiceError as error:
                rejected.append((row_number, _given_code(raw), error))
        writer.orgs.load(_named_codes(writer, parsed))
        for row_number, code, stated in parsed:
            try:
                report.count(_save(writer, code, stated))
            except ServiceError as error:
                rejected.append((row_number, code, error))
        writer.flush(validate_events=False, one_batch_event=True)  # see flush
    report.rows += len(batch)
    for row_number, code, error in sorted(rejected, key=lambda item: item[0]):
        report.reject(row_number, code, reason_text(error))


def _given_code(raw):
    return raw.get("credit_code") if isinstance(raw, dict) else None


# --- files -----------------------------------------------------------------------------

def read_file(path) -> tuple[list[str], object]:
    """(ignored column names, iterator of (row number, row)) for a CSV, JSON or JSONL file.

    Row numbers are what a person finds in the file: the line of a CSV record (the
    header is line 1), the line of a JSON-lines record, the position in a JSON array.
    CSV exported by Excel on Chinese Windows is often GB18030: accepted as well as UTF-8.
    """
    path = Path(path)
    data = path.read_bytes()
    try:
        content = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        content = data.decode("gb18030")
    suffix = path.suffix.lower()
    if suffix == ".json":
        return [], _json_rows(content)
    if suffix in (".jsonl", ".ndjson"):
        return [], _jsonl_rows(content)
    return _csv_rows(content)


def _csv_rows(content):
    reader = csv.DictReader(io.StringIO(content))
    header = reader.fieldnames or []
    if "credit_code" not in header:
        raise ValueError(f"the CSV has no credit_code column (columns: {', '.join(header)})")

    def rows():
        for record in reader:
            yield reader.line_num, record

    return [name for name in header if name not in COLUMNS], rows()


def _json_rows(content):
    data = json.loads(content)
    if isinstance(data, dict):
        data = data.get("enterprises")
    if not isinstance(data, list):
        raise ValueError('a JSON import is a list of rows (or {"enterprises": [...]})')
    return enumerate(data, start=1)


def _jsonl_rows(content):
    for number, line in enumerate(content.splitlines(), start=1):
        if line.strip():
            try:
                yield number, json.loads(line)
            except json.JSONDecodeError as exc:
                yield number, ValueError(f"not valid JSON: {exc}")


def count_rows(path) -> int | None:
    """Rows in a file, for the progress bar (None where it cannot tell cheaply)."""
    path = Path(path)
    if path.suffix.lower() == ".json":
        return None
    with path.open("rb") as handle:
        lines = sum(1 for line in handle if line.strip())
    return lines - 1 if path.suffix.lower() == ".csv" else lines


def write_report(report: ImportReport, path):
    with open(path, "w", newline="", encoding="utf-8-sig") as handle:
        writer = csv.DictWriter(handle, fieldnames=["row", "credit_code", "reason"])
        writer.writeheader()
        writer.writerows(report.errors)
