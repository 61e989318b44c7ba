"""The gateway's users and tokens in its own database (plain functions on a session).

Used by the ``Auth`` dependency on every request, by the user routes, by the
``gonghui gateway`` CLI and by the first-run setup.
"""

from datetime import UTC, datetime

from sqlalchemy import func, insert, select, update

from services.gateway.auth import ROLES, User, hash_token, new_token
from services.gateway.models import tokens, users
from shared.errors import Conflict, InvalidInput, NotFound, Unauthorized


def _user(row) -> User:
    return User(id=row.id, name=row.name, role=row.role, organization_code=row.org_code)


def create_user(session, name: str, role: str, org_code: str) -> tuple[User, str]:
    """A new user with a first token; the token is returned here and never again."""
    name, org_code = (name or "").strip(), (org_code or "").strip()
    if not name or len(name) > 100:
        raise InvalidInput("a user name needs 1 to 100 characters",
                           {"name": ["1 to 100 characters"]})
    if role not in ROLES:
        raise InvalidInput(f"role must be one of {', '.join(ROLES)}",
                           {"role": [f"one of {', '.join(ROLES)}"]})
    if not org_code or len(org_code) > 64:
        raise InvalidInput("an organization code needs 1 to 64 characters",
                           {"org_code": ["1 to 64 characters"]})
    taken = session.execute(select(users.c.id).where(users.c.name == name)).first()
    if taken:
        raise Conflict(f"user {name!r} already exists", {"name": name})
    user_id = session.execute(
        insert(users).values(name=name, role=role, org_code=org_code).returning(users.c.id)
    ).scalar_one()
    user = User(id=user_id, name=name, role=role, organization_code=org_code)
    return user, issue_token(session, user)


def issue_token(session, user: User) -> str:
    token = new_token()
    session.execute(insert(tokens).values(user_id=user.id, token_hash=hash_token(token)))
    return token


def find_user(session, name: str, include_revoked=False) -> User:
    query = select(users).where(users.c.name == name)
    if not include_revoked:
        query = query.where(users.c.revoked_at.is_(None))
    row = session.execute(query).first()
    if row is None:
        raise NotFound(f"no active user {name!r}", {"name": name})
    return _user(row)


def list_users(session) -> list[dict]:
    rows = session.execute(select(users).order_by(users.c.id)).all()
    return [
        {**_user(row).profile(), "created_at": row.created_at, "revoked": row.revoked_at
         is not None}
        for row in rows
    ]


def revoke_user(session, name: str) -> int:
    """Disable a user and every token they hold; returns how many tokens were revoked."""
    user = find_user(session, name)
    now = datetime.now(UTC)
    session.execute(update(users).where(users.c.id == user.id).values(revoked_at=now))
    result = session.execute(
        update(tokens)
        .where(tokens.c.user_id == user.id, tokens.c.revoked_at.is_(None))
        .values(revoked_at=now)
    )
    return result.rowcount


def revoke_token(session, token: str) -> User:
    """Revoke one token (the user keeps any others)."""
    row = session.execute(
        select(tokens.c.id, tokens.c.user_id).where(
            tokens.c.token_hash == hash_token(token), tokens.c.revoked_at.is_(None)
        )
    ).first()
    if row is None:
        raise NotFound("no such active token")
    session.execute(
        update(tokens).where(tokens.c.id == row.id).values(revoked_at=datetime.now(UTC))
    )
    user = session.execute(select(users).where(users.c.id == row.user_id)).one()
    return _user(user)


def authenticate(session, token: str) -> User:
    """The active user holding ``token``; 401 when it is unknown or revoked.

    The lookup is by the token's hash, so response time tells an attacker nothing
    about how close a guess was.
    """
    row = session.execute(
        select(users)
        .join(tokens, tokens.c.user_id == users.c.id)
        .where(
            tokens.c.token_hash == hash_token(token),
            tokens.c.revoked_at.is_(None),
            users.c.revoked_at.is_(None),
        )
    ).first()
    if row is None:
        raise Unauthorized("invalid or revoked token")
    return _user(row)


def has_users(session) -> bool:
    return session.execute(select(func.count()).select_from(users)).scalar_one() > 0
