"""The gateway's users and tokens in its own database (plain functions on a session).

Used by the ``Auth`` dependency on every request, by the user routes, by the
``gonghui gateway`` CLI and by the first-run setup.

Every token expires (``GATEWAY_TOKEN_DAYS`` after it is issued, 90 by default), so a
token that leaked and was never noticed stops working by itself. A holder rotates theirs
before then (``rotate_token``): a new one is issued and the old one stays valid for a
short grace (``GATEWAY_TOKEN_ROTATION_GRACE`` seconds, for the deployments still using
it) or is revoked at once.
"""

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, insert, select, update

from services.gateway.auth import (
    ORGANIZATION_ACCOUNT_ROLES,
    ROLES,
    User,
    hash_token,
    new_token,
    organization_account,
)
from services.gateway.models import officer_accounts, tokens, users
from shared.errors import Conflict, Forbidden, InvalidInput, NotFound, Unauthorized
from shared.timeutil import as_utc, now_utc

DEFAULT_TOKEN_DAYS = 90
DEFAULT_ROTATION_GRACE_SECONDS = 300
MAX_ROTATION_GRACE_SECONDS = 3600  # an hour: long enough to redeploy, short for a thief
DEFAULT_DISTRICT_CODE = "longgang"
OFFICER = "officer"  # an information officer's account: made with their registration


def token_lifetime(config) -> timedelta:
    """``GATEWAY_TOKEN_DAYS`` from a config or environment mapping."""
    days = float(config.get("GATEWAY_TOKEN_DAYS") or DEFAULT_TOKEN_DAYS)
    if days <= 0:
        raise ValueError("GATEWAY_TOKEN_DAYS must be positive")
    return timedelta(days=days)


def rotation_grace(config) -> timedelta:
    """``GATEWAY_TOKEN_ROTATION_GRACE`` (seconds) from a config or environment mapping."""
    seconds = config.get("GATEWAY_TOKEN_ROTATION_GRACE")
    return timedelta(seconds=float(DEFAULT_ROTATION_GRACE_SECONDS if seconds in (None, "")
                                   else seconds))


def _user(row) -> User:
    return User(id=row.id, name=row.name, role=row.role, organization_code=row.org_code)


def check_new_user(role: str, org_code: str) -> None:
    """What the API and the CLI both refuse before asking where ``org_code`` sits: an
    officer's account (made by registering the officer), and an organization's own
    account (``so:17``) above staff."""
    if role == OFFICER:
        raise InvalidInput("an information officer's account is made by registering "
                           "the officer (POST /api/v1/disputes/officers with a "
                           "user_name)", {"role": ["not officer"]})
    if organization_account(org_code) is not None and role not in ORGANIZATION_ACCOUNT_ROLES:
        raise InvalidInput("an organization's own account is a viewer or staff",
                           {"role": ["viewer or staff for an so: account"]})


def create_user(session, name: str, role: str, org_code: str,
                lifetime: timedelta = timedelta(days=DEFAULT_TOKEN_DAYS)) -> tuple[User, str]:
    """A new user with a first token; the token is returned here and never again."""
    user = _insert_user(session, name, role, org_code)
    return user, issue_token(session, user, lifetime)


def create_officer_account(session, name: str, org_code: str, informant: str,
                           officer_token_hash: str) -> User:
    """The gateway account of an information officer just registered with disputes:
    no API token (they sign in with a password); the session stands for the officer by
    the officer token's hash, kept here as disputes keeps it."""
    user = _insert_user(session, name, OFFICER, org_code)
    session.execute(insert(officer_accounts).values(
        user_id=user.id, officer_token_hash=officer_token_hash, informant=informant))
    return user


def officer_token_hash_of(session, user: User) -> str:
    """The officer token hash an ``officer`` account reports with; 403 for anyone else."""
    found = session.execute(select(officer_accounts.c.officer_token_hash).where(
        officer_accounts.c.user_id == user.id)).scalar()
    if found is None:
        raise Forbidden("only an information officer's account reports as an officer",
                        {"role": user.role})
    return found


def officer_of(session, user: User) -> str | None:
    """The pseudonym of the information officer an ``officer`` account stands for."""
    return session.execute(select(officer_accounts.c.informant).where(
        officer_accounts.c.user_id == user.id)).scalar()


def name_taken(session, name: str) -> bool:
    return session.execute(select(users.c.id).where(users.c.name == name)).first() \
        is not None


def _insert_user(session, name: str, role: str, org_code: str) -> User:
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
    if name_taken(session, name):
        raise Conflict(f"user {name!r} already exists", {"name": name})
    user_id = session.execute(
        insert(users).values(name=name, role=role, org_code=org_code).returning(users.c.id)
    ).scalar_one()
    return User(id=user_id, name=name, role=role, organization_code=org_code)


def issue_token(session, user: User, lifetime: timedelta = timedelta(days=DEFAULT_TOKEN_DAYS),
                now: datetime | None = None) -> str:
    token = new_token()
    session.execute(insert(tokens).values(user_id=user.id, token_hash=hash_token(token),
                                          expires_at=(now or now_utc()) + lifetime))
    return token


def token_expiry(session, token: str) -> datetime | None:
    """When ``token`` expires (None when there is no such token)."""
    return as_utc(session.execute(select(tokens.c.expires_at).where(
        tokens.c.token_hash == hash_token(token))).scalar())


def _check_grace(grace: timedelta):
    if not timedelta(0) <= grace <= timedelta(seconds=MAX_ROTATION_GRACE_SECONDS):
        raise InvalidInput(f"the grace is 0 to {MAX_ROTATION_GRACE_SECONDS} seconds",
                           {"grace_seconds": [f"0 to {MAX_ROTATION_GRACE_SECONDS}"]})


def rotate_token(session, token: str, grace: timedelta, lifetime: timedelta,
                 now: datetime | None = None) -> dict:
    """A new token for the holder of ``token`` (which must be valid now); the old one
    stays valid for ``grace`` (0: revoked at once). ``{"user", "token", "expires_at",
    "previous_expires_at"}``: the new token is shown here and never again."""
    now = now or now_utc()
    _check_grace(grace)
    user = authenticate(session, token, now)
    old_expiry = min(user.token_expires_at, now + grace)
    values = {"expires_at": old_expiry}
    if grace == timedelta(0):
        values["revoked_at"] = now
    session.execute(update(tokens).where(tokens.c.token_hash == hash_token(token))
                    .values(**values))
    new = issue_token(session, user, lifetime, now)
    return {"user": user, "token": new, "expires_at": now + lifetime,
            "previous_expires_at": old_expiry}


def rotate_user_tokens(session, name: str, grace: timedelta, lifetime: timedelta,
                       now: datetime | None = None) -> dict:
    """``rotate_token`` for every live token of a user at once (the CLI: an operator who
    does not hold the token); one new token. ``{"user", "token", "expires_at",
    "rotated"}``."""
    now = now or now_utc()
    _check_grace(grace)
    user = find_user(session, name)
    live = session.execute(select(tokens.c.id, tokens.c.expires_at).where(
        tokens.c.user_id == user.id, tokens.c.revoked_at.is_(None),
        tokens.c.expires_at > now)).all()
    for token_id, expires_at in live:
        values = {"expires_at": min(as_utc(expires_at), now + grace)}
        if grace == timedelta(0):
            values["revoked_at"] = now
        session.execute(update(tokens).where(tokens.c.id == token_id).values(**values))
    rotated = len(live)
    return {"user": user, "token": issue_token(session, user, lifetime, now),
            "expires_at": now + lifetime, "rotated": rotated}


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
        {**_user(row).profile(), "id": row.id, "created_at": row.created_at,
         "revoked": row.revoked_at is not None}
        for row in rows
    ]


def revoke_user(session, name: str, district_code: str = DEFAULT_DISTRICT_CODE) -> int:
    """Disable a user and every token they hold; returns how many tokens were revoked.

    The last active admin of the district (``district_code``, the root of the tree) is
    never revoked, by themselves or anyone: nobody would be left to manage users."""
    user = find_user(session, name)
    _keep_a_district_admin(session, user, district_code)
    now = datetime.now(UTC)
    session.execute(update(users).where(users.c.id == user.id).values(revoked_at=now))
    result = session.execute(
        update(tokens)
        .where(tokens.c.user_id == user.id, tokens.c.revoked_at.is_(None))
        .values(revoked_at=now)
    )
    return result.rowcount


def _keep_a_district_admin(session, user: User, district_code: str) -> None:
    """409 when ``user`` is the district's last active admin (about to be revoked or
    given another role): nobody would be left to manage users."""
    if user.role != "admin" or user.organization_code != district_code:
        return
    # Locked, so two district admins revoking each other at once cannot both succeed.
    admins = session.execute(select(users.c.id).where(
        users.c.role == "admin", users.c.org_code == district_code,
        users.c.revoked_at.is_(None)).with_for_update()).all()
    if len(admins) <= 1:
        raise Conflict(f"{user.name!r} is the last active admin of the district "
                       f"{district_code}: create another district admin first",
                       {"name": user.name, "organization_code": district_code})


def change_role(session, name: str, role: str,
                district_code: str = DEFAULT_DISTRICT_CODE) -> User:
    """Give an active user another role. An officer's account stays an officer's (it is
    one by its registration), nobody else becomes one, and the district keeps an admin."""
    user = find_user(session, name)
    if role not in ROLES:
        raise InvalidInput(f"role must be one of {', '.join(ROLES)}",
                           {"role": [f"one of {', '.join(ROLES)}"]})
    if OFFICER in (role, user.role) and role != user.role:
        raise InvalidInput("an information officer's account is made by registering the "
                           "officer, and stays one", {"role": ["not officer"]})
    if role != user.role:
        _keep_a_district_admin(session, user, district_code)
        session.execute(update(users).where(users.c.id == user.id).values(role=role))
    return replace(user, role=role)


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


def authenticate(session, token: str, now: datetime | None = None) -> User:
    """The active user holding ``token`` (with ``token_expires_at``); 401 when it is
    unknown, revoked or expired (an expired one says so, to its holder alone).

    The lookup is by the token's hash, so response time tells an attacker nothing
    about how close a guess was.
    """
    row = session.execute(
        select(users, tokens.c.expires_at)
        .join(tokens, tokens.c.user_id == users.c.id)
        .where(
            tokens.c.token_hash == hash_token(token),
            tokens.c.revoked_at.is_(None),
            users.c.revoked_at.is_(None),
        )
    ).first()
    if row is None:
        raise Unauthorized("invalid or revoked token")
    expires_at = as_utc(row.expires_at)
    if expires_at <= (now or now_utc()):
        raise Unauthorized(f"this token expired at {expires_at.isoformat()}: ask an admin "
                           "for a new one (gonghui gateway issue-token), and rotate tokens "
                           "before they expire", {"expired_at": expires_at.isoformat()})
    return replace(_user(row), token_expires_at=expires_at)


def has_users(session) -> bool:
    return session.execute(select(func.count()).select_from(users)).scalar_one() > 0
