"""The registry as membership sees it (organizations, enterprises) and the join-rate
counters, kept current from the registry's snapshot events and membership's own changes.

Counters: ``org_stats`` holds members and workers per organization code, for every
organization on an enterprise's path and its union (``domain.stats_targets``). Each
change applies a delta to those rows in the transaction that makes the change, so a
join-rate query is one primary-key read and the counters always match the tables.
Snapshots are applied as differences from what is stored, so a repeated or reordered
snapshot never counts twice. An enterprise's own member count is not stored: it is
counted from ``memberships`` (an index on enterprise and status) when a snapshot moves
it, which keeps a bulk import from rewriting hundreds of thousands of enterprise rows.
Changes to one enterprise's members lock its row first, so they and its snapshots
take turns.
"""

import json
from collections import defaultdict

from sqlalchemy import bindparam, func, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite

from services.membership import domain
from services.membership.models import enterprises, memberships, org_stats, organizations
from shared.errors import NotFound


def path_key(path) -> str:
    return "/".join(path) + "/"


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


def _decode(row) -> dict | None:
    if row is None:
        return None
    data = dict(row._mapping)
    data["path"] = json.loads(data["path"])
    return data


def enterprise(session, credit_code, lock=False) -> dict | None:
    query = select(enterprises).where(enterprises.c.credit_code == credit_code)
    if lock:
        query = query.with_for_update()
    return _decode(session.execute(query).first())


def known_enterprise(session, credit_code, lock=False) -> dict:
    found = enterprise(session, credit_code, lock)
    if found is None:
        raise NotFound(f"enterprise {credit_code} is not known to the registry",
                       {"enterprise_credit_code": credit_code})
    return found


def organization(session, code) -> dict | None:
    return _decode(session.execute(select(organizations).where(organizations.c.code == code))
                   .first())


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


def members_at(session, credit_code) -> int:
    return session.execute(select(func.count()).select_from(memberships).where(
        memberships.c.enterprise_credit_code == credit_code,
        memberships.c.status == "active")).scalar()


def add_members(session, credit_code, count, row=None):
    """``count`` members (negative: fewer) became active at an enterprise. ``row``: the
    enterprise as read with ``lock=True`` in this transaction."""
    if not count:
        return
    row = row or known_enterprise(session, credit_code, lock=True)
    bump(session, {code: (count, 0) for code in domain.stats_targets(row)})


def workers_of(row) -> int:
    """Workers an enterprise row counts for: its headcount while it is active."""
    return row["headcount"] if row and row["status"] == "active" else 0


def apply_enterprise(session, data):
    """Upsert an enterprise snapshot and move its counters from its old places to the new."""
    old = enterprise(session, data["credit_code"], lock=True)
    new = {
        "credit_code": data["credit_code"], "name": data["name"],
        "community_code": data["community_code"], "path": list(data["path"]),
        "headcount": data["headcount"], "union_status": data["union_status"],
        "union_code": data.get("union_code"), "status": data["status"],
    }
    members = members_at(session, data["credit_code"]) if old else 0
    deltas = defaultdict(lambda: [0, 0])
    if old:
        for code in domain.stats_targets(old):
            deltas[code][0] -= members
            deltas[code][1] -= workers_of(old)
    for code in domain.stats_targets(new):
        deltas[code][0] += members
        deltas[code][1] += workers_of(new)
    values = dict(new, path=json.dumps(new["path"]), path_key=path_key(new["path"]))
    if old:
        session.execute(update(enterprises)
                        .where(enterprises.c.credit_code == new["credit_code"]).values(values))
    else:
        session.execute(insert(enterprises).values(**values))
    bump(session, deltas)
    return new


def apply_organization(session, data):
    """Upsert an organization; if its path changed, move its subtree (paths and counters)."""
    old = organization(session, data["code"])
    values = {
        "code": data["code"], "name": data["name"], "kind": data["kind"],
        "tier": data["tier"], "parent_code": data.get("parent_code"),
        "path": json.dumps(list(data["path"])), "path_key": path_key(data["path"]),
    }
    if old is None:
        session.execute(insert(organizations).values(values))
        return
    session.execute(update(organizations).where(organizations.c.code == data["code"])
                    .values(values))
    if old["path"] != list(data["path"]):
        _move_subtree(session, old["path"], list(data["path"]))


def _move_subtree(session, old_path, new_path):
    old_key = path_key(old_path)
    # The counters that move: members and workers of enterprises inside the subtree.
    inside = enterprises.c.path_key.startswith(old_key, autoescape=True)
    workers = session.execute(
        select(func.coalesce(func.sum(enterprises.c.headcount), 0))
        .where(inside, enterprises.c.status == "active")).scalar()
    members = session.execute(
        select(func.count()).select_from(memberships)
        .join(enterprises, enterprises.c.credit_code == memberships.c.enterprise_credit_code)
        .where(inside, memberships.c.status == "active")).scalar()
    deltas = defaultdict(lambda: [0, 0])
    for code in old_path[:-1]:
        deltas[code][0] -= members
        deltas[code][1] -= workers
    for code in new_path[:-1]:
        deltas[code][0] += members
        deltas[code][1] += workers
    bump(session, deltas)
    for table, key in ((organizations, organizations.c.code),
                       (enterprises, enterprises.c.credit_code)):
        rows = session.execute(select(key, table.c.path)
                               .where(table.c.path_key.startswith(old_key, autoescape=True)))
        for code, path in rows.all():
            moved = new_path + json.loads(path)[len(old_path):]
            session.execute(update(table).where(key == code)
                            .values(path=json.dumps(moved), path_key=path_key(moved)))


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
    for row in session.execute(select(enterprises)):
        data = _decode(row)
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
