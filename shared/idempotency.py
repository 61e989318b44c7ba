"""``Idempotency-Key``: a client's retry of a write gets the first answer, not a second write.

A client that sent a creating request and lost the answer (a 504, a broken connection)
sends it again with the same ``Idempotency-Key`` header. The gateway turns the key into a
``ref`` (``{"key", "fingerprint"}``, both keyed hashes made with ``GATEWAY_PII_KEY``, so
neither the key nor anything of the body crosses the broker in clear):

- ``key``: the client's key within its caller's scope (the user, the officer's token; an
  anonymous informant is a scope of their own), so one caller's key never finds another
  caller's answer;
- ``fingerprint``: the request itself (method, path, body), so the same key with another
  request is refused (422 ``IDEMPOTENCY_KEY_REUSED``) instead of answered with the first
  request's result.

The service that owns the data keeps ``ref`` and the answer it gave in the same unit of
work as the write (``once``): a retry finds the answer exactly when the write committed,
on any replica, after any restart. Keys are kept ``RETENTION`` (24 hours), then forgotten
(``forget_expired``, on each service's timer); a key sent again later is a new request.

    answer = idempotency.once(self.db, ref, lambda uow: SCHEMA.dump(write(uow, ...)))
"""

import json
import re
from datetime import timedelta

from marshmallow import Schema, fields, validate
from nameko.timer import timer
from sqlalchemy import Column, DateTime, MetaData, String, Table, Text, delete, insert, select

from shared.errors import IdempotencyKeyReused, InvalidInput
from shared.schemas import load
from shared.timeutil import as_utc, now_utc

HEADER = "Idempotency-Key"
PATTERN = re.compile(r"^[A-Za-z0-9_-]{8,64}$")
ANONYMOUS = "anonymous"  # the scope of callers without a token
ANONYMOUS_MIN_LENGTH = 32
RETENTION = timedelta(hours=24)
HEX_32 = validate.Regexp(r"^[0-9a-f]{32}$", error="must be 32 hex digits")



def columns() -> list:
    """The columns of a service's ``idempotency_keys`` table: its models declare
    ``Table(TABLE, metadata, *idempotency.columns())`` and a migration creates it."""
    return [
        Column("key", String(64), primary_key=True),  # keyed hash: the caller's key
        Column("fingerprint", String(64), nullable=False),  # keyed hash: the request
        Column("answer", Text, nullable=False),  # JSON, as the service answered
        Column("expires_at", DateTime(timezone=True), nullable=False, index=True),
    ]


def create_table_v1(op):
    """In the migration that gives a service ``Idempotency-Key``: the table as its first
    version made it, written out rather than from ``columns()`` so that a later change to
    the models cannot silently change a migration that has already run (change it with a
    new migration; each service's migration test compares the models with the result)."""
    op.create_table(
        TABLE,
        Column("key", String(64), primary_key=True),
        Column("fingerprint", String(64), nullable=False),
        Column("answer", Text, nullable=False),
        Column("expires_at", DateTime(timezone=True), nullable=False, index=True),
    )


def drop_table(op):
    op.drop_table(TABLE)


TABLE = "idempotency_keys"
# The same table in every service database; this copy builds the statements.
idempotency_keys = Table(TABLE, MetaData(), *columns())


class IdempotencySchema(Schema):
    """The ``idempotency`` argument of a write that takes one (None: no key sent)."""

    key = fields.String(required=True, validate=HEX_32)
    fingerprint = fields.String(required=True, validate=HEX_32)


def load_ref(ref) -> dict | None:
    """An ``idempotency`` argument of an RPC method, checked (400), or None."""
    return None if ref is None else load(IdempotencySchema(), ref, "Idempotency-Key rejected")


def header_key(headers, min_length=8) -> str | None:
    """The client's ``Idempotency-Key``, checked (400), or None when it sent none.
    Anonymous callers share one scope, so their keys must be too long to meet by chance
    or be guessed (``ANONYMOUS_MIN_LENGTH``, a UUID's 32 hex digits)."""
    key = headers.get(HEADER)
    if key is None:
        return None
    if not PATTERN.match(key) or len(key) < min_length:
        raise InvalidInput(f"{HEADER} is {min_length} to 64 letters, digits, '-' or '_' "
                           "(a random UUID, say)",
                           {HEADER: [f"{min_length}-64 of A-Z a-z 0-9 - _"]})
    return key


def make_ref(keyed_hash, scope: str, key: str, method: str, path: str, body: bytes) -> dict:
    """``ref`` for a request: ``keyed_hash(text) -> 32 hex digits`` (the gateway's key)."""
    return {"key": keyed_hash(f"idempotency-key\x00{scope}\x00{key}"),
            "fingerprint": keyed_hash(f"idempotency-request\x00{method}\x00{path}\x00"
                                      + body.decode("utf-8", "replace"))}


def replay(session, ref: dict | None, now=None):
    """The answer kept for ``ref``, or None (no key, or not seen, or expired); a 422 for
    the key of another request."""
    if not ref:
        return None
    row = session.execute(select(idempotency_keys).where(
        idempotency_keys.c.key == ref["key"])).first()
    if row is None or as_utc(row.expires_at) <= (now or now_utc()):
        return None
    if row.fingerprint != ref["fingerprint"]:
        raise IdempotencyKeyReused(
            f"this {HEADER} was sent with another request; use a new key for a new request")
    return json.loads(row.answer)


def remember(session, ref: dict | None, answer, now=None) -> None:
    """Keep ``answer`` (JSON-ready, as the service dumped it) for ``ref``, in the caller's
    transaction. An expired row of the same key is replaced."""
    if not ref:
        return
    now = now or now_utc()
    session.execute(delete(idempotency_keys).where(idempotency_keys.c.key == ref["key"],
                                                   idempotency_keys.c.expires_at <= now))
    session.execute(insert(idempotency_keys), {
        "key": ref["key"], "fingerprint": ref["fingerprint"],
        "answer": json.dumps(answer, ensure_ascii=False, separators=(",", ":")),
        "expires_at": now + RETENTION})


def once(db, ref: dict | None, write):
    """``write(uow)`` (it returns the dumped answer) unless ``ref`` was seen: then the
    first answer. The key and the answer commit with the write; two requests with one key
    at once: the second is a 409 (``db.changes``), and its retry gets the first answer."""
    with db.changes() as uow:
        kept = replay(uow.session, ref)
        if kept is not None:
            return kept
        answer = write(uow)
        remember(uow.session, ref, answer)
    return answer


def forget_expired(db, now=None, batch=1000) -> int:
    """Delete up to ``batch`` expired keys; how many were."""
    with db.unit_of_work() as uow:
        expired = select(idempotency_keys.c.key).where(
            idempotency_keys.c.expires_at <= (now or now_utc())).limit(batch)
        return uow.session.execute(delete(idempotency_keys).where(
            idempotency_keys.c.key.in_(expired))).rowcount


class IdempotencyKeys:
    """For a service class with a ``db`` (a ``shared.dependencies.Database``) whose
    database has the ``idempotency_keys`` table: ``_once`` for its keyed writes, and the
    hourly timer that forgets keys past their time."""

    def _once(self, ref, write):
        """``write(uow)`` once per Idempotency-Key ``ref``."""
        return once(self.db, load_ref(ref), write)

    @timer(interval=3600)
    def forget_idempotency_keys(self):
        forget_expired(self.db)

