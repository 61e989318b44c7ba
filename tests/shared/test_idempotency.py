"""``shared.idempotency``: a keyed write's answer is kept with it; the same key again gets
that answer, the key with another request a 422; keys expire."""

from datetime import timedelta

import pytest
from sqlalchemy import func, insert, select

from shared import idempotency
from shared.db import open_database
from shared.errors import IdempotencyKeyReused, InvalidInput
from shared.pii import Keys
from shared.timeutil import now_utc
from tests.shared.demo.service import notes

KEYS = Keys(bytes(range(32)))


@pytest.fixture
def db(tmp_path):
    database = open_database(f"sqlite:///{tmp_path}/demo.db", "demo")
    notes.create(database.engine)
    idempotency.idempotency_keys.create(database.engine)
    yield database
    database.engine.dispose()


def ref(key="client-key-0001", body=b'{"text": "a"}', scope="user:alice"):
    return idempotency.make_ref(KEYS.lookup_hash, scope, key, "POST", "/api/v1/notes", body)


def write(text):
    def run(uow):
        uow.session.execute(insert(notes).values(text=text))
        return {"note": text, "count": uow.session.execute(
            select(func.count()).select_from(notes)).scalar()}
    return run


def count(db):
    with db.session() as session:
        return session.execute(select(func.count()).select_from(notes)).scalar()


def test_a_retry_with_the_same_key_and_request_gets_the_first_answer(db):
    first = idempotency.once(db, ref(), write("a"))
    assert idempotency.once(db, ref(), write("a")) == first == {"note": "a", "count": 1}
    assert count(db) == 1
    assert idempotency.once(db, None, write("a")) == {"note": "a", "count": 2}  # no key


def test_the_same_key_with_another_request_is_refused_and_writes_nothing(db):
    idempotency.once(db, ref(), write("a"))
    with pytest.raises(IdempotencyKeyReused):
        idempotency.once(db, ref(body=b'{"text": "b"}'), write("b"))
    assert count(db) == 1


def test_keys_are_the_callers_own(db):
    idempotency.once(db, ref(scope="user:alice"), write("a"))
    assert idempotency.once(db, ref(scope="user:bob"), write("a"))["count"] == 2


def test_a_write_that_fails_keeps_no_key(db):
    def failing(uow):
        write("a")(uow)
        raise InvalidInput("no")

    with pytest.raises(InvalidInput):
        idempotency.once(db, ref(), failing)
    assert idempotency.once(db, ref(), write("a"))["count"] == 1


def test_expired_keys_are_forgotten_and_a_key_is_then_new(db):
    idempotency.once(db, ref(), write("a"))
    later = now_utc() + idempotency.RETENTION + timedelta(seconds=1)
    with db.session() as session:
        assert idempotency.replay(session, ref(), later) is None
    assert idempotency.forget_expired(db, later) == 1
    assert idempotency.once(db, ref(), write("a"))["count"] == 2


def test_neither_the_key_nor_the_body_is_kept_in_clear(db):
    idempotency.once(db, ref(key="client-key-0001", body=b'{"text": "13912345678"}'),
                     write("a"))
    with db.session() as session:
        [row] = session.execute(select(idempotency.idempotency_keys)).all()
    assert "client-key" not in row.key and "139" not in row.fingerprint
    assert len(row.key) == len(row.fingerprint) == 32


@pytest.mark.parametrize("key", ["short", "x" * 65, "has space in it", "ключ-ключ-ключ"])
def test_a_malformed_key_is_a_400(key):
    with pytest.raises(InvalidInput):
        idempotency.header_key({idempotency.HEADER: key})
