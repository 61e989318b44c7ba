"""The gateway's own routes: who am I, and user management by admins within their subtree.

An admin's new user must belong to an organization inside the admin's subtree, which the
registry confirms (``get_organization(code)["path"]``), so this module needs
``self.registry_rpc`` besides ``self.db`` and ``self.auth``. A social organization's own
account (``so:<id>``, see ``auth``) is placed where incubation says the organization is
based (``self.incubation_rpc``), and is never an admin.
"""

from services.gateway import accounts
from services.gateway.api import TOKEN, route
from services.gateway.auth import (
    MANAGE_USERS,
    ORGANIZATION_ACCOUNT_ROLES,
    organization_account,
    require_scope,
)
from services.gateway.routes.registry import V1
from services.gateway.schemas import IssuedTokenSchema, NewUserSchema, RevokedSchema, UserSchema
from shared.errors import InvalidInput
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
           summary="The user this token belongs to", response=UserSchema)
    def me(self, request):
        return json_response(UserSchema().dump(self.auth.user(request).profile()))

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
                                               data["org_code"])
        return json_response(IssuedTokenSchema().dump({"user": user.profile(), "token": token}),
                             status=201)

    @route("DELETE", f"{V1}/users/<name>", tag=USERS, access=MANAGE_USERS,
           summary="Revoke a user and all their tokens", response=RevokedSchema)
    def revoke_user(self, request, name):
        admin = self.auth.user(request, MANAGE_USERS)
        with self.db.session() as session:
            user = accounts.find_user(session, name)
        # Only the user's org code is stored here; the registry knows where it sits.
        require_scope(admin, self._path_of(admin, user.organization_code), f"user {name}")
        with self.db.unit_of_work() as uow:
            revoked = accounts.revoke_user(uow.session, name)
        return json_response(RevokedSchema().dump({"name": name, "revoked_tokens": revoked}))
