"""The console's user management for admins (zh-CN): the users of their subtree, made,
given another role, sent a one-time link to set a password (first or reset), disabled.

    GET  /admin/users                          the list and the form for a new user
    POST /admin/users                          name, role, org_code: the user and their link
    POST /admin/users/<name>/role              role
    POST /admin/users/<name>/password-link     a new one-time link, shown once
    POST /admin/users/<name>/disable           no token or session of theirs works again

The same checks as the JSON API, by the same methods of ``UserRoutes``: a user outside
the admin's subtree is one that does not exist (404), a new user's organization must lie
inside it (403), the district's last admin keeps the role and stays (409).
"""

from marshmallow import Schema, fields, validate

from services.gateway import accounts, messages, pages
from services.gateway.api import PUBLIC, route
from services.gateway.auth import MANAGE_USERS, require_permission
from services.gateway.schemas import NewUserSchema
from shared.errors import Conflict, Forbidden, InvalidInput, NotFound
from shared.paging import MAX_LIMIT
from shared.schemas import load
from shared.web import read_query

CONSOLE = "console"
# The roles an admin gives here; an officer's account comes with their registration.
CONSOLE_ROLES = tuple(role for role in accounts.ROLES if role != accounts.OFFICER)
FIELDS = {"name": {"type": "string"}, "role": {"type": "string", "enum": list(CONSOLE_ROLES)},
          "org_code": {"type": "string"}, "csrf_token": {"type": "string"}}


class UserListQuery(Schema):
    done = fields.String(load_default=None, validate=validate.OneOf(("role", "disabled")))


class UsersPages:
    def _users_page(self, visitor, status=200, **context):
        unplaced = set()  # organizations' own accounts, while incubation does not answer
        listed = self.users_of_subtree(visitor.user, {"cursor": None, "limit": MAX_LIMIT},
                                       unplaced)
        places = self.registry_rpc.list_children(visitor.user.organization_code,
                                                 limit=MAX_LIMIT)["items"] \
            if ":" not in visitor.user.organization_code else []
        return visitor.render("users.html", status=status, users=listed["items"],
                              more=listed["next_cursor"] is not None, roles=CONSOLE_ROLES,
                              unplaced=len(unplaced),
                              places=places, **context)

    @route("GET", "/admin/users", tag=CONSOLE, access=PUBLIC,
           summary="Admins: the users of their subtree, and a form for a new one (zh-CN)",
           extra=pages.page_doc("the users and the form", errors=(400, 403, 503)))
    @pages.signed_in_page
    def users_page(self, request, visitor):
        require_permission(visitor.user, MANAGE_USERS)
        done = read_query(request, UserListQuery())["done"]
        return self._users_page(visitor, done=done, given={
            "org_code": visitor.user.organization_code, "role": "staff"})

    @route("POST", "/admin/users", tag=CONSOLE, access=PUBLIC,
           summary="Admins: make a user of their subtree; the page shows their one-time "
                   "password link",
           extra=pages.page_doc("the users, the new one's link shown once",
                                form=FIELDS, errors=(400, 403, 503)))
    @pages.signed_in_page
    def create_user_page(self, request, visitor):
        require_permission(visitor.user, MANAGE_USERS)
        given = {name: request.form.get(name, "").strip() for name in ("name", "role",
                                                                         "org_code")}
        try:
            data = load(NewUserSchema(), given, "user rejected")
            user, _token, _expires = self.new_user(visitor.user, data)
        except InvalidInput as error:  # each message beside its field
            explained = messages.explain(error)
            errors, status = explained.fields or {"role": [explained.summary]}, error.status
        except Conflict as error:  # the name is taken
            errors, status = {"name": [messages.explain(error).summary]}, error.status
        except (Forbidden, NotFound) as error:  # no such organization in the subtree
            errors, status = {"org_code": [messages.explain(error).summary]}, error.status
        else:
            link = self.password_link(request, visitor.user, user.name)
            return self._users_page(visitor, status=201, created=user.profile(), link=link,
                                    given={"org_code": given["org_code"], "role": "staff"})
        return self._users_page(visitor, status=status, given=given, errors=errors)

    @route("POST", "/admin/users/<name>/role", tag=CONSOLE, access=PUBLIC,
           summary="Admins: give a user of their subtree another role",
           extra=pages.page_doc("", status=303, form={"role": FIELDS["role"],
                                                      "csrf_token": FIELDS["csrf_token"]}))
    @pages.signed_in_page
    def change_role_page(self, request, visitor, name):
        require_permission(visitor.user, MANAGE_USERS)
        role = request.form.get("role", "")
        if role not in CONSOLE_ROLES:
            raise InvalidInput("role rejected", {"role": [
                f"Must be one of: {', '.join(CONSOLE_ROLES)}."]})
        self.change_role(visitor.user, name, role)
        return pages.redirect("/admin/users?done=role")

    @route("POST", "/admin/users/<name>/password-link", tag=CONSOLE, access=PUBLIC,
           summary="Admins: a new one-time link for a user to set a password (a reset)",
           extra=pages.page_doc("the users, the link shown once",
                                form={"csrf_token": FIELDS["csrf_token"]}))
    @pages.signed_in_page
    def password_link_page(self, request, visitor, name):
        require_permission(visitor.user, MANAGE_USERS)
        link = self.password_link(request, visitor.user, name)
        return self._users_page(visitor, link=link, given={
            "org_code": visitor.user.organization_code, "role": "staff"})

    @route("POST", "/admin/users/<name>/disable", tag=CONSOLE, access=PUBLIC,
           summary="Admins: disable a user of their subtree (every token and session ends)",
           extra=pages.page_doc("", status=303, form={"csrf_token": FIELDS["csrf_token"]}))
    @pages.signed_in_page
    def disable_user_page(self, request, visitor, name):
        require_permission(visitor.user, MANAGE_USERS)
        self.disable_user(visitor.user, name)
        return pages.redirect("/admin/users?done=disabled")
