"""Reads of the registry: organizations, contacts, chains, statistics, enterprises.

Each takes a session and its input as the RPC contract loaded it, and answers dicts in
the shapes ``shared/api/registry.py`` documents. An organization's card, its children
and its statistics are public; contacts, chains and enterprises need the READ
permission and must lie in the caller's subtree (``shared.caller``).
The lookups here (``Organizations``, ``union_of``, ``read_counts`` ...) also serve the
writes in ``operations``, which read before they change.
"""

from sqlalchemy import String, any_, bindparam, case, func, select
from sqlalchemy.dialects.postgresql import ARRAY

from services.registry import domain
from services.registry.domain import Counts, Enterprise, Organization, StatsDeltas
from services.registry.models import enterprises, organization_stats, organizations, path_codes
from shared.caller import READ, Caller, require
from shared.errors import InvalidInput, NotFound
from shared.paging import DEFAULT_LIMIT, decode_cursor, keyset_page

CHUNK = 500  # codes per IN (...) query


def code_chunks(session, codes: list) -> list[list]:
    """``codes`` in lists of CHUNK for ``among`` (one list on PostgreSQL)."""
    if session.get_bind().dialect.name == "postgresql":
        return [codes] if codes else []
    return [codes[start:start + CHUNK] for start in range(0, len(codes), CHUNK)]


def among(session, column, codes: list):
    """``column IN (codes)``; on PostgreSQL ``column = ANY(:codes)``, one array parameter
    however many codes: an import's batch looks up ~2,000 enterprises and ~2,500
    organization codes, and a 500-value IN list costs compiling, binding and parsing."""
    if session.get_bind().dialect.name == "postgresql":
        return column == any_(bindparam("codes", codes, type_=ARRAY(String), unique=True))
    return column.in_(codes)


# --- rows -> domain objects -> answers -------------------------------------------------

def organization_from_mapping(values) -> Organization:
    party = ({"name": values["party_name"], "kind": values["party_kind"]}
             if values["party_kind"] else None)
    return Organization(
        code=values["code"], name=values["name"], kind=values["kind"],
        parent_code=values["parent_code"], path=path_codes(values["path"]),
        party_organization=party, enterprise_credit_code=values["enterprise_credit_code"],
        contacts=tuple(values["contacts"] or ()),
    )


def organization_from_row(row) -> Organization:
    return organization_from_mapping(row._mapping)


ENTERPRISE_FIELDS = ("credit_code", "name", "community_code", "headcount", "union_status",
                     "union_code", "key_enterprise", "assigned_leader", "address", "status",
                     "closed_reason")


def enterprise_from_mapping(values) -> Enterprise:
    return Enterprise(**{name: values[name] for name in ENTERPRISE_FIELDS})


def enterprise_from_row(row) -> Enterprise:
    return enterprise_from_mapping(row._mapping)


def organization_view(org: Organization) -> dict:
    return {**org.snapshot(), "contacts": list(org.contacts)}


def enterprise_view(enterprise: Enterprise, path) -> dict:
    return {**enterprise.snapshot(path), "closed_reason": enterprise.closed_reason}


# --- lookups ---------------------------------------------------------------------------

class Organizations:
    """Organizations by code, each read once per unit of work.

    ``lock=True`` (for writes) reads them FOR SHARE on PostgreSQL: a concurrent move of
    a community then waits for this transaction, so counts never follow a stale path.
    """

    def __init__(self, session, lock=False):
        self.session = session
        self.lock = lock
        self._known: dict[str, Organization | None] = {}

    def load(self, codes):
        missing = sorted({code for code in codes if code and code not in self._known})
        for chunk in code_chunks(self.session, missing):
            query = select(organizations).where(among(self.session, organizations.c.code,
                                                      chunk))
            if self.lock:
                query = query.with_for_update(read=True)
            for row in self.session.execute(query):
                self._known[row.code] = organization_from_row(row)
            for code in chunk:
                self._known.setdefault(code, None)

    def get(self, code) -> Organization | None:
        if code is None:
            return None
        if code not in self._known:
            self.load([code])
        return self._known[code]

    def add(self, organization: Organization):
        self._known[organization.code] = organization

    def path(self, code) -> tuple[str, ...]:
        return self.get(code).path

    def known(self, code) -> Organization:
        """The organization a call is about; NotFound when there is none."""
        org = self.get(code)
        if org is None:
            raise NotFound(f"no organization has the code {code!r}", {"code": code})
        return org

    def referenced(self, code, field) -> Organization:
        """An organization the input names in ``field``; InvalidInput when there is none."""
        org = self.get(code)
        if org is None:
            raise InvalidInput(f"{field} names no organization",
                               {field: [f"no organization has the code {code!r}"]})
        return org


def communities_within(session, org: Organization) -> dict[str, tuple[str, ...]]:
    """Code -> path of the communities and parks in ``org``'s subtree.

    Walks down by parent (two small indexed reads from the district) rather than the
    path range, which at district scale also holds tens of thousands of enterprise unions.
    """
    if org.kind in domain.COMMUNITY_KINDS:
        return {org.code: org.path}
    found, level = {}, [org.code]
    while level:
        rows = session.execute(
            select(organizations.c.code, organizations.c.kind, organizations.c.path)
            .where(organizations.c.parent_code.in_(level),
                   organizations.c.kind != "enterprise_union"))
        level = []
        for row in rows:
            if row.kind in domain.COMMUNITY_KINDS:
                found[row.code] = path_codes(row.path)
            else:
                level.append(row.code)
    return found


def union_of(session, credit_code) -> str | None:
    """The code of the enterprise union an enterprise owns, if any."""
    return session.execute(
        select(organizations.c.code).where(
            organizations.c.enterprise_credit_code == credit_code,
            organizations.c.kind == "enterprise_union")
    ).scalar()


def district_code(session) -> str | None:
    return session.execute(
        select(organizations.c.code).where(organizations.c.parent_code.is_(None))
    ).scalar()


def enterprise_and_path(session, credit_code) -> tuple[Enterprise, tuple[str, ...]]:
    """An enterprise and its community's path; NotFound when it is not registered."""
    row = session.execute(
        select(enterprises, organizations.c.path.label("community_path"))
        .join(organizations, organizations.c.code == enterprises.c.community_code)
        .where(enterprises.c.credit_code == credit_code)
    ).first()
    if row is None:
        raise NotFound(f"no enterprise has the credit code {credit_code}",
                       {"credit_code": credit_code})
    return enterprise_from_row(row), path_codes(row.community_path)


# --- counts ----------------------------------------------------------------------------

def read_counts(session, code) -> Counts:
    row = session.execute(
        select(organization_stats).where(organization_stats.c.code == code)).one()
    return Counts(row.enterprises, row.workers, row.own_union, row.covered)


def stored_counts(session) -> dict[str, Counts]:
    return {
        row.code: Counts(row.enterprises, row.workers, row.own_union, row.covered)
        for row in session.execute(select(organization_stats))
    }


def recount(session) -> dict[str, Counts]:
    """Every organization's counts computed from the enterprises (the slow, sure way)."""
    e = enterprises.c
    by_community = {
        row.community_code: Counts(row.enterprises, int(row.workers), int(row.own_union),
                                   int(row.covered))
        for row in session.execute(
            select(
                e.community_code,
                func.count().label("enterprises"),
                func.sum(e.headcount).label("workers"),
                func.sum(case((e.union_status == "own", 1), else_=0)).label("own_union"),
                func.sum(case((e.union_status == "covered", 1), else_=0)).label("covered"),
            ).where(e.status == "active").group_by(e.community_code)
        )
    }
    totals = {}
    deltas = StatsDeltas()
    for row in session.execute(select(organizations.c.code, organizations.c.path)):
        totals[row.code] = domain.ZERO
        counts = by_community.get(row.code)
        if counts:
            deltas.add(path_codes(row.path), counts)
    totals.update(dict(deltas.items()))
    return totals


# --- organizations ---------------------------------------------------------------------

def get_organization(session, code) -> dict:
    return organization_view(Organizations(session).known(code))


def text_key(cursor, arity) -> tuple | None:
    """The key in a list's cursor, checked to be text (codes): a forged cursor holding a
    number would otherwise reach the database as text compared with a number."""
    if cursor is None:
        return None
    key = decode_cursor(cursor, arity)
    if not all(isinstance(value, str) for value in key):
        raise InvalidInput("cursor is not one this list gave out; start again without it",
                           {"cursor": ["invalid cursor"]})
    return key


def list_children(session, code: str, cursor=None, limit=DEFAULT_LIMIT) -> dict:
    """A page of the organizations directly under ``code``, by code."""
    text_key(cursor, 1)
    Organizations(session).known(code)
    return keyset_page(
        session, select(organizations).where(organizations.c.parent_code == code),
        [organizations.c.code], cursor, limit,
        view=lambda values: organization_view(organization_from_mapping(values)))


def get_contacts(session, code: str, caller: Caller) -> dict:
    org = Organizations(session).known(code)
    require(caller, READ, org.path, what=f"the organization {code}")
    return {"code": code, "contacts": list(org.contacts)}


def statistics(session, code) -> dict:
    row = session.execute(
        select(organizations.c.code, organizations.c.name, organization_stats)
        .join(organization_stats, organization_stats.c.code == organizations.c.code)
        .where(organizations.c.code == code)
    ).first()
    if row is None:
        raise NotFound(f"no organization has the code {code!r}", {"code": code})
    counts = domain.Counts(row.enterprises, row.workers, row.own_union, row.covered)
    return {"code": row.code, "name": row.name, "enterprises": counts.enterprises,
            "workers": counts.workers, "own_union": counts.own_union,
            "covered": counts.covered, "establishment_rate": counts.establishment_rate}


def chain(session, caller: Caller, code=None, credit_code=None) -> dict:
    """The chain from an organization (``code``) or an enterprise (``credit_code``) up to
    the district (``ChainSchema``). Only the starting place must be in the caller's
    subtree: whom a report from there travels to is the point."""
    orgs = Organizations(session)
    if code is not None:
        start = orgs.known(code)
        require(caller, READ, start.path, what=f"the organization {code}")
        enterprise = None
        if start.enterprise_credit_code:
            enterprise, _ = enterprise_and_path(session, start.enterprise_credit_code)
        path = start.path
    else:
        enterprise, path = enterprise_and_path(session, credit_code)
        require(caller, READ, path, what=f"enterprise {credit_code}")
    own_union = None
    if enterprise is not None and enterprise.union_status == "own":
        own_union = orgs.get(enterprise.union_code)
    orgs.load(path)
    items = domain.chain_of([orgs.get(c) for c in path], own_union)
    leader = enterprise.assigned_leader if enterprise and enterprise.key_enterprise else None
    return {
        "code": code,
        "credit_code": enterprise.credit_code if enterprise else None,
        "enterprise": None if enterprise is None else {
            "credit_code": enterprise.credit_code, "name": enterprise.name,
            "key_enterprise": enterprise.key_enterprise, "status": enterprise.status},
        "assigned_leader": leader,
        "chain": items,
    }


# --- enterprises -----------------------------------------------------------------------

def get_enterprise(session, credit_code: str, caller: Caller) -> dict:
    enterprise, path = enterprise_and_path(session, credit_code)
    require(caller, READ, path, what=f"enterprise {credit_code}")
    return enterprise_view(enterprise, path)


def list_enterprises(session, code: str, caller: Caller, cursor=None, limit=DEFAULT_LIMIT,
                     include_closed=False) -> dict:
    """A page of the subtree's enterprises, by community then credit code.

    Active ones only unless ``include_closed``. The page is an index range on
    (community_code, credit_code) after the cursor's key, so the district's 320,000 page
    as fast as a community's 227, however deep the page: the communities before the
    cursor's are left out of the ``IN`` list, since PostgreSQL walks the index from the
    start of each community in it (a page at the district's end took 300 ms, not 0.3).
    """
    after = text_key(cursor, 2)
    org = Organizations(session).known(code)
    require(caller, READ, org.path, what=f"the organization {code}")
    paths = communities_within(session, org)
    communities = sorted(community for community in paths
                         if after is None or community >= after[0])
    query = select(enterprises).where(enterprises.c.community_code.in_(communities))
    if not include_closed:
        query = query.where(enterprises.c.status == "active")
    return keyset_page(
        session, query, [enterprises.c.community_code, enterprises.c.credit_code], cursor,
        limit, view=lambda values: enterprise_view(enterprise_from_mapping(values),
                                                   paths[values["community_code"]]))
