"""The registry as this service needs it: organizations (with their party organization),
their contacts and enterprises (with a key enterprise's assigned leader), kept current
from registry events, and the chain of a place worked out from them.

Organizations and enterprises are the kit's registry read model
(``shared.registry_readmodel``: a snapshot only replaces a row at least as old, a move
re-roots the subtree); contacts and the chain are this service's own. Registry events
arrive in any order (each type on its own queue), so contacts too are only replaced by
a snapshot at least as recent (``as_of`` = the event's time), with one atomic upsert so
concurrent handlers cannot both insert.
"""

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite

from services.notifications.models import enterprises, organization_contacts, organizations
from shared.events.notifications import CHAIN_TIERS
from shared.registry_readmodel import RegistryReadModel


def _leader(data: dict) -> dict:
    leader = data.get("assigned_leader")
    return {"assigned_leader": dict(leader) if leader else None}


registry = RegistryReadModel(organizations, enterprises, enterprise_values=_leader)


def apply_organization(session, data: dict, as_of: datetime):
    registry.apply_organization(session, data, as_of)


def apply_enterprise(session, data: dict, as_of: datetime):
    registry.apply_enterprise(session, data, as_of)


_upserts = {}


def apply_contacts(session, data: dict, as_of: datetime):
    """Insert the organization's contacts, or replace them if the stored ones are not
    newer."""
    name = session.bind.dialect.name
    statement = _upserts.get(name)
    if statement is None:
        # Built once with every column as a parameter, so SQLAlchemy compiles it once.
        dialect = postgresql if name == "postgresql" else sqlite
        statement = dialect.insert(organization_contacts)
        statement = statement.on_conflict_do_update(
            index_elements=[organization_contacts.c.code],
            set_={"contacts": statement.excluded.contacts, "as_of": statement.excluded.as_of},
            where=organization_contacts.c.as_of <= statement.excluded.as_of,
        )
        _upserts[name] = statement
    session.execute(statement, {
        "code": data["code"], "contacts": [dict(c) for c in data["contacts"]], "as_of": as_of,
    })


@dataclass(frozen=True)
class Link:
    """One tier of the chain: a union organization and the party organization leading it."""

    tier: str
    code: str
    name: str | None = None  # None: the registry has not told us of it yet
    party_name: str | None = None
    webhooks: tuple = field(default=())

    def label(self, kind: str) -> str | None:
        return self.party_name if kind == "party" else self.name


@dataclass(frozen=True)
class Leader:
    """A key enterprise's assigned leader (挂点领导), addressed by the enterprise's code."""

    enterprise_code: str
    name: str
    title: str | None = None


def chain(session, enterprise: dict) -> list[Link]:
    """The union organizations from the enterprise's community or park up to the district.

    The case carries the enterprise's path (district .. community), so the chain exists
    even before the registry's events arrive; the read model adds names, party
    organizations and webhook addresses, and the true tier of each code when known.
    """
    path = list(enterprise.get("path") or [])
    if not path or path[-1] != enterprise["community_code"]:
        path.append(enterprise["community_code"])
    # One query: contacts may be known for a code the organizations table has not got yet.
    codes = select(organizations.c.code.label("code")).where(organizations.c.code.in_(path)) \
        .union(select(organization_contacts.c.code).where(
            organization_contacts.c.code.in_(path))).subquery()
    rows = session.execute(
        select(codes.c.code, organizations.c.tier, organizations.c.name,
               organizations.c.party_name, organization_contacts.c.contacts)
        .select_from(codes)
        .outerjoin(organizations, organizations.c.code == codes.c.code)
        .outerjoin(organization_contacts, organization_contacts.c.code == codes.c.code)).all()
    known = {row.code: row for row in rows if row.tier is not None}
    contacts = {row.code: row.contacts for row in rows if row.contacts}
    links, seen = [], set()
    for position, code in enumerate(reversed(path)):
        row = known.get(code)
        # Unknown to the read model: the path's shape says which tier it is.
        tier = row.tier if row is not None else (
            CHAIN_TIERS[position] if position < len(CHAIN_TIERS) else None)
        if tier not in CHAIN_TIERS or tier in seen:
            continue
        seen.add(tier)
        urls = tuple(dict.fromkeys(
            c["webhook_url"] for c in contacts.get(code, []) if c.get("webhook_url")))
        links.append(Link(tier=tier, code=code, name=row.name if row else None,
                          party_name=row.party_name if row else None, webhooks=urls))
    return links


def leader(session, enterprise: dict) -> Leader | None:
    code = enterprise.get("credit_code")
    if not code:
        return None
    row = session.execute(select(enterprises).where(enterprises.c.credit_code == code)).first()
    if row is None or not row.assigned_leader:
        return None
    if not (row.key_enterprise or enterprise.get("key_enterprise")):
        return None
    return Leader(enterprise_code=code, name=row.assigned_leader["name"],
                  title=row.assigned_leader.get("title"))


def current_paths(session, codes=(), credit_codes=(), fallback=()) -> tuple[dict, dict]:
    """Where organizations and enterprises sit now, as the registry would say: two dicts,
    organization code -> path (district .. itself) and credit code -> path (district .. its
    community); a code nobody knows is left out.

    Paths are walked up ``parent_code`` rather than read from each snapshot: moving an
    organization sends one event for it alone, so its descendants' snapshot paths go
    stale while their parent links stay right. ``fallback`` (a case's enterprise path)
    places codes the registry's events have not brought yet.
    """
    fallback = list(fallback or ())
    enterprise_rows = session.execute(
        select(enterprises.c.credit_code, enterprises.c.community_code, enterprises.c.path)
        .where(enterprises.c.credit_code.in_(set(credit_codes)))).all() if credit_codes else []
    links = {}  # code -> (parent_code, snapshot path)
    wanted = set(codes) | {row.community_code for row in enterprise_rows}
    while wanted:  # a query per level of the tree, usually one
        rows = session.execute(
            select(organizations.c.code, organizations.c.parent_code, organizations.c.path)
            .where(organizations.c.code.in_(wanted))).all()
        links.update((row.code, (row.parent_code, row.path)) for row in rows)
        wanted = {row.parent_code for row in rows} - set(links) - {None}

    def path(code, below=frozenset()):
        if code not in links:
            return fallback[:fallback.index(code) + 1] if code in fallback else None
        parent, snapshot = links[code]
        if parent is None:
            return [code]
        above = None if parent in below else path(parent, below | {code})
        return [*above, code] if above else list(snapshot)

    organization_paths = {code: found for code in codes if (found := path(code))}
    enterprise_paths = {row.credit_code: path(row.community_code) or list(row.path)
                        for row in enterprise_rows}
    return organization_paths, enterprise_paths
