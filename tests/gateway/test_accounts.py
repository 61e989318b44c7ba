"""Users and tokens in the gateway's database, on SQLite and PostgreSQL."""

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from services.gateway import accounts
from services.gateway.models import tokens
from services.gateway.service import MIGRATIONS
from shared.errors import Conflict, InvalidInput, NotFound, Unauthorized


@pytest.fixture
def db(db_url, database_factory):
    return database_factory(db_url, "gateway", MIGRATIONS)


def test_a_new_users_token_authenticates_them_and_only_its_hash_is_stored(db):
    with db.unit_of_work() as uow:
        created, token = accounts.create_user(uow.session, "南坑-staff", "staff",
                                              "longgang.bantian.nankeng")
    with db.session() as session:
        assert accounts.authenticate(session, token) == created
        stored = session.execute(select(tokens.c.token_hash)).scalars().all()
    assert stored == [accounts.hash_token(token)]
    assert token not in stored


def test_revoking_a_user_revokes_all_their_tokens(db):
    with db.unit_of_work() as uow:
        user, first = accounts.create_user(uow.session, "viewer", "viewer", "longgang")
        second = accounts.issue_token(uow.session, user)
    with db.unit_of_work() as uow:
        assert accounts.revoke_user(uow.session, "viewer") == 2
    with db.session() as session:
        for token in (first, second):
            with pytest.raises(Unauthorized):
                accounts.authenticate(session, token)
        with pytest.raises(NotFound):
            accounts.find_user(session, "viewer")
        assert accounts.list_users(session)[0]["revoked"] is True


def test_revoking_one_token_leaves_the_users_other_tokens(db):
    with db.unit_of_work() as uow:
        user, first = accounts.create_user(uow.session, "staff", "staff", "longgang")
        second = accounts.issue_token(uow.session, user)
    with db.unit_of_work() as uow:
        assert accounts.revoke_token(uow.session, first).name == "staff"
    with db.session() as session:
        with pytest.raises(Unauthorized):
            accounts.authenticate(session, first)
        assert accounts.authenticate(session, second).name == "staff"
    with db.unit_of_work() as uow, pytest.raises(NotFound):
        accounts.revoke_token(uow.session, first)


def test_user_names_are_unique_and_roles_known(db):
    with db.unit_of_work() as uow:
        accounts.create_user(uow.session, "admin", "admin", "longgang")
    with db.unit_of_work() as uow, pytest.raises(Conflict):
        accounts.create_user(uow.session, "admin", "viewer", "longgang")
    with db.unit_of_work() as uow, pytest.raises(InvalidInput):
        accounts.create_user(uow.session, "root", "superuser", "longgang")
    with db.unit_of_work() as uow, pytest.raises(InvalidInput):
        accounts.create_user(uow.session, "  ", "viewer", "longgang")
    with db.session() as session:
        assert [u["name"] for u in accounts.list_users(session)] == ["admin"]


def test_a_token_expires_and_then_says_so(db):
    now = datetime.now(UTC)
    with db.unit_of_work() as uow:
        user, token = accounts.create_user(uow.session, "v", "viewer", "longgang",
                                           timedelta(days=30))
    with db.session() as session:
        assert accounts.authenticate(session, token, now + timedelta(days=29)) == user
        with pytest.raises(Unauthorized, match="expired"):
            accounts.authenticate(session, token, now + timedelta(days=30, seconds=1))


def test_a_rotated_token_works_for_its_grace_only_and_the_new_one_for_its_lifetime(db):
    now = datetime.now(UTC)
    with db.unit_of_work() as uow:
        _, old = accounts.create_user(uow.session, "s", "staff", "longgang")
    with db.unit_of_work() as uow:
        rotated = accounts.rotate_token(uow.session, old, timedelta(minutes=5),
                                        timedelta(days=90), now)
    assert rotated["previous_expires_at"] == now + timedelta(minutes=5)
    with db.session() as session:
        accounts.authenticate(session, old, now + timedelta(minutes=4))
        with pytest.raises(Unauthorized):
            accounts.authenticate(session, old, now + timedelta(minutes=6))
        assert accounts.authenticate(session, rotated["token"],
                                     now + timedelta(days=89)).name == "s"
    with db.unit_of_work() as uow:  # an operator rotates every token of a user at once
        again = accounts.rotate_user_tokens(uow.session, "s", timedelta(0),
                                            timedelta(days=90), now)
    assert again["rotated"] == 2  # the old one was still within its grace
    with db.session() as session:
        with pytest.raises(Unauthorized):
            accounts.authenticate(session, rotated["token"], now)
        accounts.authenticate(session, again["token"], now)
    with db.unit_of_work() as uow, pytest.raises(InvalidInput):
        accounts.rotate_token(uow.session, again["token"], timedelta(hours=2),
                              timedelta(days=90), now)


def test_the_last_active_district_admin_is_never_revoked(db):
    with db.unit_of_work() as uow:
        accounts.create_user(uow.session, "first", "admin", "longgang")
        accounts.create_user(uow.session, "street", "admin", "longgang.bantian")
    with db.unit_of_work() as uow, pytest.raises(Conflict, match="last active admin"):
        accounts.revoke_user(uow.session, "first", "longgang")
    with db.unit_of_work() as uow:
        accounts.create_user(uow.session, "second", "admin", "longgang")
    with db.unit_of_work() as uow:
        assert accounts.revoke_user(uow.session, "first", "longgang") == 1
    with db.unit_of_work() as uow, pytest.raises(Conflict):
        accounts.revoke_user(uow.session, "second", "longgang")
    with db.unit_of_work() as uow:
        assert accounts.revoke_user(uow.session, "street", "longgang") == 1
