"""The registry as membership sees it (organizations, enterprises: the kit's
``RegistryReadModel``) and the join-rate counters that follow it.

Counters: ``org_stats`` holds members and workers per organization code, for every
organization on an enterprise's path and its union (``domain.stats_targets``). Each
change applies a delta to those rows in the transaction that makes the change, so a
join-rate query is one primary-key read and the counters always match the tables.
A snapshot moves the counters by the difference between the row it replaced and the row
it left (the ``Change`` the read model returns), so a repeated snapshot never counts
twice, and one older than the stored row (events come in any order) changes nothing.
An enterprise's own member count is not stored: it is counted from ``memberships`` (an
index on enterprise and status) when a snapshot moves it, which keeps a bulk import from
rewriting hundreds of thousands of enterprise rows. Changes to one enterprise's members
lock its row first, so they and its snapshots take turns.

Also the referrals of members' service requests to social organizations, from
incubation's events (``apply_referral``): newest snapshot wins, as for the registry's.
"""

from collections import defaultdict
from datetime import datetime

from sqlalchemy import bindparam, func, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite

from services.membership import domain
from services.membership.models import (
    enterprises,
    memberships,
    org_stats,
    organizations,
    request_referrals,
    service_requests,
)
from shared.errors import NotFound
from shared.registry_readmodel import Change, RegistryReadModel, upsert_snapshot

registry = RegistryReadModel(organizations, enterprises)


# --- the registry's rows -----------------------------------------------------------------

def enterprise(session, credit_code, lock=False) -> dict | None:
    return registry.enterprise(session, credit_code, lock=lock)


def known_enterprise(session, credit_code, lock=False) -> dict:
    found = registry.enterprise(session, credit_code, lock=lock)
    if found is None:
        raise NotFound(f"enterprise {credit_code} is not known to the registry",
                       {"enterprise_credit_code": credit_code})
    return found


def organization(session, code) -> dict | None:
    return registry.organization(session, code)


def place(session, code) -> dict:
    """An organization or an enterprise the registry told us about, with its path."""
    found = organization(session, code)
    if found is not None:
        return {"code": code, "name": found["name"], "path": found["path"]}
    found = enterprise(session, code)
    if found is not None:
        return {"code": code, "name": found["name"],
                "path": [*found["path"], code]}
    raise NotFound(f"organization {code} is not known to the registry", {"code": code})


def in_subtree(path) -> object:
    """A clause: enterprises inside the subtree whose path is ``path``."""
    return registry.under(enterprises, path)


# --- the registry's events ---------------------------------------------------------------

def apply_enterprise(session, data: dict, as_of: datetime | None = None) -> Change | None:
    """Upsert an enterprise snapshot and move its counters from its old places to the new.
    None when the snapshot is older than the stored row."""
    change = registry.apply_enterprise(session, data, as_of)  # locks the row
    if change is None:
        return None
    deltas = defaultdict(lambda: [0, 0])
    _move_counters(session, change, deltas)
    bump(session, deltas)
    return change


def apply_enterprises(session, items: list[dict], as_of: datetime | None = None
                      ) -> list[Change]:
    """``apply_enterprise`` for a bulk-import batch: the counters of all its enterprises
    move in one ``bump``."""
    changes = registry.apply_enterprises(session, items, as_of)
    deltas = defaultdict(lambda: [0, 0])
    for change in changes:
        _move_counters(session, change, deltas)
    bump(session, deltas)
    return changes


def _move_counters(session, change: Change, deltas) -> None:
    """Adds to ``deltas`` an enterprise's members and workers leaving its old places and
    arriving at its new ones (a new enterprise has no members yet)."""
    members = members_at(session, change.new["credit_code"]) if change.old else 0
    if change.old:
        for code in domain.stats_targets(change.old):
            deltas[code][0] -= members
            deltas[code][1] -= workers_of(change.old)
    for code in domain.stats_targets(change.new):
        deltas[code][0] += members
        deltas[code][1] += workers_of(change.new)


def apply_organization(session, data: dict, as_of: datetime | None = None) -> Change | None:
    """Upsert an organization; a move takes its subtree (paths and counters) along.
    None when the snapshot is older than the stored row."""
    stored = session.execute(select(organizations.c.path).where(
        organizations.c.code == data["code"]).with_for_update()).first()
    inside = None
    if stored is not None and list(stored.path) != list(data["path"]):
        # What moves is what lies under the old path now, before the read model re-roots
        # it: an enterprise whose own newer snapshot already placed it under the new path
        # moved its counters itself.
        inside = _subtree_totals(session, stored.path)
    change = registry.apply_organization(session, data, as_of)
    if change is not None and change.moved and inside is not None:
        members, workers = inside
        deltas = defaultdict(lambda: [0, 0])
        for code in change.old["path"][:-1]:
            deltas[code][0] -= members
            deltas[code][1] -= workers
        for code in change.new["path"][:-1]:
            deltas[code][0] += members
            deltas[code][1] += workers
        bump(session, deltas)
    return change


def _subtree_totals(session, path) -> tuple[int, int]:
    """(active members, workers) of the enterprises inside ``path``'s subtree."""
    inside = in_subtree(path)
    workers = session.execute(
        select(func.coalesce(func.sum(enterprises.c.headcount), 0))
        .where(inside, enterprises.c.status == "active")).scalar()
    members = session.execute(
        select(func.count()).select_from(memberships)
        .join(enterprises, enterprises.c.credit_code == memberships.c.enterprise_credit_code)
        .where(inside, memberships.c.status == "active")).scalar()
    return members, workers


# --- the counters ------------------------------------------------------------------------

def _insert(session, table):
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    return dialect.insert(table)


def bump(session, deltas):
    """Add (members, workers) deltas to org_stats rows, creating rows as needed."""
    deltas = {code: d for code, d in deltas.items() if d[0] or d[1]}
    if not deltas:
        return
    session.execute(
        _insert(session, org_stats).on_conflict_do_nothing(index_elements=["code"]),
        [{"code": code, "members": 0, "workers": 0} for code in sorted(deltas)],
    )
    # Sorted, so two transactions lock the same rows in the same order (no deadlock).
    _add(session, org_stats, org_stats.c.code,
         [(code, deltas[code][0], deltas[code][1]) for code in sorted(deltas)])


def members_at(session, credit_code) -> int:
    return session.execute(select(func.count()).select_from(memberships).where(
        memberships.c.enterprise_credit_code == credit_code,
        memberships.c.status == "active")).scalar()


def workers_of(row) -> int:
    """Workers an enterprise row counts for: its headcount while it is active."""
    return row["headcount"] if row and row["status"] == "active" else 0


def add_members(session, credit_code, count, row=None):
    """``count`` members (negative: fewer) became active at an enterprise. ``row``: the
    enterprise as read with ``lock=True`` in this transaction."""
    if not count:
        return
    row = row or known_enterprise(session, credit_code, lock=True)
    bump(session, {code: (count, 0) for code in domain.stats_targets(row)})


def add_members_bulk(session, counts, targets):
    """``add_members`` for many enterprises at once (a bulk-import batch); ``targets``
    maps each credit code to ``domain.stats_targets`` of its enterprise."""
    deltas = defaultdict(lambda: [0, 0])
    for credit_code, n in counts.items():
        for code in targets[credit_code]:
            deltas[code][0] += n
    bump(session, deltas)


def _add(session, table, key, rows):
    """Add (key, members, workers) deltas to many rows: on PostgreSQL one
    ``UPDATE .. FROM (VALUES ..)`` per 10,000 rows (psycopg2 builds it in C; SQLAlchemy's
    own VALUES construct compiles far too slowly for this size); elsewhere executemany."""
    columns = {"members": "dm", "workers": "dw"}
    if session.get_bind().dialect.name == "postgresql" and len(rows) > 50:
        from psycopg2.extras import execute_values

        sets = ", ".join(f"{name} = t.{name} + d.{alias}" for name, alias in columns.items())
        cursor = session.connection().connection.dbapi_connection.cursor()
        execute_values(cursor, f"UPDATE {table.name} AS t SET {sets} FROM (VALUES %s) "
                               f"AS d (k, dm, dw) WHERE t.{key.name} = d.k", rows,
                       page_size=10_000)
        cursor.close()
        return
    session.execute(
        update(table).where(key == bindparam("k")).values(
            {name: table.c[name] + bindparam(alias) for name, alias in columns.items()}),
        [{"k": k, "dm": dm, "dw": dw} for k, dm, dw in rows])


def rebuild_counters(session):
    """Recount every organization's counters from the tables. For recovery (a restore,
    an import that raced an enterprise's move); day-to-day changes keep them current."""
    active = dict(session.execute(
        select(memberships.c.enterprise_credit_code, func.count())
        .where(memberships.c.status == "active")
        .group_by(memberships.c.enterprise_credit_code)).all())
    totals = defaultdict(lambda: [0, 0])
    for row in session.execute(select(enterprises.c.credit_code, enterprises.c.path,
                                      enterprises.c.union_code, enterprises.c.headcount,
                                      enterprises.c.status)):
        data = dict(row._mapping)
        for code in domain.stats_targets(data):
            totals[code][0] += active.get(data["credit_code"], 0)
            totals[code][1] += workers_of(data)
    session.execute(org_stats.delete())
    if totals:
        session.execute(insert(org_stats), [
            {"code": code, "members": m, "workers": w} for code, (m, w) in totals.items()])
    return len(totals)


def workers_counted(session, code) -> int:
    """Workers counted for ``code`` (0 when nothing is known yet)."""
    return session.execute(select(org_stats.c.workers).where(org_stats.c.code == code))\
        .scalar() or 0


# --- incubation's referrals of service requests ----------------------------------------

def apply_referral(session, data: dict, as_of: datetime | None = None) -> None:
    """A referral made (``request_referred``) or concluded (``referral_concluded``, with
    its outcome); an older snapshot than the stored one, or one for a request this
    service does not hold, changes nothing. The events carry no notes (they stay in
    incubation), so neither does this."""
    if session.execute(select(service_requests.c.id).where(
            service_requests.c.id == data["request_id"])).first() is None:
        return
    upsert_snapshot(session, request_referrals, "referral_id", {
        "referral_id": data["referral_id"], "request_id": data["request_id"],
        "organization_id": data["organization_id"],
        "organization_name": data["organization_name"],
        "status": data.get("outcome") or "referred", "as_of": as_of})


def referrals_of(session, request_id: int) -> list[dict]:
    rows = session.execute(select(request_referrals).where(
        request_referrals.c.request_id == request_id).order_by(request_referrals.c.referral_id))
    return [{"referral_id": row.referral_id, "organization_id": row.organization_id,
             "organization_name": row.organization_name, "status": row.status}
            for row in rows]
