"""Reading and writing the registry's tables: lookups, the counts, the enterprise writer.

``EnterpriseWriter`` is the one way enterprises change, for a single RPC call and for a
batch of 2,000 imported rows alike: it checks each change with the domain rules, stages
the row, the counts along the community's path and the events, then ``flush`` writes all
of them in a few statements inside the caller's unit of work.
"""

from dataclasses import replace

from sqlalchemy import bindparam, case, func, insert, literal, select, update

from services.registry import domain
from services.registry.domain import Counts, Enterprise, Organization, StatsDeltas
from services.registry.models import enterprises, organization_stats, organizations
from shared.errors import Conflict, InvalidInput

CHUNK = 500  # codes per IN (...) query


# --- paths ---------------------------------------------------------------------------

def path_text(path) -> str:
    return "/" + "".join(f"{code}/" for code in path)


def path_codes(text: str) -> tuple[str, ...]:
    return tuple(text.strip("/").split("/"))


def within(column, path):
    """SQL condition: ``column`` (a path) is ``path`` or below it; an index range."""
    prefix = path_text(path)
    return (column >= prefix) & (column < prefix[:-1] + "0")  # "0" sorts right after "/"


# --- rows <-> domain objects -----------------------------------------------------------

def organization_from_row(row) -> Organization:
    party = {"name": row.party_name, "kind": row.party_kind} if row.party_kind else None
    return Organization(
        code=row.code, name=row.name, kind=row.kind, parent_code=row.parent_code,
        path=path_codes(row.path), party_organization=party,
        enterprise_credit_code=row.enterprise_credit_code, contacts=tuple(row.contacts or ()),
    )


def organization_row(org: Organization) -> dict:
    party = org.party_organization or {}
    return {
        "code": org.code, "name": org.name, "kind": org.kind, "tier": org.tier,
        "parent_code": org.parent_code, "path": path_text(org.path),
        "party_name": party.get("name"), "party_kind": party.get("kind"),
        "enterprise_credit_code": org.enterprise_credit_code, "contacts": list(org.contacts),
    }


def enterprise_from_row(row) -> Enterprise:
    return Enterprise(
        credit_code=row.credit_code, name=row.name, community_code=row.community_code,
        headcount=row.headcount, union_status=row.union_status, union_code=row.union_code,
        key_enterprise=row.key_enterprise, assigned_leader=row.assigned_leader,
        address=row.address, status=row.status, closed_reason=row.closed_reason,
    )


ENTERPRISE_COLUMNS = ("name", "address", "community_code", "headcount", "union_status",
                      "union_code", "key_enterprise", "assigned_leader", "status",
                      "closed_reason")


def enterprise_row(enterprise: Enterprise) -> dict:
    row = {name: getattr(enterprise, name) for name in ENTERPRISE_COLUMNS}
    row["credit_code"] = enterprise.credit_code
    return row


def enterprise_view(enterprise: Enterprise, path) -> dict:
    return {**enterprise.snapshot(path), "closed_reason": enterprise.closed_reason}


# --- organizations ---------------------------------------------------------------------

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
        for start in range(0, len(missing), CHUNK):
            chunk = missing[start:start + CHUNK]
            query = select(organizations).where(organizations.c.code.in_(chunk))
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


def insert_organization(session, org: Organization):
    session.execute(insert(organizations).values(organization_row(org)))
    session.execute(insert(organization_stats).values(code=org.code))


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


# --- counts ----------------------------------------------------------------------------

def apply_deltas(session, deltas: StatsDeltas):
    """Adds each organization's delta to its row (in code order: a fixed lock order)."""
    items = deltas.items()
    if not items:
        return
    stats = organization_stats.c
    statement = (
        update(organization_stats)
        .where(stats.code == bindparam("b_code"))
        .values(
            enterprises=stats.enterprises + bindparam("b_enterprises"),
            workers=stats.workers + bindparam("b_workers"),
            own_union=stats.own_union + bindparam("b_own_union"),
            covered=stats.covered + bindparam("b_covered"),
        )
    )
    session.execute(statement, [
        {"b_code": code, "b_enterprises": delta.enterprises, "b_workers": delta.workers,
         "b_own_union": delta.own_union, "b_covered": delta.covered}
        for code, delta in items
    ])


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


def repair_counts(session) -> list[str]:
    """Rewrites counts that differ from a recount; returns the codes it corrected."""
    stored, actual = stored_counts(session), recount(session)
    wrong = sorted(code for code, counts in actual.items() if stored.get(code) != counts)
    for code in wrong:
        counts = actual[code]
        session.execute(update(organization_stats).where(organization_stats.c.code == code)
                        .values(enterprises=counts.enterprises, workers=counts.workers,
                                own_union=counts.own_union, covered=counts.covered))
    return wrong


# --- enterprises -----------------------------------------------------------------------

class EnterpriseWriter:
    """Stages enterprise changes in a unit of work; ``flush`` writes rows, counts, events.

        writer = EnterpriseWriter(uow, Organizations(uow.session, lock=True))
        writer.load(["91440307MA5DABCD1X"])
        writer.save(domain.merge_enterprise(writer.current("91440307MA5DABCD1X"), stated))
        writer.flush()

    ``save`` raises InvalidInput (the domain's field messages) or Conflict before it
    stages anything, so a rejected change leaves the batch as it was.
    """

    def __init__(self, uow, orgs: Organizations):
        self.uow = uow
        self.session = uow.session
        self.orgs = orgs
        self._reset()

    def _reset(self):
        self._original: dict[str, Enterprise | None] = {}  # as in the database
        self._current: dict[str, Enterprise | None] = {}  # as staged
        self._new_orgs: list[Organization] = []
        self._moved_orgs: dict[str, Organization] = {}
        self._deltas = StatsDeltas()
        self._events: list[tuple[str, dict, str]] = []

    def load(self, credit_codes):
        """Reads these enterprises (FOR UPDATE on PostgreSQL) and their organizations."""
        missing = sorted({code for code in credit_codes if code not in self._current})
        for start in range(0, len(missing), CHUNK):
            chunk = missing[start:start + CHUNK]
            query = (select(enterprises).where(enterprises.c.credit_code.in_(chunk))
                     .with_for_update())
            for row in self.session.execute(query):
                enterprise = enterprise_from_row(row)
                self._original[row.credit_code] = self._current[row.credit_code] = enterprise
            for code in chunk:
                self._original.setdefault(code, None)
                self._current.setdefault(code, None)
        self.orgs.load(code for e in self._current.values() if e
                       for code in (e.community_code, e.union_code))

    def current(self, credit_code) -> Enterprise | None:
        if credit_code not in self._current:
            self.load([credit_code])
        return self._current[credit_code]

    def save(self, new: Enterprise, reason: str | None = None) -> str:
        """Stages ``new``; returns created, updated, moved, closed or unchanged."""
        old = self.current(new.credit_code)
        if old is not None and not old.active:
            raise Conflict(f"enterprise {new.credit_code} is closed; it cannot change",
                           {"credit_code": [f"closed: {old.closed_reason}"]})
        community = self.orgs.get(new.community_code)
        union = self.orgs.get(new.union_code)
        domain.check(domain.enterprise_problems(new, community, union), "enterprise rejected")
        if new == old:
            return "unchanged"
        if union is None and new.union_status == "own" and old is not None:
            # A new own union for a known enterprise: it must not have one already.
            self._check_no_union_yet(new)
        if old is not None:
            self._deltas.remove(self.orgs.path(old.community_code), old.counts())
        self._deltas.add(community.path, new.counts())
        self._current[new.credit_code] = new
        outcome = self._stage_events(old, new, community.path, reason)
        if new.union_status == "own":
            self._place_own_union(new, community, union)
        return outcome

    def _stage_events(self, old, new, path, reason):
        snapshot = new.snapshot(path)
        subject = new.credit_code
        if old is None:
            self._events.append(("enterprise_registered", snapshot, subject))
            return "created"
        if not new.active:
            self._events.append(("enterprise_closed", {**snapshot, "reason": reason}, subject))
            return "closed"
        outcome = "updated"
        if old.community_code != new.community_code:
            self._events.append(("enterprise_moved", {
                **snapshot, "from_community_code": old.community_code,
                "from_path": list(self.orgs.path(old.community_code))}, subject))
            outcome = "moved"
            # What the move itself implies (coverage following it) is no update.
            old = domain.moved_enterprise(old, new.community_code)
        changed, previous = domain.changed_fields(old, new, domain.ENTERPRISE_FIELDS)
        if changed:
            self._events.append(("enterprise_updated", {
                **snapshot, "changed": changed, "previous": previous}, subject))
        return outcome

    def _check_no_union_yet(self, enterprise):
        existing = union_of(self.session, enterprise.credit_code)
        if existing is not None and existing != enterprise.union_code:
            raise InvalidInput("enterprise rejected", {"union_code": [
                f"this enterprise already has its own union {existing}: give that union_code"]})

    def _place_own_union(self, enterprise, community, union):
        """Creates the enterprise's own union, or moves it along with the enterprise."""
        if union is None:
            union = Organization(
                code=enterprise.union_code, name=f"{enterprise.name}工会",
                kind="enterprise_union", parent_code=community.code,
                path=community.path + (enterprise.union_code,),
                enterprise_credit_code=enterprise.credit_code,
            )
            self.orgs.add(union)
            self._new_orgs.append(union)
            self._events.append(("organization_registered", union.snapshot(), union.code))
        elif union.parent_code != community.code:
            moved = replace(union, parent_code=community.code,
                            path=community.path + (union.code,))
            self.orgs.add(moved)
            if union.code not in {org.code for org in self._new_orgs}:
                self._moved_orgs[union.code] = moved
            else:
                self._new_orgs = [moved if o.code == union.code else o for o in self._new_orgs]
            self._events.append(("organization_moved", {
                **moved.snapshot(), "from_parent_code": union.parent_code,
                "to_parent_code": community.code}, union.code))

    def flush(self) -> int:
        """Writes what was staged; returns how many enterprise rows it wrote."""
        session = self.session
        if self._new_orgs:
            session.execute(insert(organizations), [organization_row(o) for o in self._new_orgs])
            session.execute(insert(organization_stats),
                            [{"code": o.code} for o in self._new_orgs])
        for org in self._moved_orgs.values():
            session.execute(update(organizations).where(organizations.c.code == org.code)
                            .values(parent_code=org.parent_code, path=path_text(org.path),
                                    updated_at=func.now()))
        inserts, updates = [], []
        for code, current in self._current.items():
            original = self._original[code]
            if original is None and current is not None:
                inserts.append(enterprise_row(current))
            elif current != original:
                updates.append({f"b_{k}": v for k, v in enterprise_row(current).items()})
        if inserts:
            session.execute(insert(enterprises), inserts)
        if updates:
            session.execute(
                update(enterprises)
                .where(enterprises.c.credit_code == bindparam("b_credit_code"))
                .values({**{name: bindparam(f"b_{name}") for name in ENTERPRISE_COLUMNS},
                         "updated_at": func.now()}),
                updates,
            )
        apply_deltas(session, self._deltas)
        self.uow.publish_many(self._events)
        written = len(inserts) + len(updates)
        self._reset()
        return written


def move_subtree(session, org: Organization, parent: Organization) -> Organization:
    """Re-roots ``org`` and everything below it under ``parent`` (paths and counts)."""
    new_path = parent.path + (org.code,)
    old_prefix, new_prefix = path_text(org.path), path_text(new_path)
    column = organizations.c.path
    # Paths first: this takes the row locks that concurrent writers in the subtree wait on.
    session.execute(
        update(organizations).where(within(column, org.path))
        .values(path=literal(new_prefix) + func.substr(column, len(old_prefix) + 1))
        .execution_options(synchronize_session=False)
    )
    session.execute(update(organizations).where(organizations.c.code == org.code)
                    .values(parent_code=parent.code, updated_at=func.now()))
    counts = read_counts(session, org.code)
    deltas = StatsDeltas()
    deltas.remove(org.path[:-1], counts)
    deltas.add(parent.path, counts)
    apply_deltas(session, deltas)
    return replace(org, parent_code=parent.code, path=new_path)
