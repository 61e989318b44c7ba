"""The registry as a consuming service keeps it: organizations and enterprises, kept
current from the registry's snapshot events (``shared/events/registry.py``).

A service declares its two tables with the columns below (and any of its own after
them), then builds its ``readmodel.py`` on one ``RegistryReadModel``::

    organizations = Table("organizations", metadata, *organization_columns())
    enterprises = Table("enterprises", metadata, *enterprise_columns(),
                        Column("name_key", String(200)))          # this service's own
    registry = RegistryReadModel(organizations, enterprises,
                                 enterprise_values=lambda data: {"name_key": ...})

Why it looks like this:

- Registry events are snapshots and each type arrives on its own queue, so they come in
  any order: a row is only replaced by a snapshot at least as recent (``as_of`` = the
  event's time). A repeated event changes nothing.
- ``path`` is the list of organization codes from the district down to the row (JSON);
  ``path_key`` is the same as ``/a/b/c/``, indexed, so "everything under X" is a prefix
  search and a moved subtree is re-rooted in one pass.
- The caller learns what changed (``Change``: the row before and after), so a service
  that keeps counters (membership's join rates) can move them in the same transaction.

``RegistryEventHandlers`` (at the end) is the seven event handlers that keep it, for a
service to mix in instead of writing them again.
"""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import JSON, Boolean, Column, DateTime, Integer, String, Text, select, update
from sqlalchemy.dialects import postgresql, sqlite

from shared.errors import NotFound
from shared.timeutil import as_utc

CODE = 100  # an organization code or a credit code, with room to spare
BULK_ROWS = 500  # rows per multi-row statement: within SQLite's parameter limit


def organization_columns() -> list[Column]:
    return [
        Column("code", String(CODE), primary_key=True),
        Column("name", String(200), nullable=False),
        Column("kind", String(40), nullable=False),
        Column("tier", String(20), nullable=False),
        Column("parent_code", String(CODE)),
        Column("path", JSON, nullable=False),  # district .. itself
        Column("path_key", Text, nullable=False, index=True),  # "/district/.../itself/"
        Column("party_name", String(200)),  # the party organization leading it
        Column("party_kind", String(40)),
        Column("as_of", DateTime(timezone=True)),  # time of the event this row is from
    ]


def enterprise_columns() -> list[Column]:
    return [
        Column("credit_code", String(CODE), primary_key=True),
        Column("name", String(200), nullable=False),
        Column("community_code", String(CODE), nullable=False),
        Column("path", JSON, nullable=False),  # district .. community
        Column("path_key", Text, nullable=False, index=True),
        Column("headcount", Integer, nullable=False),
        Column("key_enterprise", Boolean, nullable=False),
        Column("union_status", String(10), nullable=False),
        Column("union_code", String(CODE)),
        Column("status", String(10), nullable=False),
        Column("as_of", DateTime(timezone=True)),
    ]


def path_key(path) -> str:
    return "/" + "/".join(path) + "/"


@dataclass(frozen=True)
class Change:
    """What applying a snapshot did: the row before (None: new) and after."""

    old: dict | None
    new: dict

    @property
    def moved(self) -> bool:
        return self.old is not None and list(self.old["path"]) != list(self.new["path"])


def _no_extra(data: dict) -> dict:
    return {}


class RegistryReadModel:
    def __init__(self, organizations, enterprises,
                 organization_values: Callable[[dict], dict] = _no_extra,
                 enterprise_values: Callable[[dict], dict] = _no_extra):
        self.organizations = organizations
        self.enterprises = enterprises
        self._organization_values = organization_values
        self._enterprise_values = enterprise_values

    # --- applying the registry's events -------------------------------------------------

    def apply_organization(self, session, data: dict, as_of: datetime | None
                           ) -> Change | None:
        """Upsert from any organization event; a move re-roots the stored subtree.
        None when the snapshot is older than the row."""
        party = data.get("party_organization") or {}
        values = {
            "code": data["code"], "name": data["name"], "kind": data["kind"],
            "tier": data["tier"], "parent_code": data.get("parent_code"),
            "path": list(data["path"]), "path_key": path_key(data["path"]),
            "party_name": party.get("name"), "party_kind": party.get("kind"),
            "as_of": as_of, **self._organization_values(data),
        }
        change = self._upsert(session, self.organizations, "code", values)
        if change is not None and change.moved:
            self._reroot(session, change.old["path"], values["path"], data["code"])
        return change

    def apply_enterprise(self, session, data: dict, as_of: datetime | None
                         ) -> Change | None:
        return self._upsert(session, self.enterprises, "credit_code",
                            self._enterprise_row(data, as_of))

    def apply_enterprises(self, session, items: list[dict], as_of: datetime | None
                          ) -> list[Change]:
        """``apply_enterprise`` for the snapshots of one bulk-import batch: those not
        stored yet go in by multi-row inserts, a stored one is upserted as by its own
        event. Returns the changes, in the order of ``items``."""
        table, key = self.enterprises, self.enterprises.c.credit_code
        dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
        items = list({data["credit_code"]: data for data in items}.values())  # last wins
        changes = []
        for start in range(0, len(items), BULK_ROWS):
            chunk = [self._enterprise_row(data, as_of) for data in items[start:start + BULK_ROWS]]
            known = set(session.execute(select(key).where(
                key.in_([row["credit_code"] for row in chunk]))).scalars())
            new = [row for row in chunk if row["credit_code"] not in known]
            inserted = set()
            if new:  # one constant statement, many parameter sets: compiled once, cached
                inserted = set(session.execute(
                    dialect.insert(table).on_conflict_do_nothing(index_elements=["credit_code"])
                    .returning(key), new).scalars())
            for row in chunk:
                if row["credit_code"] in inserted:
                    changes.append(Change(None, row))
                else:  # stored already, or a concurrent handler inserted it first
                    change = self._upsert(session, table, "credit_code", row)
                    if change is not None:
                        changes.append(change)
        return changes

    def _enterprise_row(self, data: dict, as_of: datetime | None) -> dict:
        return {
            "credit_code": data["credit_code"], "name": data["name"],
            "community_code": data["community_code"], "path": list(data["path"]),
            "path_key": path_key(data["path"]), "headcount": data["headcount"],
            "key_enterprise": data["key_enterprise"],
            "union_status": data["union_status"], "union_code": data.get("union_code"),
            "status": data["status"], "as_of": as_of, **self._enterprise_values(data),
        }

    def _upsert(self, session, table, key: str, values: dict) -> Change | None:
        stored = upsert_snapshot(session, table, key, values)
        return None if stored is None else Change(stored[0], values)

    def _reroot(self, session, old_path, new_path, code):
        """Everything stored under the moved organization takes its new path."""
        depth = len(old_path)
        for table, key in ((self.organizations, "code"), (self.enterprises, "credit_code")):
            below = session.execute(
                select(table.c[key], table.c.path)
                .where(table.c.path_key.startswith(path_key(old_path), autoescape=True),
                       table.c[key] != code)).all()
            for row_key, path in below:
                moved = list(new_path) + list(path)[depth:]
                session.execute(update(table).where(table.c[key] == row_key)
                                .values(path=moved, path_key=path_key(moved)))

    # --- reading ------------------------------------------------------------------------

    def organization(self, session, code: str) -> dict | None:
        return self._row(session, self.organizations, "code", code)

    def enterprise(self, session, credit_code: str, lock: bool = False) -> dict | None:
        return self._row(session, self.enterprises, "credit_code", credit_code, lock=lock)

    def known_organization(self, session, code: str) -> dict:
        row = self.organization(session, code)
        if row is None:
            raise NotFound(f"no organization {code} (not known to the registry)")
        return row

    def known_enterprise(self, session, credit_code: str, lock: bool = False) -> dict:
        row = self.enterprise(session, credit_code, lock=lock)
        if row is None:
            raise NotFound(f"no enterprise {credit_code} (not known to the registry)")
        return row

    def caller_path(self, session, caller) -> list:
        """The path (district .. it) of the caller's organization; [] when unknown."""
        row = self.organization(session, caller.organization_code)
        return list(row["path"]) if row else []

    def under(self, table, code_path) -> object:
        """A clause: rows of ``table`` inside the subtree whose path is ``code_path``."""
        return table.c.path_key.startswith(path_key(code_path), autoescape=True)

    @staticmethod
    def _row(session, table, key: str, value, lock: bool = False) -> dict | None:
        query = select(table).where(table.c[key] == value)
        if lock:
            query = query.with_for_update()
        row = session.execute(query).first()
        return None if row is None else dict(row._mapping)


def upsert_snapshot(session, table, key: str, values: dict) -> tuple | None:
    """Insert ``values`` (a snapshot of ``values["as_of"]``) or replace the stored row
    with them, unless the stored row is from a later snapshot: then None, else ``(the
    row before or None, values)``. Concurrent first inserts of one key end as one row.
    Every read model of another service's snapshot events upserts this way."""
    old = RegistryReadModel._row(session, table, key, values[key], lock=True)
    if old is None:
        dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
        inserted = session.execute(dialect.insert(table).values(values)
                                   .on_conflict_do_nothing(index_elements=[key]))
        if inserted.rowcount:
            return None, values
        # A concurrent handler inserted it first: go on as an update of its row.
        old = RegistryReadModel._row(session, table, key, values[key], lock=True)
    if _older(values["as_of"], old["as_of"]):
        return None
    session.execute(update(table).where(table.c[key] == values[key]).values(values))
    return old, values


def _older(as_of: datetime | None, stored: datetime | None) -> bool:
    """Is a snapshot of ``as_of`` older than the stored row? Unknown times never are."""
    return as_of is not None and stored is not None and as_utc(as_of) < as_utc(stored)
