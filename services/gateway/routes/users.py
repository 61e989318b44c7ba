"""The gateway's own routes: who am I, and user management by admins within their subtree.

An admin's new user must belong to an organization inside the admin's subtree, which the
registry confirms (``get_organization(code)["path"]``), so this module needs
``self.registry_rpc`` besides ``self.db`` and ``self.auth``. A social organization's own
account (``so:<id>``, see ``auth``) is placed where incubation says the organization is
based (``self.incubation_rpc``), and is never an admin.
"""

from datetime import timedelta

from services.gateway import accounts
from services.gateway.api import TOKEN, route
from services.gateway.auth import (
    MANAGE_USERS,
    ORGANIZATION_ACCOUNT_ROLES,
    bearer_token,
    in_scope,
    organization_account,
    require_scope,
)
from services.gateway.routes.registry import V1
from services.gateway.schemas import (
    IssuedTokenSchema,
    MeSchema,
    NewUserSchema,
    RevokedSchema,
    RotatedTokenSchema,
    RotationSchema,
)
from shared.errors import Forbidden, InvalidInput, NotFound
from shared.web import json_response, read_json

USERS = "users"


class UserRoutes:
    api_tags = [{"name": USERS, "description": "Gateway users and their bearer tokens."}]

    def _path_of(self, admin, org_code) -> list:
        """Where a user of ``org_code`` sits: the registry's path, or for an
        organization's own account its home place's (asked as the admin)."""
        organization_id = organization_account(org_code)
        if organization_id is None:
            return self.registry_rpc.get_organization(org_code)["path"]
        return self.incubation_rpc.get_organization(organization_id,
                                                    admin.caller())["home"]["path"]

    @route("GET", f"{V1}/me", tag=USERS, access=TOKEN, backend=False,
           summary="The user this token belongs to, and when the token expires",
           response=MeSchema)
    def me(self, request):
        user = self.auth.user(request)
        return json_response(MeSchema().dump({**user.profile(),
                                              "token_expires_at": user.token_expires_at}))

    @route("POST", f"{V1}/me/token/rotate", tag=USERS, access=TOKEN, backend=False,
           status=201, summary="Rotate this bearer token: a new one (shown once); the old "
                               "one works for a short grace, or not at all",
           body=RotationSchema, response=RotatedTokenSchema)
    def rotate_token(self, request):
        token = bearer_token(request.headers.get("Authorization"))  # a token, not a cookie
        data = read_json(request, RotationSchema())
        grace = (timedelta(seconds=data["grace_seconds"]) if "grace_seconds" in data
                 else accounts.rotation_grace(self.config))
        with self.db.unit_of_work() as uow:
            rotated = accounts.rotate_token(uow.session, token, grace,
                                            accounts.token_lifetime(self.config))
        return json_response(RotatedTokenSchema().dump(
            {**rotated, "user": rotated["user"].profile()}), status=201)

    @route("POST", f"{V1}/users", tag=USERS, access=MANAGE_USERS, status=201,
           summary="Create a user and their first token (shown once)",
           body=NewUserSchema, response=IssuedTokenSchema, errors=(409,))
    def create_user(self, request):
        admin = self.auth.user(request, MANAGE_USERS)
        data = read_json(request, NewUserSchema())
        if organization_account(data["org_code"]) is not None and \
                data["role"] not in ORGANIZATION_ACCOUNT_ROLES:
            raise InvalidInput("an organization's own account is a viewer or staff",
                               {"role": ["viewer or staff for an so: account"]})
        require_scope(admin, self._path_of(admin, data["org_code"]),
                      f"organization {data['org_code']}")
        with self.db.unit_of_work() as uow:
            user, token = accounts.create_user(uow.session, data["name"], data["role"],
                                               data["org_code"],
                                               accounts.token_lifetime(self.config))
            expires_at = accounts.token_expiry(uow.session, token)
        return json_response(IssuedTokenSchema().dump(
            {"user": user.profile(), "token": token, "expires_at": expires_at}), status=201)

    @route("DELETE", f"{V1}/users/<name>", tag=USERS, access=MANAGE_USERS,
           summary="Revoke a user and all their tokens",
           description="A user outside the admin's subtree is answered as one that does not "
                       "exist (404), so names cannot be probed; the district's last active "
                       "admin cannot be revoked (409).",
           response=RevokedSchema, errors=(404, 409))
    def revoke_user(self, request, name):
        admin = self.auth.user(request, MANAGE_USERS)
        with self.db.session() as session:
            try:
                user = accounts.find_user(session, name)
            except NotFound:
                user = None
        hidden = NotFound(f"no active user {name[:100]!r} in your subtree", {"name": name})
        # Only the user's org code is stored here; the registry knows where it sits. It is
        # asked for an unknown name too (the admin's own place), so the time taken does not
        # tell which names exist.
        try:
            path = self._path_of(admin, user.organization_code if user else
                                 admin.organization_code)
        except (NotFound, Forbidden):
            raise hidden from None
        if user is None or not in_scope(admin, path):
            raise hidden
        with self.db.unit_of_work() as uow:
            revoked = accounts.revoke_user(uow.session, name, self.config.get(
                "GATEWAY_DISTRICT_CODE", accounts.DEFAULT_DISTRICT_CODE))
        return json_response(RevokedSchema().dump({"name": name, "revoked_tokens": revoked}))
