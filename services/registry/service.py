"""The organization registry: the union tree, enterprises, their counts and chains.

RPC only (the gateway serves HTTP). Every entrypoint loads its arguments with the RPC
contract (``shared/api/registry.py``, ``registry`` in this module), the one place input
is checked, calls one use case (``operations``, writes) or read (``views``), and dumps
the answer with the contract. ``caller`` is ``{name, role, organization_code}``
(``shared.caller``): the registry itself checks that the caller's role may do it and
that what it touches lies in the caller's subtree. Reading an organization's card, its
children and its statistics is public and takes no caller.

Errors (``shared.errors``, they arrive in the caller as themselves): ``InvalidInput``
with field messages in ``details``; ``Forbidden`` for a role or a subtree the caller
lacks; ``NotFound`` when the code or credit code a call is about does not exist (a code
merely *named* in the input gives ``InvalidInput`` on that field); ``Conflict`` for a
duplicate or a closed enterprise. Every change publishes its event from
``shared/events/registry.py`` in the same transaction; a change that changes nothing
publishes nothing.
"""

from functools import cache
from pathlib import Path

from services.registry import importer, operations, views
from shared.api import registry
from shared.caller import Caller
from shared.dependencies import Database, Metrics
from shared.paging import DEFAULT_LIMIT
from shared.rpc import rpc
from shared.schemas import load
from shared.web import OpsEndpoints

MIGRATIONS = Path(__file__).parent / "migrations"


@cache
def contract(schema_class):
    """The one instance of a contract schema (marshmallow schemas keep nothing between
    calls): building one per call cost more than the statistics read itself."""
    return schema_class()


def dumped(schema_class, answer):
    return contract(schema_class).dump(answer)


def _code(code) -> str:
    return load(contract(registry.OrganizationRefSchema), {"code": code}, "code rejected")["code"]


def _credit_code(credit_code) -> str:
    return load(contract(registry.EnterpriseRefSchema), {"credit_code": credit_code},
                "credit code rejected")["credit_code"]


class RegistryService(OpsEndpoints):
    name = "registry"
    db = Database(MIGRATIONS)
    metrics = Metrics()

    # --- organizations ----------------------------------------------------------------

    @rpc
    def register_organization(self, data, caller):
        """``data``: ``registry.NewOrganizationSchema``; for an enterprise union
        enterprise_credit_code (that enterprise then has its own union). The district
        federation, the root, is registered by a caller of its own code."""
        data = load(contract(registry.NewOrganizationSchema), data, "organization rejected")
        caller = Caller.from_dict(caller)
        with self.db.unit_of_work() as uow:
            organization = operations.register_organization(uow, data, caller)
        return dumped(registry.OrganizationWithContactsSchema, organization)

    @rpc
    def update_organization(self, code, changes, caller):
        """``changes``: name and/or party_organization."""
        code = _code(code)
        changes = load(contract(registry.OrganizationChangesSchema), changes, "changes rejected")
        caller = Caller.from_dict(caller)
        with self.db.unit_of_work() as uow:
            organization = operations.update_organization(uow, code, changes, caller)
        return dumped(registry.OrganizationWithContactsSchema, organization)

    @rpc
    def move_organization(self, code, parent_code, caller):
        """Moves the organization and its subtree (paths and counts follow)."""
        code = _code(code)
        parent_code = load(contract(registry.OrganizationMoveSchema), {"parent_code": parent_code},
                           "parent_code rejected")["parent_code"]
        caller = Caller.from_dict(caller)
        with self.db.unit_of_work() as uow:
            organization = operations.move_organization(uow, code, parent_code, caller)
        return dumped(registry.OrganizationWithContactsSchema, organization)

    @rpc
    def get_organization(self, code):
        """Public: the card and its contacts (the gateway shows the card only)."""
        code = _code(code)
        with self.db.session() as session:
            organization = views.get_organization(session, code)
        return dumped(registry.OrganizationWithContactsSchema, organization)

    @rpc
    def list_children(self, code, cursor=None, limit=DEFAULT_LIMIT):
        """Public: a page ``{items, next_cursor}`` of the organizations directly under
        ``code``, by code; ``cursor`` is the previous page's next_cursor."""
        code = _code(code)
        page = load(contract(registry.ChildrenQuerySchema), {"cursor": cursor, "limit": limit},
                    "page rejected")
        with self.db.session() as session:
            children = views.list_children(session, code, **page)
        return dumped(registry.OrganizationWithContactsPageSchema, children)

    @rpc
    def set_contacts(self, code, contacts, caller):
        """Replaces the contacts (each needs a phone, an email or a webhook_url).
        Returns ``{code, contacts}``."""
        code = _code(code)
        contacts = load(contract(registry.ContactsInputSchema), {"contacts": contacts},
                        "contacts rejected")["contacts"]
        caller = Caller.from_dict(caller)
        with self.db.unit_of_work() as uow:
            answer = operations.set_contacts(uow, code, contacts, caller)
        return dumped(registry.ContactsSchema, answer)

    @rpc
    def get_contacts(self, code, caller):
        code = _code(code)
        caller = Caller.from_dict(caller)
        with self.db.session() as session:
            answer = views.get_contacts(session, code, caller)
        return dumped(registry.ContactsSchema, answer)

    @rpc
    def chain(self, code=None, credit_code=None, caller=None):
        """The chain from a place up to the district, nearest first; give ``code`` (any
        organization) or ``credit_code`` (an enterprise), and the caller.

        An enterprise's chain starts with its own union if it has one (union_status
        own), then its community or park, street, district; an enterprise union's code
        gives its enterprise's chain. An industry union's chain is itself, district.
        Only the starting place must lie in the caller's subtree.
        """
        place = load(contract(registry.ChainQuerySchema),
                     {"code": code, "credit_code": credit_code},
                     "give either code or credit_code")
        caller = Caller.from_dict(caller)
        with self.db.session() as session:
            answer = views.chain(session, caller, **place)
        return dumped(registry.ChainSchema, answer)

    @rpc
    def statistics(self, code):
        """Public: ``{code, name, enterprises, workers, own_union, covered,
        establishment_rate}`` for the subtree of ``code``, active enterprises only. One
        primary-key read: the counts are kept up to date by every write."""
        code = _code(code)
        with self.db.session() as session:
            figures = views.statistics(session, code)
        return dumped(registry.StatisticsSchema, figures)

    # --- enterprises ------------------------------------------------------------------

    @rpc
    def register_enterprise(self, data, caller):
        """``data``: ``registry.NewEnterpriseSchema``: credit_code, name, community_code,
        headcount (required); address, union_status (own | covered | none, default
        none), union_code (default: the community for covered, a new union
        ``<community>.<credit code>`` for own), key_enterprise (default: 500+ workers),
        assigned_leader {name, title, phone}."""
        data = load(contract(registry.NewEnterpriseSchema), data, "enterprise rejected")
        caller = Caller.from_dict(caller)
        with self.db.unit_of_work() as uow:
            enterprise = operations.register_enterprise(uow, data, caller)
        return dumped(registry.EnterpriseSchema, enterprise)

    @rpc
    def update_enterprise(self, credit_code, changes, caller):
        """``changes``: any of name, address, headcount, union_status, union_code,
        key_enterprise, assigned_leader."""
        credit_code = _credit_code(credit_code)
        changes = load(contract(registry.EnterpriseChangesSchema), changes, "changes rejected")
        caller = Caller.from_dict(caller)
        with self.db.unit_of_work() as uow:
            enterprise = operations.update_enterprise(uow, credit_code, changes, caller)
        return dumped(registry.EnterpriseSchema, enterprise)

    @rpc
    def move_enterprise(self, credit_code, community_code, caller):
        """Moves it (and its own union) to another community or park; coverage by the
        old community federation passes to the new one."""
        credit_code = _credit_code(credit_code)
        community_code = load(contract(registry.EnterpriseMoveSchema),
                              {"community_code": community_code},
                              "community_code rejected")["community_code"]
        caller = Caller.from_dict(caller)
        with self.db.unit_of_work() as uow:
            enterprise = operations.move_enterprise(uow, credit_code, community_code, caller)
        return dumped(registry.EnterpriseSchema, enterprise)

    @rpc
    def close_enterprise(self, credit_code, reason, caller):
        credit_code = _credit_code(credit_code)
        reason = load(contract(registry.EnterpriseCloseSchema), {"reason": reason},
                      "reason rejected")["reason"]
        caller = Caller.from_dict(caller)
        with self.db.unit_of_work() as uow:
            enterprise = operations.close_enterprise(uow, credit_code, reason, caller)
        return dumped(registry.EnterpriseSchema, enterprise)

    @rpc
    def get_enterprise(self, credit_code, caller):
        credit_code = _credit_code(credit_code)
        caller = Caller.from_dict(caller)
        with self.db.session() as session:
            enterprise = views.get_enterprise(session, credit_code, caller)
        return dumped(registry.EnterpriseSchema, enterprise)

    @rpc
    def list_enterprises(self, code, caller, cursor=None, limit=DEFAULT_LIMIT,
                         include_closed=False):
        """A page ``{items, next_cursor}`` of the active enterprises in the subtree of
        ``code`` (closed ones too with ``include_closed``), by community then credit
        code; ``cursor`` is the previous page's next_cursor, limit 1..500."""
        code = _code(code)
        page = load(contract(registry.EnterpriseListQuerySchema),
                    {"cursor": cursor, "limit": limit, "include_closed": include_closed},
                    "page rejected")
        caller = Caller.from_dict(caller)
        with self.db.session() as session:
            enterprises = views.list_enterprises(session, code, caller, **page)
        return dumped(registry.EnterprisePageSchema, enterprises)

    @rpc
    def import_enterprises(self, rows, caller):
        """Upserts rows of enterprises (the import file's columns) by credit code.

        Returns ``registry.ImportReportSchema``; ``row`` is the 1-based position in
        ``rows``. Each row is checked on its own (a bad one, or one outside the caller's
        subtree, is reported and skipped, the good rows kept); unchanged rows publish
        nothing.
        """
        rows = load(contract(registry.ImportInputSchema), {"rows": rows}, "rows rejected")["rows"]
        caller = Caller.from_dict(caller)
        report = importer.import_rows(self.db, enumerate(rows, start=1), caller)
        return dumped(registry.ImportReportSchema, report.as_dict())
