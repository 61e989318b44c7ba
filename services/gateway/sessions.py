"""Password sign-in and browser sessions, for the gateway's pages (a judge's tablet, the
staff console): plain functions on a session of the gateway's database, like
``accounts``.

- A password is stored only as Argon2id (argon2-cffi, OWASP's minimum cost); a user has
  one if an admin set it (``gonghui gateway set-password``). Bearer tokens stay what the
  API is called with; a password opens a browser session and nothing else.
- Signing in makes a session: 32 random bytes in an ``HttpOnly``, ``SameSite=Strict``
  cookie that expires after ``SESSION_HOURS`` (``Secure`` when the request came over
  HTTPS, or through a trusted proxy that says so: ``routes/signin.py``); the database
  keeps only the value's SHA-256, as for tokens.
- A session has a CSRF token: a page sends it back in the ``X-CSRF-Token`` header with
  every request that changes something (``Authenticator.user`` refuses one without it),
  and in a form's ``csrf_token`` field. The sign-in form itself is protected by a
  double-submit cookie (``SIGNIN_COOKIE``), since nobody is signed in yet.
- A first password (or a new one, when someone forgot theirs) is set through a one-time
  link an admin makes (``issue_password_link``; ``gonghui gateway password-link`` too):
  32 random bytes after ``#`` in the URL (a fragment never reaches a server's or proxy's
  log), valid for ``LINK_HOURS``, good once; the database keeps only its SHA-256, and a
  new link for the same user ends the earlier ones.
- Failed sign-ins are counted per user name and per source address
  (``FAILED_LIMITS``); past a limit the next attempt is refused (429) before the
  password is even checked, so guessing costs the guesser time, not the user. The check
  and the count are one transaction, an attempt counted as a failure until its password
  proves right (``begin_attempt``), so guesses sent at once cannot exceed the limit.
"""

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import delete, insert, select, text, update
from werkzeug.http import dump_cookie

from services.gateway.accounts import _user, find_user
from services.gateway.auth import User
from services.gateway.models import password_links, passwords, rate_hits, sessions, users
from shared.errors import InvalidInput, NotFound, Unauthorized
from shared.ratelimit import rate_exceeded
from shared.timeutil import as_utc

SESSION_COOKIE = "gonghui_session"
SIGNIN_COOKIE = "gonghui_signin"  # the sign-in form's double-submit value
CSRF_HEADER = "X-CSRF-Token"
SESSION_HOURS = 8  # a working day at a final, then sign in again
PASSWORD_LENGTH = (10, 200)
# (max failures, window seconds): a person mistyping gets five tries in a quarter hour
FAILED_LIMITS = {"user": (5, 900), "source": (20, 900)}
HASHER = PasswordHasher(time_cost=2, memory_cost=19 * 1024, parallelism=1)
# Checked when the name is unknown, so that an unknown name costs as long as a wrong
# password and the answer's timing does not tell which names exist.
_DUMMY_HASH = HASHER.hash("not anybody's password")
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
LINK_HOURS = 72  # long enough to reach someone over a weekend, short for a leaked link
LINK_PATH = "/password"


@dataclass(frozen=True)
class SignedIn:
    user: User
    cookie: str  # the session cookie's value: given to the browser, never stored
    csrf_token: str
    expires_at: datetime


def _sha256(value: str) -> str:
    return hashlib.sha256(value.encode("utf-8")).hexdigest()


def set_password(session, name: str, password: str, now: datetime) -> User:
    """Give an active user a password (replacing any earlier one) and end every session
    they have open: a reset after a suspected compromise must shut out whoever signed in
    with the old one."""
    _check_password(password)
    user = find_user(session, name)
    hashed = HASHER.hash(password)
    if session.execute(update(passwords).where(passwords.c.user_id == user.id).values(
            password_hash=hashed, set_at=now)).rowcount == 0:
        session.execute(insert(passwords).values(user_id=user.id, password_hash=hashed,
                                                 set_at=now))
    session.execute(update(sessions).where(sessions.c.user_id == user.id,
                                           sessions.c.revoked_at.is_(None))
                    .values(revoked_at=now))
    return user


def issue_password_link(session, user: User, created_by: str, now: datetime,
                        hours: float = LINK_HOURS) -> tuple[str, datetime]:
    """(a one-time link's secret, when it expires) for ``user``; any earlier link of
    theirs not yet used ends now. The secret is returned here and never again."""
    secret = secrets.token_urlsafe(32)
    expires = now + timedelta(hours=hours)
    session.execute(update(password_links).where(
        password_links.c.user_id == user.id, password_links.c.used_at.is_(None),
        password_links.c.expires_at > now).values(expires_at=now))
    session.execute(insert(password_links).values(
        user_id=user.id, link_hash=_sha256(secret), created_by=created_by, created_at=now,
        expires_at=expires))
    return secret, expires


def link_url(base: str, secret: str) -> str:
    """The address to hand the user: the secret after ``#``, so it is never logged."""
    return f"{base.rstrip('/')}{LINK_PATH}#{secret}"


def _live_link(session, secret: str, now: datetime):
    if not secret or len(secret) > 100:
        raise NotFound("this link is unknown, used or expired: ask an admin for a new one")
    row = session.execute(select(password_links.c.id.label("link_id"),
                                 password_links.c.expires_at.label("link_expires"), users)
                          .join(users, users.c.id == password_links.c.user_id).where(
        password_links.c.link_hash == _sha256(secret), password_links.c.used_at.is_(None),
        users.c.revoked_at.is_(None))).first()
    if row is None or as_utc(row.link_expires) <= now:
        raise NotFound("this link is unknown, used or expired: ask an admin for a new one")
    return row


def password_link_user(session, secret: str, now: datetime) -> User:
    """Whose live link ``secret`` is (404 when unknown, used, expired or revoked)."""
    return _user(_live_link(session, secret, now))


def use_password_link(session, secret: str, password: str, now: datetime) -> User:
    """Set the link's user's password and spend the link, in one transaction: of two
    uses at once, one finds it spent (404)."""
    row = _live_link(session, secret, now)
    _check_password(password)
    spent = session.execute(update(password_links).where(
        password_links.c.id == row.link_id, password_links.c.used_at.is_(None))
        .values(used_at=now)).rowcount
    if spent != 1:
        raise NotFound("this link is unknown, used or expired: ask an admin for a new one")
    return set_password(session, row.name, password, now)


def _check_password(password) -> None:
    low, high = PASSWORD_LENGTH
    if not isinstance(password, str) or not low <= len(password) <= high:
        raise InvalidInput(f"a password has {low} to {high} characters",
                           {"password": [f"{low} to {high} characters"]})


def _failure_keys(name: str, source: str | None) -> list[tuple]:
    (user_hits, user_window), (source_hits, source_window) = (FAILED_LIMITS["user"],
                                                              FAILED_LIMITS["source"])
    return [("user", f"signin:user:{_sha256(name)[:32]}", user_hits, user_window),
            ("source", f"signin:source:{_sha256(source or '?')[:32]}", source_hits,
             source_window)]


def begin_attempt(session, name: str, source: str | None, now: datetime) -> list[int]:
    """Check the limits and count this attempt, in the one transaction of ``session``:
    429 once the failures counted for this name or source reach their limit; otherwise
    the attempt is counted as a failure before its password is checked (the hits' ids
    are returned: ``attempt_succeeded`` takes them back). Attempts on one name or from
    one source take their turn, so guesses sent at once cannot get past the limit: a
    PostgreSQL advisory lock per key; on SQLite the first statement, a write (dropping
    the keys' expired hits), waits for the database's one writer."""
    keys = _failure_keys(name, source)
    if session.get_bind().dialect.name == "postgresql":
        for lock in sorted(_lock_id(key) for _scope, key, _limit, _window in keys):
            session.execute(text("SELECT pg_advisory_xact_lock(:lock)"), {"lock": lock})
    for _scope, key, _limit, window in keys:
        session.execute(delete(rate_hits).where(
            rate_hits.c.key == key, rate_hits.c.at <= now - timedelta(seconds=window)))
    refused = rate_exceeded(session, rate_hits, keys, now, "failed sign-ins")
    if refused is not None:
        raise refused  # nothing counted: a refused attempt is not a failure
    return [session.execute(insert(rate_hits).values(key=key, at=now)
                            .returning(rate_hits.c.id)).scalar_one()
            for _scope, key, _limit, _window in keys]


def _lock_id(key: str) -> int:
    """A signed 64-bit advisory lock id for a rate key."""
    return int.from_bytes(hashlib.sha256(key.encode()).digest()[:8], "big", signed=True)


def attempt_succeeded(session, hits: list[int]) -> None:
    """The password was right: the attempt is no failure after all."""
    session.execute(delete(rate_hits).where(rate_hits.c.id.in_(hits)))


def password_hash_of(session, name: str) -> tuple[User | None, str]:
    """(the active user named, their password hash); (None, a dummy hash) when there is
    no such user or they have no password."""
    row = session.execute(select(users, passwords.c.password_hash).join(
        passwords, passwords.c.user_id == users.c.id).where(
        users.c.name == name, users.c.revoked_at.is_(None))).first()
    if row is None:
        return None, _DUMMY_HASH
    return _user(row), row.password_hash


def verify(hashed: str, password: str) -> bool:
    """The slow part (tens of ms): the gateway runs it off the green thread."""
    try:
        return HASHER.verify(hashed, password)
    except (VerificationError, InvalidHashError):
        return False


def open_session(session, user: User, now: datetime) -> SignedIn:
    cookie = secrets.token_urlsafe(32)
    csrf = secrets.token_urlsafe(24)
    expires = now + timedelta(hours=SESSION_HOURS)
    session.execute(insert(sessions).values(
        user_id=user.id, session_hash=_sha256(cookie), csrf_token=csrf, created_at=now,
        expires_at=expires))
    return SignedIn(user, cookie, csrf, expires)


def session_user(session, cookie: str, now: datetime) -> tuple[User, str]:
    """(the user of a live session, its CSRF token); 401 for an unknown, expired or
    signed-out session, or a revoked user."""
    if not cookie or len(cookie) > 100:
        raise Unauthorized("not signed in")
    row = session.execute(select(users, sessions.c.csrf_token, sessions.c.expires_at).join(
        sessions, sessions.c.user_id == users.c.id).where(
        sessions.c.session_hash == _sha256(cookie), sessions.c.revoked_at.is_(None),
        users.c.revoked_at.is_(None))).first()
    if row is None or as_utc(row.expires_at) <= now:
        raise Unauthorized("not signed in, or the session has expired: sign in again")
    return _user(row), row.csrf_token


def close_session(session, cookie: str, now: datetime) -> None:
    session.execute(update(sessions).where(sessions.c.session_hash == _sha256(cookie or ""),
                                           sessions.c.revoked_at.is_(None))
                    .values(revoked_at=now))


def require_csrf(request, csrf_token: str) -> None:
    """A request that changes something from a signed-in page carries its token."""
    if request.method in SAFE_METHODS:
        return
    sent = request.headers.get(CSRF_HEADER) or request.form.get("csrf_token", "")
    if not secrets.compare_digest(sent.encode(), csrf_token.encode()):
        raise Unauthorized(f"a signed-in page sends its {CSRF_HEADER} with every change")


def session_cookie(signed_in: SignedIn | None, secure: bool) -> str:
    """The Set-Cookie value opening (or, with None, clearing) the session."""
    if signed_in is None:
        return dump_cookie(SESSION_COOKIE, "", max_age=0, path="/", httponly=True,
                           samesite="Strict", secure=secure)
    return dump_cookie(SESSION_COOKIE, signed_in.cookie, max_age=SESSION_HOURS * 3600,
                       path="/", httponly=True, samesite="Strict", secure=secure)


def signin_cookie(value: str | None, secure: bool, path: str = "/signin") -> str:
    """The double-submit cookie of a form for people not signed in (sign-in, and
    setting a password through a link: ``path`` LINK_PATH)."""
    return dump_cookie(SIGNIN_COOKIE, value or "", max_age=900 if value else 0,
                       path=path, httponly=True, samesite="Strict", secure=secure)


def form_expected(request, sent: str) -> bool:
    """The form's ``csrf_token`` is the double-submit cookie's value."""
    expected = request.cookies.get(SIGNIN_COOKIE, "")
    return bool(expected) and secrets.compare_digest(sent.encode(), expected.encode())


def safe_next(target: str | None) -> str:
    """Where to go after signing in: a path on this site only (no //host, no scheme)."""
    if not target or not target.startswith("/") or target.startswith("//") \
            or "\\" in target or len(target) > 300:
        return "/signin/done"
    return target
