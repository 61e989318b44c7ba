"""Who is calling, and may they: roles, permissions and organization scope.

The gateway authenticates a request and hands the caller to a service over RPC as
``{"name", "role", "organization_code"}`` (``Caller.as_dict()``). The service that owns
the data checks again before it writes or reads (``require``), so a service called by
another integrator over the bus is not left open.

Roles (each includes the ones below it):

- ``viewer``: reads within the subtree;
- ``staff``: reads and writes within the subtree;
- ``admin``: staff, plus managing the gateway's users within the subtree, and the acts
  only an admin may do (``require_admin``: approving and paying rewards, revealing an
  identity); the admins of the district federation (the root of the tree) alone publish
  policies (``require_district_admin``).

and two outside that order: ``judge``, a competition judge (issue 9), who may do nothing
anywhere but score the rounds the competitions service has registered them on by name; and
``officer``, an information officer (信息员) signed in to the gateway's pages, who may do
nothing but report and read their own reports and rewards (disputes knows them by their
officer token's hash, which the gateway keeps for them).

"Within the subtree" is simply: the caller's organization code is on the target's path
(the organization codes from the district down to the target, as the registry gives it).
"""

from collections.abc import Iterable
from dataclasses import asdict, dataclass

from marshmallow import Schema, fields, validate

from shared.errors import Forbidden, InvalidInput, Unauthorized

READ = "read"
WRITE = "write"
MANAGE_USERS = "manage_users"

PERMISSIONS = {
    "viewer": frozenset({READ}),
    "staff": frozenset({READ, WRITE}),
    "admin": frozenset({READ, WRITE, MANAGE_USERS}),
    "judge": frozenset(),  # scores the rounds competitions names them for, nothing else
    "officer": frozenset(),  # reports as the information officer linked to the account
}
ROLES = tuple(PERMISSIONS)


@dataclass(frozen=True)
class Caller:
    name: str
    role: str
    organization_code: str

    def can(self, action: str) -> bool:
        return action in PERMISSIONS.get(self.role, ())

    def as_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data) -> "Caller":
        """The caller an RPC argument describes; 400 when it is not one."""
        if isinstance(data, Caller):
            return data
        try:
            return cls(**CallerSchema().load(data))
        except Exception as exc:  # noqa: BLE001 - any malformed caller is the same error
            raise InvalidInput("the caller must be {name, role, organization_code}",
                               getattr(exc, "messages", None)) from None


def signed_in(data, who: str = "a user of the gateway") -> Caller:
    """The caller of a method that needs one: none is a 401 (nobody signed in), a
    malformed one a 400."""
    if not data:
        raise Unauthorized(f"sign in: this needs {who}")
    return Caller.from_dict(data)


class CallerSchema(Schema):
    """The caller as it crosses RPC."""

    name = fields.String(required=True, validate=validate.Length(min=1, max=100))
    role = fields.String(required=True, validate=validate.OneOf(ROLES))
    organization_code = fields.String(required=True, validate=validate.Length(min=1, max=100))


def require_permission(caller: Caller, action: str) -> Caller:
    if not caller.can(action):
        raise Forbidden(f"role {caller.role!r} may not {action.replace('_', ' ')}",
                        {"role": caller.role, "needs": action})
    return caller


def in_scope(caller: Caller, path: Iterable[str] | None) -> bool:
    return caller.organization_code in set(path or ())


def require_scope(caller: Caller, path: Iterable[str] | None, what: str = "the target") -> None:
    """403 unless ``path`` (district .. target) passes through the caller's organization."""
    if not in_scope(caller, path):
        raise Forbidden(f"{what} is outside the subtree of organization "
                        f"{caller.organization_code}",
                        {"organization_code": caller.organization_code})


def require_admin(caller: Caller, act: str) -> Caller:
    """403 unless the caller is an admin (of whatever organization: add the scope check)."""
    if caller.role != "admin":
        raise Forbidden(f"only an admin may {act}", {"role": caller.role, "needs": "admin"})
    return caller


def is_district(path: Iterable[str] | None) -> bool:
    """An organization whose path (district .. it) is itself alone is the district."""
    return len(tuple(path or ())) == 1


def require_district_admin(caller: Caller, path: Iterable[str] | None, act: str) -> Caller:
    """403 unless the caller is an admin of the district federation itself.

    ``path`` is the caller's own organization's path as the owning service knows it (its
    registry read model): a street admin's has two codes, an unknown organization none.
    District-wide rules (reward policy, competition rules) are the district's to publish.
    """
    require_admin(caller, act)
    if not is_district(path) or tuple(path)[0] != caller.organization_code:
        raise Forbidden(f"only the district federation's admins may {act}",
                        {"organization_code": caller.organization_code})
    return caller


def require(caller: Caller, action: str, *paths: Iterable[str], what: str = "the target"
            ) -> Caller:
    """Permission and scope at once: every path given must be inside the caller's subtree."""
    require_permission(caller, action)
    for path in paths:
        require_scope(caller, path, what)
    return caller
