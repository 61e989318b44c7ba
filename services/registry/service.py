"""The organization registry: the union tree, enterprises, their counts and chains.

RPC only (the gateway serves HTTP). Dicts in and out. Errors (``shared.errors``, they
arrive in the caller as themselves): ``InvalidInput`` with field messages in
``details``; ``NotFound`` when the code or credit code a call is about does not exist
(a code merely *named* in the input gives ``InvalidInput`` on that field); ``Conflict``
for a duplicate or a closed enterprise. Every change publishes its event from
``shared/events/registry.py`` in the same transaction; a change that changes nothing
publishes nothing.

Shapes returned:
- organization: ``{code, name, kind, tier, parent_code, path: [district .. itself],
  party_organization: {name, kind} | None, enterprise_credit_code, contacts: [...]}``
- enterprise: ``{credit_code, name, address, community_code, path: [district ..
  community], headcount, union_status, union_code, key_enterprise, assigned_leader:
  {name, title, phone} | None, status, closed_reason}``
- contacts: ``{code, contacts: [{name, role, phone, email, webhook_url}]}``
"""

from pathlib import Path

from services.registry import importer, operations, views
from shared.dependencies import Database, Metrics
from shared.errors import InvalidInput
from shared.rpc import rpc
from shared.web import OpsEndpoints

MIGRATIONS = Path(__file__).parent / "migrations"


class RegistryService(OpsEndpoints):
    name = "registry"
    db = Database(MIGRATIONS)
    metrics = Metrics()

    # --- organizations ----------------------------------------------------------------

    @rpc
    def register_organization(self, data):
        """``data``: code, name, kind, parent_code, party_organization {name, kind},
        contacts, and for an enterprise union enterprise_credit_code (that enterprise
        then has its own union). Returns the organization."""
        with self.db.unit_of_work() as uow:
            return operations.register_organization(uow, data)

    @rpc
    def update_organization(self, code, changes):
        """``changes``: name and/or party_organization. Returns the organization."""
        with self.db.unit_of_work() as uow:
            return operations.update_organization(uow, code, changes)

    @rpc
    def move_organization(self, code, parent_code):
        """Moves the organization and its subtree (paths and counts follow)."""
        with self.db.unit_of_work() as uow:
            return operations.move_organization(uow, code, parent_code)

    @rpc
    def get_organization(self, code):
        with self.db.session() as session:
            return views.get_organization(session, code)

    @rpc
    def list_children(self, code):
        """The organizations directly under ``code``, by code."""
        with self.db.session() as session:
            return views.list_children(session, code)

    @rpc
    def set_contacts(self, code, contacts):
        """Replaces the contacts (a list of {name, role, phone, email, webhook_url}; each
        needs a phone, an email or a webhook_url). Returns ``{code, contacts}``."""
        with self.db.unit_of_work() as uow:
            return operations.set_contacts(uow, code, contacts)

    @rpc
    def get_contacts(self, code):
        with self.db.session() as session:
            return views.get_contacts(session, code)

    @rpc
    def chain(self, code=None, credit_code=None):
        """The chain from a place up to the district, nearest first; give one argument.

        ``code`` may be any organization; ``credit_code`` an enterprise. Returns::

            {"code": code or None, "credit_code": the enterprise's or None,
             "enterprise": {credit_code, name, key_enterprise, status} or None,
             "assigned_leader": {name, title, phone} or None,   # key enterprises only
             "chain": [{"tier": "enterprise" | "community" | "street" | "district",
                        "union": {code, name, kind},
                        "party_organization": {name, kind} or None,
                        "contacts": [{name, role, phone, email, webhook_url}]}, ...]}

        An enterprise's chain starts with its own union if it has one (union_status
        own), then its community or park, street, district; an enterprise union's code
        gives its enterprise's chain. An industry union's chain is itself, district.
        """
        with self.db.session() as session:
            return views.chain(session, code=code, credit_code=credit_code)

    @rpc
    def statistics(self, code):
        """``{code, name, enterprises, workers, own_union, covered, establishment_rate}``
        for the subtree of ``code``, active enterprises only; rate = (own + covered) /
        enterprises, 0..1 rounded to 4 places. One primary-key read: the counts are kept
        up to date by every write."""
        with self.db.session() as session:
            return views.statistics(session, code)

    # --- enterprises ------------------------------------------------------------------

    @rpc
    def register_enterprise(self, data):
        """``data``: credit_code, name, community_code, headcount (required); address,
        union_status (own | covered | none, default none), union_code (default: the
        community for covered, a new union ``<community>.<credit code>`` for own),
        key_enterprise (default: 500+ workers), assigned_leader {name, title, phone}."""
        with self.db.unit_of_work() as uow:
            return operations.register_enterprise(uow, data)

    @rpc
    def update_enterprise(self, credit_code, changes):
        """``changes``: any of name, address, headcount, union_status, union_code,
        key_enterprise, assigned_leader. Returns the enterprise."""
        with self.db.unit_of_work() as uow:
            return operations.update_enterprise(uow, credit_code, changes)

    @rpc
    def move_enterprise(self, credit_code, community_code):
        """Moves it (and its own union) to another community or park; coverage by the
        old community federation passes to the new one."""
        with self.db.unit_of_work() as uow:
            return operations.move_enterprise(uow, credit_code, community_code)

    @rpc
    def close_enterprise(self, credit_code, reason):
        with self.db.unit_of_work() as uow:
            return operations.close_enterprise(uow, credit_code, reason)

    @rpc
    def get_enterprise(self, credit_code):
        with self.db.session() as session:
            return views.get_enterprise(session, credit_code)

    @rpc
    def list_enterprises(self, code, limit=50, offset=0, include_closed=False):
        """``{code, total, limit, offset, items: [enterprise]}``: the active enterprises
        in the subtree of ``code`` (closed ones too with ``include_closed``), by
        community then credit code; limit 1..500."""
        with self.db.session() as session:
            return views.list_enterprises(session, code, limit, offset, include_closed)

    @rpc
    def import_enterprises(self, rows):
        """Upserts rows of enterprises (the import file's columns) by credit code.

        Returns ``{rows, created, updated, unchanged, rejected, errors: [{row,
        credit_code, reason}], ignored_columns}``; ``row`` is the 1-based position in
        ``rows``. Bad rows are reported and skipped, good rows kept; unchanged rows
        publish nothing.
        """
        if not isinstance(rows, list):
            raise InvalidInput("rows must be a list of objects")
        return importer.import_rows(self.db, enumerate(rows, start=1)).as_dict()
