"""What incubation keeps of other services' data, from their events.

- The registry's places (``shared.registry_readmodel``): where organizations are based and
  serve, where activities are held, who buys a service. A place is an organization
  (community, park, street ...) by its code or an enterprise by its credit code; its
  ``path`` runs from the district down to it (an enterprise's ends with its community:
  what statistics and scope look at). A moved place takes the organizations based there
  along (``follow_moves``); a closed enterprise hosts no new activity.
- Members (membership's events, the kit's ``MembershipReadModel``): the worker number,
  the current membership's status, union and the enterprise's path. A beneficiary given
  as a worker number is linked to the member here, members of a bulk import too (each
  batch's ``member_batch_imported`` names them by id and place).
- Members' service requests, which staff may refer to an organization.

Every upsert keeps the most recent snapshot (``as_of`` = the event's time), so events
arriving out of order or twice change nothing.
"""


from sqlalchemy import select, update

from services.incubation.models import enterprises, members, organizations, places
from services.incubation.models import service_requests as requests_table
from shared.errors import InvalidInput
from shared.membership_readmodel import MembershipReadModel
from shared.registry_readmodel import RegistryReadModel, path_key, upsert_snapshot

registry = RegistryReadModel(places, enterprises)
memberships = MembershipReadModel(members)


# --- places ---------------------------------------------------------------------------

def place(session, code: str) -> dict | None:
    """``{code, name, kind: organization | enterprise, tier, path, status}`` or None."""
    row = registry.organization(session, code)
    if row is not None:
        return {"code": row["code"], "name": row["name"], "kind": "organization",
                "tier": row["tier"], "path": list(row["path"]), "status": "active"}
    row = registry.enterprise(session, code.upper())
    if row is not None:
        return {"code": row["credit_code"], "name": row["name"], "kind": "enterprise",
                "tier": "enterprise", "path": list(row["path"]), "status": row["status"]}
    return None


def places_known(session, codes) -> dict:
    """``{code: place}`` for those of ``codes`` the registry has told us of (one query per
    table, for a batch of activities)."""
    wanted, found = sorted(set(codes)), {}
    for row in session.execute(select(places).where(places.c.code.in_(wanted))):
        found[row.code] = {"code": row.code, "name": row.name, "kind": "organization",
                           "tier": row.tier, "path": list(row.path), "status": "active"}
    upper = {code.upper(): code for code in wanted if code not in found}
    if upper:
        for row in session.execute(select(enterprises).where(
                enterprises.c.credit_code.in_(sorted(upper)))):
            found[upper[row.credit_code]] = {
                "code": row.credit_code, "name": row.name, "kind": "enterprise",
                "tier": "enterprise", "path": list(row.path), "status": row.status}
    return found


def known_place(session, code: str, field: str, active: bool = False,
                found: dict | None = None) -> dict:
    """The place ``code`` names; 400 on ``field`` when the registry has told us of none
    (or, with ``active``, when it is a closed enterprise)."""
    found = place(session, code) if found is None else found.get(code)
    if found is None:
        raise InvalidInput(f"{field} names no place the registry knows",
                           {field: [f"no organization or enterprise {code} is known to the "
                                    "registry (yet)"]})
    if active and found["status"] != "active":
        raise InvalidInput(f"{field} is a closed enterprise",
                           {field: [f"enterprise {found['code']} is closed"]})
    return found


def apply_organization(session, data, as_of):
    change = registry.apply_organization(session, data, as_of)
    if change is not None and change.moved:
        follow_moves(session, change.old["path"])
    return change


def apply_enterprise(session, data, as_of):
    change = registry.apply_enterprise(session, data, as_of)
    if change is not None and change.moved:
        _rehome(session, organizations.c.home_code == data["credit_code"])
    return change


def apply_enterprises(session, items, as_of):
    changes = registry.apply_enterprises(session, items, as_of)
    for change in changes:
        if change.moved:
            _rehome(session, organizations.c.home_code == change.new["credit_code"])
    return changes


def follow_moves(session, old_path):
    """Organizations based anywhere in a moved subtree take their place's new path."""
    _rehome(session, organizations.c.home_path_key.startswith(path_key(old_path),
                                                              autoescape=True))


def _rehome(session, where):
    for row in session.execute(select(organizations.c.id, organizations.c.home_code)
                               .where(where)).all():
        found = place(session, row.home_code)
        if found is not None:
            session.execute(update(organizations).where(organizations.c.id == row.id).values(
                home_path=found["path"], home_path_key=path_key(found["path"])))


# --- members ----------------------------------------------------------------------------

def members_known(session, worker_ids) -> dict:
    """``{worker_id: status}`` of those of ``worker_ids`` membership has told us of."""
    wanted = sorted(set(worker_ids))
    found = {}
    for start in range(0, len(wanted), 500):  # SQLite's parameter limit
        found.update(session.execute(select(members.c.worker_id, members.c.status).where(
            members.c.worker_id.in_(wanted[start:start + 500]))).all())
    return found


# --- service requests -------------------------------------------------------------------

def apply_service_request(session, data, as_of):
    values = {"worker_id": data["worker_id"], "kind": data["kind"], "status": data["status"],
              "handling_code": data["handling_organization_code"], "as_of": as_of}
    upsert_snapshot(session, requests_table, "request_id",
                    {"request_id": data["request_id"], **values})


def service_request(session, request_id: int, lock=False) -> dict | None:
    query = select(requests_table).where(requests_table.c.request_id == request_id)
    if lock:
        query = query.with_for_update()
    row = session.execute(query).first()
    return None if row is None else dict(row._mapping)


def request_place(session, request: dict) -> list:
    """Where the member of a request is: their enterprise's path when membership has told
    us of them, else the path of the union handling the request."""
    known = memberships.member(session, request["worker_id"])
    if known is not None:
        return list(known["path"]) + [known["enterprise_credit_code"]]
    handler = place(session, request["handling_code"])
    return handler["path"] if handler else []
