"""The registry's use cases (writes): each takes a unit of work ``uow`` (``shared.db``),
its input as the RPC contract loaded it (``shared/api/registry.py``) and the caller.

Who may: every write needs the WRITE permission, and what it touches (the organization,
its parent or new parent; the enterprise where it is and where it goes) must lie in the
caller's subtree (``shared.caller``); the registry checks this itself, whoever calls.

Errors: the subject of a call that does not exist is ``NotFound``; a code *referred to*
in the input that does not exist is ``InvalidInput`` naming the field; a state that
forbids the change is ``Conflict``. A change that changes nothing publishes nothing.

``EnterpriseWriter`` is the one way enterprises change, for a single call and for a
batch of 2,000 imported rows alike: it checks each change with the domain rules, stages
the row, the counts along the community's path and the events, then ``flush`` writes all
of them in a few statements inside the caller's unit of work. The counts
(``organization_stats``) are kept current by every write here, so statistics stay one
primary-key read.
"""

from dataclasses import replace

from sqlalchemy import bindparam, func, insert, literal, select, text, update

from services.registry import domain, views
from services.registry.domain import Enterprise, Organization, StatsDeltas
from services.registry.models import (
    enterprises,
    organization_stats,
    organizations,
    path_text,
    within,
)
from shared.caller import WRITE, Caller, require_permission, require_scope
from shared.db import insert_many
from shared.errors import Conflict, InvalidInput, NotFound
from shared.events.registry import EnterpriseSchema

# --- rows ------------------------------------------------------------------------------

def organization_row(org: Organization) -> dict:
    party = org.party_organization or {}
    return {
        "code": org.code, "name": org.name, "kind": org.kind, "tier": org.tier,
        "parent_code": org.parent_code, "path": path_text(org.path),
        "party_name": party.get("name"), "party_kind": party.get("kind"),
        "enterprise_credit_code": org.enterprise_credit_code, "contacts": list(org.contacts),
    }


ENTERPRISE_COLUMNS = ("name", "address", "community_code", "headcount", "union_status",
                      "union_code", "key_enterprise", "assigned_leader", "status",
                      "closed_reason")


def enterprise_row(enterprise: Enterprise) -> dict:
    row = {name: getattr(enterprise, name) for name in ENTERPRISE_COLUMNS}
    row["credit_code"] = enterprise.credit_code
    return row


def insert_organization(session, org: Organization):
    session.execute(insert(organizations).values(organization_row(org)))
    session.execute(insert(organization_stats).values(code=org.code))


# --- counts ---------------------------------------------------------------------------

def apply_deltas(session, deltas: StatsDeltas):
    """Adds each organization's delta to its row (in code order: a fixed lock order)."""
    items = deltas.items()
    if not items:
        return
    stats = organization_stats.c
    if len(items) > 1 and session.get_bind().dialect.name == "postgresql":
        _apply_deltas_at_once(session, items)
        return
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


# Rows locked in code order first (the fixed lock order), then every delta added by one
# UPDATE joined to the deltas as arrays: five parameters whatever the number of rows.
_LOCK_STATS = text("SELECT code FROM organization_stats WHERE code = ANY(:codes) "
                   "ORDER BY code FOR UPDATE")
_ADD_DELTAS = text(
    "UPDATE organization_stats AS s SET enterprises = s.enterprises + d.enterprises, "
    "workers = s.workers + d.workers, own_union = s.own_union + d.own_union, "
    "covered = s.covered + d.covered "
    "FROM unnest(CAST(:codes AS text[]), CAST(:enterprises AS integer[]), "
    "CAST(:workers AS bigint[]), CAST(:own_union AS integer[]), "
    "CAST(:covered AS integer[])) AS d(code, enterprises, workers, own_union, covered) "
    "WHERE s.code = d.code")


def _apply_deltas_at_once(session, items):
    """``apply_deltas`` on PostgreSQL in two statements, where psycopg2 would send one
    UPDATE per organization (an import's batch of 2,000 rows touches ~560)."""
    codes = [code for code, _ in items]
    session.execute(_LOCK_STATS, {"codes": codes})
    session.execute(_ADD_DELTAS, {
        "codes": codes,
        "enterprises": [delta.enterprises for _, delta in items],
        "workers": [delta.workers for _, delta in items],
        "own_union": [delta.own_union for _, delta in items],
        "covered": [delta.covered for _, delta in items],
    })


def repair_counts(session) -> list[str]:
    """Rewrites counts that differ from a recount; returns the codes it corrected."""
    stored, actual = views.stored_counts(session), views.recount(session)
    wrong = sorted(code for code, counts in actual.items() if stored.get(code) != counts)
    for code in wrong:
        counts = actual[code]
        session.execute(update(organization_stats).where(organization_stats.c.code == code)
                        .values(enterprises=counts.enterprises, workers=counts.workers,
                                own_union=counts.own_union, covered=counts.covered))
    return wrong


# --- the tree --------------------------------------------------------------------------

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
    counts = views.read_counts(session, org.code)
    deltas = StatsDeltas()
    deltas.remove(org.path[:-1], counts)
    deltas.add(parent.path, counts)
    apply_deltas(session, deltas)
    return replace(org, parent_code=parent.code, path=new_path)


# --- organizations ---------------------------------------------------------------------

def register_organization(uow, data: dict, caller: Caller) -> dict:
    """``data`` as ``NewOrganizationSchema`` loads it. The caller's subtree must hold the
    parent; the root (no parent) is registered by a caller of its own code."""
    require_permission(caller, WRITE)
    orgs = views.Organizations(uow.session, lock=True)
    code, kind = data["code"], data["kind"]
    if orgs.get(code) is not None:
        raise Conflict(f"an organization with the code {code!r} already exists", {"code": code})
    parent = orgs.referenced(data["parent_code"], "parent_code") if data["parent_code"] else None
    if parent is not None:
        require_scope(caller, parent.path, f"the parent organization {parent.code}")
    problems = {**domain.placement_problems(kind, parent, data["party_organization"]),
                **domain.code_problems(code, parent)}
    credit_code = data["enterprise_credit_code"]
    if kind == "enterprise_union" and credit_code is None:
        problems["enterprise_credit_code"] = ["an enterprise union belongs to an enterprise: "
                                              "give its credit code"]
    elif kind != "enterprise_union" and credit_code is not None:
        problems["enterprise_credit_code"] = ["only an enterprise union belongs to an "
                                              "enterprise"]
    domain.check(problems, "organization rejected")
    if parent is None and views.district_code(uow.session) is not None:
        raise Conflict("the registry already has its district federation",
                       {"code": views.district_code(uow.session)})
    if parent is None:
        require_scope(caller, (code,), f"organization {code}")
    org = domain.Organization(
        code=code, name=data["name"], kind=kind, parent_code=parent and parent.code,
        path=(parent.path if parent else ()) + (code,),
        party_organization=data["party_organization"], enterprise_credit_code=credit_code,
        contacts=tuple(data["contacts"]),
    )
    writer = EnterpriseWriter(uow, orgs, caller)
    enterprise = writer.current(credit_code) if credit_code else None
    if credit_code:
        _check_enterprise_union(uow.session, org, enterprise)
    insert_organization(uow.session, org)
    orgs.add(org)
    uow.publish("organization_registered", org.snapshot(), subject=code)
    if org.contacts:
        uow.publish("organization_contacts_changed",
                    {"code": code, "contacts": list(org.contacts)}, subject=code)
    if enterprise is not None:
        # The enterprise now has its own union (which checks the 25-worker rule).
        writer.save(replace(enterprise, union_status="own", union_code=code))
        writer.flush()
    return views.organization_view(org)


def _check_enterprise_union(session, org, enterprise):
    if enterprise is None:
        raise InvalidInput("enterprise_credit_code names no enterprise", {
            "enterprise_credit_code": [f"no enterprise has the credit code "
                                       f"{org.enterprise_credit_code}"]})
    if enterprise.community_code != org.parent_code:
        raise InvalidInput("an enterprise union sits under its enterprise's community", {
            "parent_code": [f"enterprise {enterprise.credit_code} is in "
                            f"{enterprise.community_code}, not {org.parent_code}"]})
    existing = views.union_of(session, enterprise.credit_code)
    if existing is not None:
        raise Conflict(f"enterprise {enterprise.credit_code} already has its own union "
                       f"{existing}", {"union_code": existing})


def update_organization(uow, code: str, changes: dict, caller: Caller) -> dict:
    require_permission(caller, WRITE)
    orgs = views.Organizations(uow.session, lock=True)
    org = orgs.known(code)
    require_scope(caller, org.path, f"the organization {code}")
    new = replace(org, **changes)
    parent = orgs.get(org.parent_code)
    domain.check(domain.placement_problems(new.kind, parent, new.party_organization),
                 "changes rejected")
    changed = [name for name in ("name", "party_organization")
               if getattr(org, name) != getattr(new, name)]
    if not changed:
        return views.organization_view(org)
    party = new.party_organization or {}
    uow.session.execute(
        update(organizations).where(organizations.c.code == code).values(
            name=new.name, party_name=party.get("name"), party_kind=party.get("kind"),
            updated_at=func.now()))
    uow.publish("organization_updated", {**new.snapshot(), "changed": changed}, subject=code)
    return views.organization_view(new)


def move_organization(uow, code: str, parent_code: str, caller: Caller) -> dict:
    """Both the organization and its new parent must lie in the caller's subtree."""
    require_permission(caller, WRITE)
    orgs = views.Organizations(uow.session, lock=True)
    org = orgs.known(code)
    require_scope(caller, org.path, f"the organization {code}")
    parent = orgs.referenced(parent_code, "parent_code")
    require_scope(caller, parent.path, f"the new parent {parent.code}")
    if org.parent_code == parent.code:
        return views.organization_view(org)
    domain.check(domain.move_problems(org, parent), "move rejected")
    moved = move_subtree(uow.session, org, parent)
    uow.publish("organization_moved", {
        **moved.snapshot(), "from_parent_code": org.parent_code, "to_parent_code": parent.code,
    }, subject=code)
    return views.organization_view(moved)


def set_contacts(uow, code: str, contacts: list, caller: Caller) -> dict:
    require_permission(caller, WRITE)
    contacts = [{name: contact.get(name) for name in ("name", "role", "phone", "email",
                                                      "webhook_url")} for contact in contacts]
    org = views.Organizations(uow.session, lock=True).known(code)
    require_scope(caller, org.path, f"the organization {code}")
    if list(org.contacts) != contacts:
        uow.session.execute(update(organizations).where(organizations.c.code == code)
                            .values(contacts=contacts, updated_at=func.now()))
        uow.publish("organization_contacts_changed", {"code": code, "contacts": contacts},
                    subject=code)
    return {"code": code, "contacts": contacts}


# --- the enterprise writer ---------------------------------------------------------

# What an import's one event per batch folds in, and the snapshot each enterprise keeps.
BATCHED_EVENTS = ("enterprise_registered", "enterprise_updated", "enterprise_moved")
ENTERPRISE_SNAPSHOT = tuple(EnterpriseSchema().fields)

class EnterpriseWriter:
    """Stages enterprise changes in a unit of work; ``flush`` writes rows, counts, events.

        writer = EnterpriseWriter(uow, views.Organizations(uow.session, lock=True), caller)
        writer.load(["91440307MA5DABCD1Q"])
        writer.save(domain.merge_enterprise(writer.current("91440307MA5DABCD1Q"), stated))
        writer.flush()

    ``save`` raises InvalidInput (the domain's field messages), Conflict, or Forbidden
    (the enterprise, where it was or where it goes, lies outside the caller's subtree)
    before it stages anything, so a rejected change leaves the batch as it was.
    """

    def __init__(self, uow, orgs: views.Organizations, caller: Caller):
        self.uow = uow
        self.session = uow.session
        self.orgs = orgs
        self.caller = require_permission(caller, WRITE)
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
        for chunk in views.code_chunks(self.session, missing):
            query = (select(enterprises)
                     .where(views.among(self.session, enterprises.c.credit_code, chunk))
                     .with_for_update())
            for row in self.session.execute(query):
                enterprise = views.enterprise_from_row(row)
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
        if old is not None:
            require_scope(self.caller, self.orgs.path(old.community_code),
                          f"enterprise {old.credit_code}")
        require_scope(self.caller, community.path, f"the community {community.code}")
        if union is not None and (old is None or old.union_code != new.union_code):
            # Source and target alike: a federation that takes the enterprise in (its
            # counts) must be the caller's as well as the enterprise.
            require_scope(self.caller, union.path, f"the union {union.code}")
        elif union is None and new.union_status == "own":
            domain.check(domain.code_problems(new.union_code, community, "union_code"),
                         "enterprise rejected")
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

    @staticmethod
    def _batched(events):
        """The enterprise events folded into one ``enterprise_batch_imported`` (each
        enterprise's last snapshot, in order of first change); the others as they are."""
        kept, snapshots = [], {}
        for event_type, data, subject in events:
            if event_type in BATCHED_EVENTS:
                snapshots[subject] = {name: data[name] for name in ENTERPRISE_SNAPSHOT}
            else:
                kept.append((event_type, data, subject))
        if snapshots:
            kept.append(("enterprise_batch_imported",
                         {"enterprises": list(snapshots.values())}, None))
        return kept

    def _check_no_union_yet(self, enterprise):
        existing = views.union_of(self.session, enterprise.credit_code)
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

    def flush(self, validate_events=True, one_batch_event=False) -> int:
        """Writes what was staged; returns how many enterprise rows it wrote.

        ``validate_events=False`` (the import) skips re-checking the events' payloads
        against their schemas, and dumping them: they are snapshots this writer built
        from checked rows, of JSON types already (tests/registry/test_importer.py checks
        that every one the import publishes is its own dump and passes its schema).
        ``one_batch_event=True`` (the import) publishes the enterprises registered,
        updated or moved as one ``enterprise_batch_imported``: five services each take
        one event per batch instead of one per row."""
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
        insert_many(session, enterprises, inserts)  # a COPY on PostgreSQL
        if updates:
            session.execute(
                update(enterprises)
                .where(enterprises.c.credit_code == bindparam("b_credit_code"))
                .values({**{name: bindparam(f"b_{name}") for name in ENTERPRISE_COLUMNS},
                         "updated_at": func.now()}),
                updates,
            )
        apply_deltas(session, self._deltas)
        events = self._batched(self._events) if one_batch_event else self._events
        self.uow.publish_many(events, validate=validate_events, wire_form=not validate_events)
        written = len(inserts) + len(updates)
        self._reset()
        return written


# --- enterprises -----------------------------------------------------------------------

def _writer(uow, caller) -> EnterpriseWriter:
    return EnterpriseWriter(uow, views.Organizations(uow.session, lock=True), caller)


def _existing(writer, credit_code) -> Enterprise:
    enterprise = writer.current(credit_code)
    if enterprise is None:
        raise NotFound(f"no enterprise has the credit code {credit_code}",
                       {"credit_code": credit_code})
    return enterprise


def _saved(writer, enterprise, reason=None) -> dict:
    writer.save(enterprise, reason)
    path = writer.orgs.path(enterprise.community_code)
    writer.flush()
    return views.enterprise_view(enterprise, path)


def register_enterprise(uow, stated: dict, caller: Caller) -> dict:
    """``stated`` as ``NewEnterpriseSchema`` loads it."""
    writer = _writer(uow, caller)
    if writer.current(stated["credit_code"]) is not None:
        raise Conflict(f"enterprise {stated['credit_code']} is already registered",
                       {"credit_code": stated["credit_code"]})
    return _saved(writer, domain.merge_enterprise(None, stated))


def update_enterprise(uow, credit_code: str, changes: dict, caller: Caller) -> dict:
    """``changes`` as ``EnterpriseChangesSchema`` loads it: only what is stated changes."""
    writer = _writer(uow, caller)
    return _saved(writer, domain.merge_enterprise(_existing(writer, credit_code), changes))


def move_enterprise(uow, credit_code: str, community_code: str, caller: Caller) -> dict:
    writer = _writer(uow, caller)
    enterprise = _existing(writer, credit_code)
    return _saved(writer, domain.moved_enterprise(enterprise, community_code))


def close_enterprise(uow, credit_code: str, reason: str, caller: Caller) -> dict:
    """Closing a closed enterprise changes nothing (so a retried call is harmless)."""
    writer = _writer(uow, caller)
    enterprise = _existing(writer, credit_code)
    if not enterprise.active:
        path = writer.orgs.path(enterprise.community_code)
        require_scope(caller, path, f"enterprise {credit_code}")
        return views.enterprise_view(enterprise, path)
    return _saved(writer, replace(enterprise, status="closed", closed_reason=reason), reason)
