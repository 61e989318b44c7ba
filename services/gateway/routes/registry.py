"""Routes backed by the registry: organizations, their contacts and chain, enterprises.

Needs ``self.registry_rpc`` (a ``BackendRpc("registry")``) and ``self.auth``. Bodies and
query strings are checked with the registry's RPC contract (``shared/api/registry.py``),
the same schemas the registry loads them with. Scope is checked here first against the
``path`` the registry gives for the target, fetched first (for creates and moves also
against the parent or destination), so a refused request asks the registry for no
change; the registry checks the caller (``user.caller()``) again itself.
"""

from marshmallow import ValidationError

from services.gateway.api import PUBLIC, route
from services.gateway.auth import READ, WRITE, require_scope
from services.gateway.dependencies import at_once
from shared.api.registry import (
    CODE_MAX_LENGTH,
    MAX_IMPORT_ROWS,
    ChainSchema,
    ChildrenQuerySchema,
    ContactsInputSchema,
    ContactsSchema,
    EnterpriseChangesSchema,
    EnterpriseCloseSchema,
    EnterpriseListQuerySchema,
    EnterpriseMoveSchema,
    EnterprisePageSchema,
    EnterpriseSchema,
    ImportReportSchema,
    ImportRowSchema,
    NewEnterpriseSchema,
    NewOrganizationSchema,
    OrganizationChangesSchema,
    OrganizationMoveSchema,
    OrganizationPageSchema,
    OrganizationSchema,
    StatisticsSchema,
)
from shared.errors import Forbidden, InvalidInput, NotFound
from shared.web import json_response, read_json, read_query

V1 = "/api/v1"
ORGS = "organizations"
ENTERPRISES = "enterprises"
IMPORT_LOOKUPS = 10  # concurrent registry lookups while checking an import's scope

organization_out = OrganizationSchema()
enterprise_out = EnterpriseSchema()
chain_out = ChainSchema()
enterprise_list_query = EnterpriseListQuerySchema(exclude=("include_closed",))


def known_code(code: str, kind: str) -> str:
    """Path segments longer than any real code cannot name anything: 404 without asking."""
    if len(code) > CODE_MAX_LENGTH:
        raise NotFound(f"no {kind} {code[:CODE_MAX_LENGTH]}...")
    return code


class RegistryRoutes:
    api_tags = [
        {"name": ORGS, "description": "The union tree: district, streets, communities and "
                                      "parks, enterprise unions; contacts and the chain."},
        {"name": ENTERPRISES, "description": "Enterprises, their headcount and union coverage."},
    ]

    # --- helpers shared by the routes below -------------------------------------------

    def _organization_for(self, user, code, what="the organization") -> dict:
        organization = self.registry_rpc.get_organization(known_code(code, "organization"))
        require_scope(user, organization["path"], f"{what} {organization['code']}")
        return organization

    def _enterprise_for(self, user, credit_code) -> dict:
        enterprise = self.registry_rpc.get_enterprise(known_code(credit_code, "enterprise"),
                                                      user.caller())
        require_scope(user, enterprise["path"], f"enterprise {enterprise['credit_code']}")
        return enterprise

    # --- organizations ----------------------------------------------------------------

    @route("GET", f"{V1}/organizations/<code>", tag=ORGS, access=PUBLIC,
           summary="An organization's public card", response=OrganizationSchema)
    def get_organization(self, request, code):
        organization = self.registry_rpc.get_organization(known_code(code, "organization"))
        return json_response(organization_out.dump(organization))

    @route("GET", f"{V1}/organizations/<code>/children", tag=ORGS, access=PUBLIC,
           summary="The organizations directly below one, by code, a page at a time",
           query=ChildrenQuerySchema, response=OrganizationPageSchema)
    def list_children(self, request, code):
        page = read_query(request, ChildrenQuerySchema())
        children = self.registry_rpc.list_children(known_code(code, "organization"), **page)
        return json_response(OrganizationPageSchema().dump(children))

    @route("GET", f"{V1}/organizations/<code>/statistics", tag=ORGS, access=PUBLIC,
           summary="Enterprises, workers and union establishment rate of a subtree",
           response=StatisticsSchema)
    def statistics(self, request, code):
        figures = self.registry_rpc.statistics(known_code(code, "organization"))
        return json_response(StatisticsSchema().dump(figures))

    @route("POST", f"{V1}/organizations", tag=ORGS, access=WRITE, status=201,
           summary="Register an organization under a parent", body=NewOrganizationSchema,
           response=OrganizationSchema, errors=(409,))
    def register_organization(self, request):
        user = self.auth.user(request, WRITE)
        data = read_json(request, NewOrganizationSchema())
        if data["parent_code"] is not None:  # (the root has none: the registry decides)
            self._organization_for(user, data["parent_code"], "the parent organization")
        created = self.registry_rpc.register_organization(data, user.caller())
        return json_response(organization_out.dump(created), status=201)

    @route("PATCH", f"{V1}/organizations/<code>", tag=ORGS, access=WRITE,
           summary="Change an organization's name, kind or party organization",
           body=OrganizationChangesSchema, response=OrganizationSchema, errors=(409,))
    def update_organization(self, request, code):
        user = self.auth.user(request, WRITE)
        changes = read_json(request, OrganizationChangesSchema())
        self._organization_for(user, code)
        updated = self.registry_rpc.update_organization(code, changes, user.caller())
        return json_response(organization_out.dump(updated))

    @route("POST", f"{V1}/organizations/<code>/move", tag=ORGS, access=WRITE,
           summary="Move an organization (and its subtree) under another parent",
           body=OrganizationMoveSchema, response=OrganizationSchema, errors=(409,))
    def move_organization(self, request, code):
        user = self.auth.user(request, WRITE)
        data = read_json(request, OrganizationMoveSchema())
        self._organization_for(user, code)
        self._organization_for(user, data["parent_code"], "the new parent")
        moved = self.registry_rpc.move_organization(code, data["parent_code"], user.caller())
        return json_response(organization_out.dump(moved))

    @route("GET", f"{V1}/organizations/<code>/contacts", tag=ORGS, access=READ,
           summary="Who is notified for an organization (personal data)",
           response=ContactsSchema)
    def get_contacts(self, request, code):
        user = self.auth.user(request, READ)
        self._organization_for(user, code)
        return json_response(ContactsSchema().dump(
            self.registry_rpc.get_contacts(code, user.caller())))

    @route("PUT", f"{V1}/organizations/<code>/contacts", tag=ORGS, access=WRITE,
           summary="Replace an organization's contacts", body=ContactsInputSchema,
           response=ContactsSchema)
    def set_contacts(self, request, code):
        user = self.auth.user(request, WRITE)
        data = read_json(request, ContactsInputSchema())
        self._organization_for(user, code)
        return json_response(ContactsSchema().dump(
            self.registry_rpc.set_contacts(code, data["contacts"], user.caller())))

    @route("GET", f"{V1}/organizations/<code>/chain", tag=ORGS, access=READ,
           summary="The chain from an organization up to the district, with contacts",
           description="Union and party organizations side by side, each with its "
                       "contacts: whom a report from this place travels to. Only the "
                       "starting organization must lie within the caller's subtree.",
           response=ChainSchema)
    def organization_chain(self, request, code):
        user = self.auth.user(request, READ)
        self._organization_for(user, code)
        return json_response(chain_out.dump(
            self.registry_rpc.chain(code=code, caller=user.caller())))

    @route("GET", f"{V1}/organizations/<code>/enterprises", tag=ORGS, access=READ,
           summary="Enterprises anywhere in an organization's subtree, a page at a time",
           query=enterprise_list_query, response=EnterprisePageSchema)
    def list_enterprises(self, request, code):
        user = self.auth.user(request, READ)
        page = read_query(request, enterprise_list_query)
        self._organization_for(user, code)
        result = self.registry_rpc.list_enterprises(code, user.caller(), **page)
        return json_response(EnterprisePageSchema().dump(result))

    # --- enterprises ------------------------------------------------------------------

    @route("GET", f"{V1}/enterprises/<credit_code>", tag=ENTERPRISES, access=READ,
           summary="One enterprise", response=EnterpriseSchema)
    def get_enterprise(self, request, credit_code):
        user = self.auth.user(request, READ)
        return json_response(enterprise_out.dump(self._enterprise_for(user, credit_code)))

    @route("GET", f"{V1}/enterprises/<credit_code>/chain", tag=ENTERPRISES, access=READ,
           summary="The chain from an enterprise up to the district, with contacts",
           response=ChainSchema)
    def enterprise_chain(self, request, credit_code):
        user = self.auth.user(request, READ)
        self._enterprise_for(user, credit_code)
        return json_response(chain_out.dump(
            self.registry_rpc.chain(credit_code=credit_code, caller=user.caller())))

    @route("POST", f"{V1}/enterprises", tag=ENTERPRISES, access=WRITE, status=201,
           summary="Register an enterprise in a community or park", body=NewEnterpriseSchema,
           response=EnterpriseSchema, errors=(409,))
    def register_enterprise(self, request):
        user = self.auth.user(request, WRITE)
        data = read_json(request, NewEnterpriseSchema())
        self._organization_for(user, data["community_code"], "the community")
        created = self.registry_rpc.register_enterprise(data, user.caller())
        return json_response(enterprise_out.dump(created), status=201)

    @route("PATCH", f"{V1}/enterprises/<credit_code>", tag=ENTERPRISES, access=WRITE,
           summary="Change headcount, union coverage, key-enterprise flag or details",
           body=EnterpriseChangesSchema, response=EnterpriseSchema, errors=(409,))
    def update_enterprise(self, request, credit_code):
        user = self.auth.user(request, WRITE)
        changes = read_json(request, EnterpriseChangesSchema())
        self._enterprise_for(user, credit_code)
        updated = self.registry_rpc.update_enterprise(credit_code, changes, user.caller())
        return json_response(enterprise_out.dump(updated))

    @route("POST", f"{V1}/enterprises/<credit_code>/move", tag=ENTERPRISES, access=WRITE,
           summary="Move an enterprise to another community or park",
           body=EnterpriseMoveSchema, response=EnterpriseSchema, errors=(409,))
    def move_enterprise(self, request, credit_code):
        user = self.auth.user(request, WRITE)
        data = read_json(request, EnterpriseMoveSchema())
        self._enterprise_for(user, credit_code)
        self._organization_for(user, data["community_code"], "the destination")
        moved = self.registry_rpc.move_enterprise(credit_code, data["community_code"],
                                                  user.caller())
        return json_response(enterprise_out.dump(moved))

    @route("POST", f"{V1}/enterprises/<credit_code>/close", tag=ENTERPRISES, access=WRITE,
           summary="Close an enterprise", body=EnterpriseCloseSchema,
           response=EnterpriseSchema, errors=(409,))
    def close_enterprise(self, request, credit_code):
        user = self.auth.user(request, WRITE)
        data = read_json(request, EnterpriseCloseSchema())
        self._enterprise_for(user, credit_code)
        closed = self.registry_rpc.close_enterprise(credit_code, data["reason"],
                                                    user.caller())
        return json_response(enterprise_out.dump(closed))

    @route("POST", f"{V1}/enterprises/import", tag=ENTERPRISES, access=WRITE,
           summary="Register or update many enterprises; returns a report",
           description="An upsert by credit code: a new enterprise is registered, one "
                       "already registered gets the fields stated (a new community_code "
                       "moves it). The gateway first checks every row's shape, and that "
                       "each community named and each enterprise already registered lies "
                       "within the caller's subtree: if any row fails, nothing is imported "
                       "and the 400 or 403 lists the failing rows by number (`errors`, "
                       "each `field` a row number, 1 the first). "
                       "Then the registry imports the rows and reports those it rejects. "
                       f"At most {MAX_IMPORT_ROWS} rows.",
           body=ImportRowSchema(many=True), response=ImportReportSchema,
           max_body=8 * 1024 * 1024)
    def import_enterprises(self, request):
        user = self.auth.user(request, WRITE)
        rows = read_json(request)
        if not isinstance(rows, list) or not rows:
            raise InvalidInput("send a non-empty JSON array of enterprises")
        if len(rows) > MAX_IMPORT_ROWS:
            raise InvalidInput(f"at most {MAX_IMPORT_ROWS} rows per import",
                               {"": [f"{len(rows)} rows, at most {MAX_IMPORT_ROWS}"]})
        rows = load_rows(rows, ImportRowSchema())
        self._require_import_scope(user, rows)
        report = self.registry_rpc.import_enterprises(rows, user.caller())
        return json_response(ImportReportSchema().dump(report))

    def _require_import_scope(self, user, rows):
        """Every community named, and every enterprise already registered (the import would
        update or move it), must lie within the user's subtree."""
        if self.registry_rpc.get_organization(user.organization_code)["parent_code"] is None:
            return  # a user at the district root has everything in scope

        def community_problem(code):
            try:
                self._organization_for(user, code, "the community")
            except (Forbidden, NotFound) as exc:
                return exc

        def enterprise_problem(credit_code):
            try:
                self._enterprise_for(user, credit_code)
            except Forbidden as exc:
                return exc
            except (NotFound, InvalidInput):
                return None  # not registered (or not a valid code): the registry decides

        # One lookup per distinct code, a few at a time: RPC calls from green threads of
        # one worker share the container's reply listener, which is made for that.
        communities = sorted({row["community_code"] for row in rows if "community_code" in row})
        credit_codes = sorted({row["credit_code"] for row in rows})
        community_problems = dict(zip(
            communities, at_once(community_problem, communities, IMPORT_LOOKUPS), strict=True))
        enterprise_problems = dict(zip(
            credit_codes, at_once(enterprise_problem, credit_codes, IMPORT_LOOKUPS),
            strict=True))
        problems = {}
        for index, row in enumerate(rows, start=1):
            found = [enterprise_problems[row["credit_code"]],
                     community_problems.get(row.get("community_code"))]
            if any(found):
                problems[index] = [exc for exc in found if exc]
        if problems:
            forbidden = any(isinstance(exc, Forbidden) for found in problems.values()
                            for exc in found)
            rows = {str(index): [str(exc) for exc in found] for index, found in problems.items()}
            message = f"{len(problems)} row(s) name what you cannot import into; nothing " \
                      "was imported"
            if forbidden:  # the rows as the problem's field errors too
                raise Forbidden(message, {"errors": rows})
            raise InvalidInput(message, rows)


def load_rows(rows: list, schema) -> list[dict]:
    """Each row loaded by ``schema``; InvalidInput naming every bad row by number (from 1)."""
    loaded, problems = [], {}
    for index, row in enumerate(rows, start=1):
        if not isinstance(row, dict):
            problems[str(index)] = {"_schema": ["a row is a JSON object"]}
            continue
        try:
            loaded.append(schema.load(row))
        except ValidationError as exc:
            problems[str(index)] = exc.messages
    if problems:
        raise InvalidInput(f"{len(problems)} row(s) rejected; nothing was imported", problems)
    return loaded
