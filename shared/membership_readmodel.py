"""Members as a consuming service keeps them: each worker's current membership, kept
current from membership's events (``shared/events/membership.py``).

A service declares its table with the columns below (and any of its own after them) and
builds its ``readmodel.py`` on one ``MembershipReadModel``::

    members = Table("members", metadata, *member_columns())
    memberships = MembershipReadModel(members)

    memberships.apply_membership(session, event.data, as_of)   # any event naming a member
    memberships.apply_lapsed(session, event.data, as_of)       # memberships_lapsed

Why it looks like this:

- Membership's events are snapshots of one membership (status, union, enterprise and its
  place), each type on its own queue, so they come in any order: a row is replaced only by
  a snapshot at least as recent (``as_of`` = the event's time); a repeated one changes
  nothing. A transfer's new membership replaces the old one (the worker's current one).
- ``members_imported`` (a bulk import) names no member, only counts per union; the same
  batch's ``member_batch_imported`` names its members by id and place
  (``apply_imported``), many rows at once.
- The caller learns what changed (``Change``: the row before and after), so a service
  that cares about a member leaving (competitions flags her nomination) acts on it in the
  same transaction.
"""

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import JSON, BigInteger, Column, DateTime, Integer, String, select, update
from sqlalchemy.dialects import postgresql, sqlite

from shared.registry_readmodel import upsert_snapshot
from shared.timeutil import as_utc

CODE = 100


def member_columns() -> list[Column]:
    return [
        Column("worker_id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True,
               autoincrement=False),
        Column("membership_id", BigInteger().with_variant(Integer, "sqlite"), nullable=False),
        Column("status", String(20), nullable=False),
        Column("union_code", String(CODE), nullable=False),
        Column("enterprise_credit_code", String(CODE), nullable=False, index=True),
        Column("path", JSON, nullable=False),  # the enterprise's: district .. community
        Column("as_of", DateTime(timezone=True)),  # time of the event this row is from
    ]


@dataclass(frozen=True)
class Change:
    """What applying a snapshot did: the row before (None: new) and after."""

    old: dict | None
    new: dict

    @property
    def left_active(self) -> bool:
        """The worker was an active member and no longer is one at the same union."""
        return (self.old is not None and self.old["status"] == "active"
                and (self.new["status"] != "active"
                     or self.new["union_code"] != self.old["union_code"]))


class MembershipReadModel:
    def __init__(self, members):
        self.members = members

    def apply_membership(self, session, data: dict, as_of: datetime | None) -> Change | None:
        """Upsert from any event naming one membership; None when older than the row."""
        values = {"worker_id": data["worker_id"], "membership_id": data["membership_id"],
                  "status": data["status"], "union_code": data["union_code"],
                  "enterprise_credit_code": data["enterprise_credit_code"],
                  "path": list(data["organization_path"]), "as_of": as_of}
        stored = upsert_snapshot(session, self.members, "worker_id", values)
        return None if stored is None else Change(stored[0], values)

    def apply_lapsed(self, session, data: dict, as_of: datetime | None) -> list[Change]:
        """``memberships_lapsed``: every active member at the enterprise lapsed at once."""
        table = self.members
        rows = session.execute(select(table).where(
            table.c.enterprise_credit_code == data["enterprise_credit_code"],
            table.c.status == "active").with_for_update()).all()
        changes = []
        for row in rows:
            old = dict(row._mapping)
            if _older(as_of, old["as_of"]):
                continue
            new = dict(old, status="lapsed", as_of=as_of)
            session.execute(update(table).where(table.c.worker_id == old["worker_id"])
                            .values(status="lapsed", as_of=as_of))
            changes.append(Change(old, new))
        return changes

    def apply_imported(self, session, data: dict, as_of: datetime | None) -> int:
        """``member_batch_imported``: every member of a bulk-import batch, active at its
        enterprise. Members not known yet go in by one multi-row insert; one known already
        (an earlier event named her) is replaced only by this newer snapshot. Returns how
        many rows were written."""
        table = self.members
        values = [{"worker_id": worker_id, "membership_id": membership_id,
                   "status": "active", "union_code": item["union_code"],
                   "enterprise_credit_code": credit_code,
                   "path": list(item["organization_path"]), "as_of": as_of}
                  for credit_code, item in data["enterprises"].items()
                  for worker_id, membership_id in item["members"]]
        written = 0
        for start in range(0, len(values), 500):  # SQLite's parameter limit
            chunk = values[start:start + 500]
            known = set(session.execute(select(table.c.worker_id).where(
                table.c.worker_id.in_([row["worker_id"] for row in chunk]))).scalars())
            new = [row for row in chunk if row["worker_id"] not in known]
            if new:
                dialect = postgresql if session.get_bind().dialect.name == "postgresql" \
                    else sqlite
                written += session.execute(dialect.insert(table).on_conflict_do_nothing(
                    index_elements=["worker_id"]), new).rowcount
            for row in chunk:
                if row["worker_id"] in known:
                    written += upsert_snapshot(session, table, "worker_id", row) is not None
        return written

    def member(self, session, worker_id: int, lock: bool = False) -> dict | None:
        query = select(self.members).where(self.members.c.worker_id == worker_id)
        if lock:
            query = query.with_for_update()
        row = session.execute(query).first()
        return None if row is None else dict(row._mapping)


def _older(as_of: datetime | None, stored: datetime | None) -> bool:
    return as_of is not None and stored is not None and as_utc(as_of) < as_utc(stored)
