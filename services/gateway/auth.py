"""Who may do what, where: roles, bearer tokens and organization scope, as plain functions.

Every route module uses the same three questions, in this order:

1. who is calling? ``self.auth.user(request)`` (``services.gateway.dependencies.Auth``)
   turns the ``Authorization: Bearer <token>`` header into a ``User`` or raises 401
   (unknown, revoked or expired: every token expires, ``accounts``);
2. may this role do this kind of thing? ``require_permission(user, WRITE)`` (403;
   ``self.auth.user(request, WRITE)`` does 1 and 2 at once);
3. is the target inside the caller's subtree? ``require_scope(user, target["path"])``
   (403). ``path`` is the list of organization codes from the district down to the
   target (the registry gives it for organizations and enterprises), so "inside" is
   simply "the caller's organization code is on the path".

Roles (each includes the ones below it):

- ``viewer``: reads within the subtree;
- ``staff``: reads and writes within the subtree;
- ``admin``: staff, plus managing the gateway's users within the subtree.

and ``judge`` (competitions): no permission anywhere; the competitions service lets a
judge score the rounds it has registered them on, by user name.

A social organization's own account (incubation, issue 10) is a viewer or staff user whose
organization is ``so:<organization id>`` (``organization_account``): no registry code has
a ``:``, so no subtree check anywhere lets it through, and incubation lets it see and
report that organization's own data only.
"""

import hashlib
import secrets
from dataclasses import dataclass, field
from datetime import datetime

from shared.api.incubation import account_organization

# The roles, permissions and scope rules are the kit's: the same ones every service applies
# again to the caller it is handed. Route modules import them from here.
from shared.caller import (  # noqa: F401 - re-exported for the route modules
    MANAGE_USERS,
    PERMISSIONS,
    READ,
    ROLES,
    WRITE,
    Caller,
    in_scope,
    require,
    require_permission,
    require_scope,
)
from shared.errors import Unauthorized

# Who the client is behind our proxies: the kit's web server counts connections by it too.
from shared.web import client_address, trusted_proxies  # noqa: F401 - re-exported

ORGANIZATION_ACCOUNT_ROLES = ("viewer", "staff")


def organization_account(org_code: str) -> int | None:
    """The social organization whose own account ``org_code`` names (``so:17`` -> 17)."""
    return account_organization(org_code)


TOKEN_PREFIX = "ghu_"  # lets secret scanners and humans recognise a leaked token
TOKEN_BYTES = 32


@dataclass(frozen=True)
class User(Caller):
    """A gateway user: the caller the services see (``shared.caller.Caller``) and its row."""

    id: int = 0
    # The bearer token's expiry when one signed them in; not part of who they are.
    token_expires_at: datetime | None = field(default=None, compare=False)

    def profile(self) -> dict:
        """The user as the HTTP API shows it (``/me``, a new user)."""
        return {"name": self.name, "role": self.role, "org_code": self.organization_code}

    @property
    def scope(self) -> str:
        """Whose ``Idempotency-Key`` a request's is (``Authenticator.idempotency``)."""
        return f"user:{self.name}"

    def caller(self) -> dict:
        """The caller as every backend service takes it over RPC."""
        return Caller(self.name, self.role, self.organization_code).as_dict()


def new_token() -> str:
    """A fresh bearer token: 32 random bytes (256 bits), URL-safe."""
    return TOKEN_PREFIX + secrets.token_urlsafe(TOKEN_BYTES)


def hash_token(token: str) -> str:
    """What the database keeps instead of the token.

    Plain SHA-256 is enough here, unlike for passwords: a token carries 256 bits from
    ``secrets``, so nobody can guess it by trying hashes, however fast the hash is. A slow
    hash (Argon2) only helps low-entropy secrets, and would add tens of milliseconds to
    every request; a deterministic hash also lets us find the token by an indexed lookup
    instead of checking every row.
    """
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def bearer_token(authorization: str | None) -> str:
    """The token from an ``Authorization`` header value; 401 when absent or malformed."""
    if not authorization:
        raise Unauthorized("this request needs a bearer token: Authorization: Bearer <token>")
    scheme, _, token = authorization.strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise Unauthorized("the Authorization header must be 'Bearer <token>'")
    if len(token) > 200 or not token.isascii():
        raise Unauthorized("invalid or revoked token")
    return token


def secure(request, proxies: frozenset) -> bool:
    """Came over HTTPS: to the gateway itself, or to a trusted proxy that says so (the
    first value of its ``X-Forwarded-Proto``). A header from anyone else is ignored."""
    if request.scheme == "https":
        return True
    if request.remote_addr not in proxies:
        return False
    forwarded = request.headers.get("X-Forwarded-Proto", "")
    return forwarded.split(",")[0].strip().lower() == "https"




def base_url(request, proxies: frozenset) -> str:
    """This gateway's address as the client reached it (``https`` behind a trusted TLS
    proxy): where links handed to people point."""
    return f"{'https' if secure(request, proxies) else 'http'}://{request.host}"
