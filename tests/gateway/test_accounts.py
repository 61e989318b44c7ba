"""Users and tokens in the gateway's database, on SQLite and PostgreSQL."""

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
