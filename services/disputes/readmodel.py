"""What disputes keeps of other services' events: the registry's organizations and
enterprises (the tree a report is placed in), and notifications' acknowledgements (a line
in the case timeline).

Handlers run concurrently, so a registry event may be applied after a later one about
the same row: each row keeps the time of the event it came from (``as_of``) and an
older snapshot is ignored.
"""

from datetime import datetime

from sqlalchemy import insert, select, update

from services.disputes import domain
from services.disputes.models import cases, enterprises, organizations, timeline
from shared.errors import InvalidInput, NotFound

# --- the registry ---------------------------------------------------------------------


def _older(row_as_of, as_of) -> bool:
    return as_of is not None and row_as_of is not None and domain.as_utc(row_as_of) > as_of


def apply_organization(session, data: dict, as_of: datetime | None = None) -> None:
    """Upsert from any organization event; a move re-roots the local subtree's paths."""
    old = session.execute(
        select(organizations.c.path, organizations.c.as_of)
        .where(organizations.c.code == data["code"])
    ).first()
    values = {"name": data["name"], "kind": data["kind"], "tier": data["tier"],
              "path": list(data["path"]), "as_of": as_of}
    if old is None:
        session.execute(insert(organizations).values(code=data["code"], **values))
        return
    if _older(old.as_of, as_of):
        return
    session.execute(update(organizations).where(organizations.c.code == data["code"])
                    .values(**values))
    if list(old.path) != values["path"]:
        depth = len(old.path)
        for row in session.execute(select(organizations.c.code, organizations.c.path)).all():
            if row.code != data["code"] and list(row.path[:depth]) == list(old.path):
                session.execute(update(organizations).where(organizations.c.code == row.code)
                                .values(path=values["path"] + list(row.path[depth:])))


def apply_enterprise(session, data: dict, as_of: datetime | None = None) -> None:
    values = {"name": data["name"], "name_key": domain.name_key(data["name"]),
              "address": data.get("address"),
              "community_code": data["community_code"], "path": list(data["path"]),
              "headcount": data["headcount"], "key_enterprise": data["key_enterprise"],
              "status": data["status"], "as_of": as_of}
    old = session.execute(select(enterprises.c.as_of).where(
        enterprises.c.credit_code == data["credit_code"])).first()
    if old is None:
        session.execute(insert(enterprises).values(credit_code=data["credit_code"], **values))
    elif not _older(old.as_of, as_of):
        session.execute(update(enterprises)
                        .where(enterprises.c.credit_code == data["credit_code"])
                        .values(**values))


def organization(session, code: str):
    row = session.execute(select(organizations).where(organizations.c.code == code)).first()
    if row is None:
        raise NotFound(f"no organization {code} (not known to the registry)")
    return row


def _community(session, code: str):
    row = session.execute(select(organizations).where(organizations.c.code == code)).first()
    if row is None or row.tier != "community":
        raise InvalidInput(f"{code} is not a community or park known to the registry",
                           {"community_code": ["unknown community or park"]})
    return row


def resolve_enterprise(session, data: dict) -> dict:
    """The enterprise a report names, with its place in the tree.

    A registered enterprise is found by credit code, or by exact name within the
    community; otherwise name, address and community describe one not yet registered.
    """
    row = None
    if data.get("credit_code"):
        row = session.execute(select(enterprises).where(
            enterprises.c.credit_code == data["credit_code"])).first()
        if row is None and not data.get("name"):
            raise NotFound(f"enterprise {data['credit_code']} is not in the registry; give "
                           "its name, address and community instead",
                           {"credit_code": ["not registered"]})
    elif data.get("name") and data.get("community_code"):
        row = session.execute(select(enterprises).where(
            enterprises.c.community_code == data["community_code"],
            enterprises.c.name_key == domain.name_key(data["name"]))).first()
    if row is not None:
        return {"credit_code": row.credit_code, "name": row.name, "address": row.address,
                "community_code": row.community_code, "path": list(row.path),
                "key_enterprise": row.key_enterprise,
                "key": row.credit_code}
    community = _community(session, data["community_code"])
    return {"credit_code": None, "name": data["name"].strip(), "address": data.get("address"),
            "community_code": community.code, "path": list(community.path),
            "key_enterprise": False,
            "key": f"{community.code}:{domain.name_key(data['name'])}"}


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
