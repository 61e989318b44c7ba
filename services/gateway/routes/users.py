"""The gateway's own routes: who am I, and user management by admins within their subtree.

An admin's new user must belong to an organization inside the admin's subtree, which the
registry confirms (``get_organization(code)["path"]``), so this module needs
``self.registry_rpc`` besides ``self.db`` and ``self.auth`` (and ``self.disputes_rpc``,
which disabling an officer's account revokes the officer with). A social organization's own
account (``so:<id>``, see ``auth``) is placed where incubation says the organization is
based (``self.incubation_rpc``), and is never an admin.

An admin lists, changes and disables the users of their subtree only, and a user outside
it is answered as one that does not exist (404), so names cannot be probed. Information
officers' accounts are made with their registration (``routes/disputes.py``), not here.
"""

from datetime import timedelta

from services.gateway import accounts, sessions
from services.gateway.api import TOKEN, route
from services.gateway.auth import (
    MANAGE_USERS,
    ORGANIZATION_ACCOUNT_ROLES,
    base_url,
    bearer_token,
    in_scope,
    organization_account,
    require_scope,
    trusted_proxies,
)
from services.gateway.dependencies import at_once
from services.gateway.routes.registry import V1
from services.gateway.schemas import (
    IssuedTokenSchema,
    MeSchema,
    NewUserSchema,
    PasswordLinkSchema,
    RevokedSchema,
    RoleChangeSchema,
    RotatedTokenSchema,
    RotationSchema,
    UserPageSchema,
    UserSchema,
)
from shared.errors import Forbidden, InvalidInput, NotFound, Unavailable
from shared.paging import CursorQuery, sequence_page
from shared.timeutil import now_utc
from shared.web import json_response, read_json, read_query

USERS = "users"
PLACED_AT_ONCE = 20  # registry calls in flight for one page of users


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

    def _district(self) -> str:
        return self.config.get("GATEWAY_DISTRICT_CODE", accounts.DEFAULT_DISTRICT_CODE)

    def _in_subtree(self, admin, org_codes, unplaced: set | None = None) -> set:
        """Which of ``org_codes`` lie in the admin's subtree (one registry call each, up
        to PLACED_AT_ONCE at a time; a code the registry no longer knows is in nobody's).
        With ``unplaced``, a code whose backend does not answer now is added to it
        instead of failing (503)."""
        def placed(code):  # True, False, or None: not answered now
            try:
                return in_scope(admin, self._path_of(admin, code))
            except (NotFound, Forbidden):
                return False
            except Unavailable:
                if unplaced is None:
                    raise
                return None

        codes = sorted(set(org_codes))
        inside = set()
        for code, answer in zip(codes, at_once(placed, codes, PLACED_AT_ONCE), strict=True):
            if answer:
                inside.add(code)
            elif answer is None:
                unplaced.add(code)
        return inside

    def managed_user(self, admin, name):
        """The active user ``name`` if inside the admin's subtree; else 404 as for a user
        that does not exist."""
        with self.db.session() as session:
            try:
                user = accounts.find_user(session, name)
            except NotFound:
                user = None
        hidden = NotFound(f"no active user {name[:100]!r} in your subtree", {"name": name})
        # Only the user's org code is stored here; the registry knows where it sits. It is
        # asked for an unknown name too (the admin's own place), so the time taken does not
        # tell which names exist.
        code = user.organization_code if user else admin.organization_code
        if not self._in_subtree(admin, [code]) or user is None:
            raise hidden
        return user

    def users_of_subtree(self, admin, query, unplaced: set | None = None) -> dict:
        """A page of the users in the admin's subtree; with ``unplaced`` (a page), the
        users whose place cannot be known now (incubation down, for an organization's
        own account) are left out and their codes added to it."""
        with self.db.session() as session:
            everyone = accounts.list_users(session)
        inside = self._in_subtree(admin, [user["org_code"] for user in everyone], unplaced)
        return sequence_page([user for user in everyone if user["org_code"] in inside],
                             lambda user: (user["id"],), query["cursor"], query["limit"])

    def password_link(self, request, admin, name) -> dict:
        user = self.managed_user(admin, name)
        with self.db.unit_of_work() as uow:
            secret, expires_at = sessions.issue_password_link(uow.session, user, admin.name,
                                                              now_utc())
        return {"name": user.name, "expires_at": expires_at, "url": sessions.link_url(
            base_url(request, trusted_proxies(self.config)), secret)}

    def new_user(self, admin, data) -> tuple:
        """(user, first token, its expiry) made by ``admin`` from ``NewUserSchema`` data,
        inside the admin's subtree."""
        accounts.check_new_user(data["role"], data["org_code"])
        require_scope(admin, self._path_of(admin, data["org_code"]),
                      f"organization {data['org_code']}")
        with self.db.unit_of_work() as uow:
            user, token = accounts.create_user(uow.session, data["name"], data["role"],
                                               data["org_code"],
                                               accounts.token_lifetime(self.config))
            expires_at = accounts.token_expiry(uow.session, token)
        return user, token, expires_at

    def change_role(self, admin, name, role) -> dict:
        user = self.managed_user(admin, name)
        if organization_account(user.organization_code) is not None and \
                role not in ORGANIZATION_ACCOUNT_ROLES:
            raise InvalidInput("an organization's own account is a viewer or staff",
                               {"role": ["viewer or staff for an so: account"]})
        with self.db.unit_of_work() as uow:
            return accounts.change_role(uow.session, user.name, role,
                                        self._district()).profile()

    def disable_user(self, admin, name) -> int:
        """Disable a user of the admin's subtree; an officer's account stops the officer
        too (their token in disputes), first, so that no token outlives the account."""
        user = self.managed_user(admin, name)
        with self.db.session() as session:
            informant = accounts.officer_of(session, user)
        if informant is not None:
            self.disputes_rpc.revoke_officer(informant, admin.caller())
        with self.db.unit_of_work() as uow:
            return accounts.revoke_user(uow.session, user.name, self._district())

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
        user, token, expires_at = self.new_user(admin, read_json(request, NewUserSchema()))
        return json_response(IssuedTokenSchema().dump(
            {"user": user.profile(), "token": token, "expires_at": expires_at}), status=201)

    @route("GET", f"{V1}/users", tag=USERS, access=MANAGE_USERS,
           summary="The users of the admin's subtree (disabled ones too)",
           query=CursorQuery, response=UserPageSchema)
    def list_users(self, request):
        admin = self.auth.user(request, MANAGE_USERS)
        query = read_query(request, CursorQuery())
        return json_response(UserPageSchema().dump(self.users_of_subtree(admin, query)))

    @route("PATCH", f"{V1}/users/<name>", tag=USERS, access=MANAGE_USERS,
           summary="Give a user of the admin's subtree another role",
           description="404 for a user outside the subtree; 409 for the district's last "
                       "active admin; an officer's account stays an officer's.",
           body=RoleChangeSchema, response=UserSchema, errors=(404, 409))
    def change_user_role(self, request, name):
        admin = self.auth.user(request, MANAGE_USERS)
        data = read_json(request, RoleChangeSchema())
        return json_response(self.change_role(admin, name, data["role"]))

    @route("POST", f"{V1}/users/<name>/password-link", tag=USERS, access=MANAGE_USERS,
           status=201, summary="A one-time link for the user to set their password "
                               "(first, or a reset): single use, 72 hours",
           response=PasswordLinkSchema, errors=(404,))
    def make_password_link(self, request, name):
        admin = self.auth.user(request, MANAGE_USERS)
        link = self.password_link(request, admin, name)
        return json_response(PasswordLinkSchema().dump(link), status=201)

    @route("DELETE", f"{V1}/users/<name>", tag=USERS, access=MANAGE_USERS,
           summary="Revoke a user and all their tokens",
           description="A user outside the admin's subtree is answered as one that does not "
                       "exist (404), so names cannot be probed; the district's last active "
                       "admin cannot be revoked (409).",
           response=RevokedSchema, errors=(404, 409))
    def revoke_user(self, request, name):
        admin = self.auth.user(request, MANAGE_USERS)
        revoked = self.disable_user(admin, name)
        return json_response(RevokedSchema().dump({"name": name, "revoked_tokens": revoked}))
