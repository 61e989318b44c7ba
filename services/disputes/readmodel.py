"""What disputes keeps of other services' events: the registry's organizations and
enterprises (the tree a report is placed in), and notifications' acknowledgements (a line
in the case timeline).

The registry part is ``shared.registry_readmodel`` (snapshots applied in any order, an
older one never replacing a newer, a moved subtree re-rooted), with two columns of
disputes' own on each enterprise: ``name_key``, so that a report naming a registered
enterprise without its credit code finds it in one indexed lookup, and ``address``,
which a case shows.
"""

import time

from sqlalchemy import bindparam, insert, select

from services.disputes import domain
from services.disputes.models import cases, enterprises, organizations, timeline
from shared.errors import InvalidInput, NotFound
from shared.registry_readmodel import RegistryReadModel

# --- the registry ---------------------------------------------------------------------


def _own_enterprise_values(data: dict) -> dict:
    return {"name_key": domain.name_key(data["name"]), "address": data.get("address")}


# ``registry.apply_organization(session, data, as_of)`` and ``apply_enterprise``: the
# registry's events; ``known_organization(session, code)``: a row or a 404.
registry = RegistryReadModel(organizations, enterprises,
                             enterprise_values=_own_enterprise_values)


# How long a report may still be placed by what a community was: a community renamed,
# moved or re-tiered by a registry event is seen by every replica within this time (at
# once by the replica that applied the event: ``forget_communities``). A community not
# known is never kept, so one the registry has just registered is used at once.
COMMUNITY_SECONDS = 5.0

_COMMUNITIES = {}


def _community(session, code: str) -> dict:
    """The community ``code``, read at most every ``COMMUNITY_SECONDS`` per replica: every
    report naming an unregistered enterprise is placed by its community, and there are
    a few hundred communities in a district."""
    key = (session.get_bind(), code)
    cached = _COMMUNITIES.get(key)
    if cached is not None and time.monotonic() - cached[0] <= COMMUNITY_SECONDS:
        return cached[1]
    row = registry.organization(session, code)
    if row is None or row["tier"] != "community":
        raise InvalidInput(f"{code} is not a community or park known to the registry",
                           {"community_code": ["unknown community or park"]})
    _COMMUNITIES[key] = (time.monotonic(), row)
    return row


def forget_communities() -> None:
    """After this replica applied a change to the registry's organizations (a street
    moved re-roots its communities: any of them may have changed)."""
    _COMMUNITIES.clear()


# Built once (a report is the hot path): the values are parameters.
_BY_CREDIT_CODE = select(enterprises).where(
    enterprises.c.credit_code == bindparam("credit_code"))
_BY_NAME = select(enterprises).where(enterprises.c.community_code == bindparam("community_code"),
                                     enterprises.c.name_key == bindparam("name_key"))


def resolve_enterprise(session, data: dict) -> dict:
    """The enterprise a report names, with its place in the tree.

    A registered enterprise is found by credit code, or by exact name within the
    community; otherwise name, address and community describe one not yet registered.
    """
    row = None
    if data.get("credit_code"):
        row = session.execute(_BY_CREDIT_CODE, {"credit_code": data["credit_code"]}).first()
        if row is None and not data.get("name"):
            raise NotFound(f"enterprise {data['credit_code']} is not in the registry; give "
                           "its name, address and community instead",
                           {"credit_code": ["not registered"]})
    elif data.get("name") and data.get("community_code"):
        row = session.execute(_BY_NAME, {"community_code": data["community_code"],
                                         "name_key": domain.name_key(data["name"])}).first()
    if row is not None:
        return {"credit_code": row.credit_code, "name": row.name, "address": row.address,
                "community_code": row.community_code, "path": list(row.path),
                "key_enterprise": row.key_enterprise,
                "key": row.credit_code}
    community = _community(session, data["community_code"])
    return {"credit_code": None, "name": data["name"].strip(), "address": data.get("address"),
            "community_code": community["code"], "path": list(community["path"]),
            "key_enterprise": False,
            "key": f"{community['code']}:{domain.name_key(data['name'])}"}


# --- acknowledgements from notifications ----------------------------------------------

def apply_acknowledgement(session, data: dict) -> bool:
    """A line in the case's timeline; False for a case this service does not hold."""
    exists = session.execute(select(cases.c.id).where(cases.c.id == data["case_id"])).first()
    if not exists:
        return False
    session.execute(insert(timeline), {
        "case_id": data["case_id"], "at": data["at"], "kind": "acknowledged",
        "actor": data.get("by"), "detail": {"organization_code": data["organization_code"]}})
    return True
