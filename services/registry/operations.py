"""The registry's use cases: each takes a unit of work (writes) or a session (reads).

Errors: the subject of a call that does not exist is ``NotFound``; a code *referred to*
in the input that does not exist is ``InvalidInput`` naming the field; a state that
forbids the change is ``Conflict``. A change that changes nothing publishes nothing.
"""

from dataclasses import replace

from sqlalchemy import func, select, update

from services.registry import domain, schemas, store
from services.registry.models import enterprises, organization_stats, organizations
from services.registry.store import EnterpriseWriter, Organizations
from shared.errors import Conflict, InvalidInput, NotFound


def _organization(orgs: Organizations, code) -> domain.Organization:
    org = orgs.get(code)
    if org is None:
        raise NotFound(f"no organization has the code {code!r}", {"code": code})
    return org


def _referenced(orgs: Organizations, code, field) -> domain.Organization:
    org = orgs.get(code)
    if org is None:
        raise InvalidInput(f"{field} names no organization",
                           {field: [f"no organization has the code {code!r}"]})
    return org


def organization_view(org: domain.Organization) -> dict:
    return {**org.snapshot(), "contacts": list(org.contacts)}


# --- organizations ---------------------------------------------------------------------

def register_organization(uow, data) -> dict:
    data = schemas.load(schemas.organization_input, data, "organization rejected")
    orgs = Organizations(uow.session, lock=True)
    code, kind = data["code"], data["kind"]
    if orgs.get(code) is not None:
        raise Conflict(f"an organization with the code {code!r} already exists", {"code": code})
    parent = _referenced(orgs, data["parent_code"], "parent_code") if data["parent_code"] else None
    problems = domain.placement_problems(kind, parent, data["party_organization"])
    credit_code = data["enterprise_credit_code"]
    if kind == "enterprise_union" and credit_code is None:
        problems["enterprise_credit_code"] = ["an enterprise union belongs to an enterprise: "
                                              "give its credit code"]
    elif kind != "enterprise_union" and credit_code is not None:
        problems["enterprise_credit_code"] = ["only an enterprise union belongs to an "
                                              "enterprise"]
    domain.check(problems, "organization rejected")
    if parent is None and store.district_code(uow.session) is not None:
        raise Conflict("the registry already has its district federation",
                       {"code": store.district_code(uow.session)})
    org = domain.Organization(
        code=code, name=data["name"], kind=kind, parent_code=parent and parent.code,
        path=(parent.path if parent else ()) + (code,),
        party_organization=data["party_organization"], enterprise_credit_code=credit_code,
        contacts=tuple(data["contacts"]),
    )
    writer = EnterpriseWriter(uow, orgs)
    enterprise = writer.current(credit_code) if credit_code else None
    if credit_code:
        _check_enterprise_union(uow.session, org, enterprise)
    store.insert_organization(uow.session, org)
    orgs.add(org)
    uow.publish("organization_registered", org.snapshot(), subject=code)
    if org.contacts:
        uow.publish("organization_contacts_changed",
                    {"code": code, "contacts": list(org.contacts)}, subject=code)
    if enterprise is not None:
        # The enterprise now has its own union (which checks the 25-worker rule).
        writer.save(replace(enterprise, union_status="own", union_code=code))
        writer.flush()
    return organization_view(org)


def _check_enterprise_union(session, org, enterprise):
    if enterprise is None:
        raise InvalidInput("enterprise_credit_code names no enterprise", {
            "enterprise_credit_code": [f"no enterprise has the credit code "
                                       f"{org.enterprise_credit_code}"]})
    if enterprise.community_code != org.parent_code:
        raise InvalidInput("an enterprise union sits under its enterprise's community", {
            "parent_code": [f"enterprise {enterprise.credit_code} is in "
                            f"{enterprise.community_code}, not {org.parent_code}"]})
    existing = store.union_of(session, enterprise.credit_code)
    if existing is not None:
        raise Conflict(f"enterprise {enterprise.credit_code} already has its own union "
                       f"{existing}", {"union_code": existing})


def update_organization(uow, code, changes) -> dict:
    changes = schemas.load(schemas.organization_changes, changes, "changes rejected")
    orgs = Organizations(uow.session, lock=True)
    org = _organization(orgs, code)
    new = replace(org, **changes)
    parent = orgs.get(org.parent_code)
    domain.check(domain.placement_problems(new.kind, parent, new.party_organization),
                 "changes rejected")
    changed = [name for name in ("name", "party_organization")
               if getattr(org, name) != getattr(new, name)]
    if not changed:
        return organization_view(org)
    party = new.party_organization or {}
    uow.session.execute(
        update(organizations).where(organizations.c.code == code).values(
            name=new.name, party_name=party.get("name"), party_kind=party.get("kind"),
            updated_at=func.now()))
    uow.publish("organization_updated", {**new.snapshot(), "changed": changed}, subject=code)
    return organization_view(new)


def move_organization(uow, code, parent_code) -> dict:
    parent_code = schemas.organization_code(parent_code, "parent_code")
    orgs = Organizations(uow.session, lock=True)
    org = _organization(orgs, code)
    parent = _referenced(orgs, parent_code, "parent_code")
    if org.parent_code == parent.code:
        return organization_view(org)
    domain.check(domain.move_problems(org, parent), "move rejected")
    moved = store.move_subtree(uow.session, org, parent)
    uow.publish("organization_moved", {
        **moved.snapshot(), "from_parent_code": org.parent_code, "to_parent_code": parent.code,
    }, subject=code)
    return organization_view(moved)


def set_contacts(uow, code, contacts) -> dict:
    contacts = schemas.load(schemas.contacts_input, {"contacts": contacts},
                            "contacts rejected")["contacts"]
    contacts = [{name: contact.get(name) for name in ("name", "role", "phone", "email",
                                                      "webhook_url")} for contact in contacts]
    org = _organization(Organizations(uow.session, lock=True), code)
    if list(org.contacts) != contacts:
        uow.session.execute(update(organizations).where(organizations.c.code == code)
                            .values(contacts=contacts, updated_at=func.now()))
        uow.publish("organization_contacts_changed", {"code": code, "contacts": contacts},
                    subject=code)
    return {"code": code, "contacts": contacts}


# --- enterprises -----------------------------------------------------------------------

def _writer(uow) -> EnterpriseWriter:
    return EnterpriseWriter(uow, Organizations(uow.session, lock=True))


def _existing(writer, credit_code) -> domain.Enterprise:
    enterprise = writer.current(credit_code)
    if enterprise is None:
        raise NotFound(f"no enterprise has the credit code {credit_code}",
                       {"credit_code": credit_code})
    return enterprise


def _saved(writer, enterprise, reason=None) -> dict:
    writer.save(enterprise, reason)
    path = writer.orgs.path(enterprise.community_code)
    writer.flush()
    return store.enterprise_view(enterprise, path)


def register_enterprise(uow, data) -> dict:
    stated = schemas.load(schemas.enterprise_input, data, "enterprise rejected")
    writer = _writer(uow)
    if writer.current(stated["credit_code"]) is not None:
        raise Conflict(f"enterprise {stated['credit_code']} is already registered",
                       {"credit_code": stated["credit_code"]})
    return _saved(writer, domain.merge_enterprise(None, stated))


def update_enterprise(uow, credit_code, changes) -> dict:
    credit_code = schemas.credit_code(credit_code)
    stated = schemas.load(schemas.enterprise_changes, changes, "changes rejected")
    writer = _writer(uow)
    return _saved(writer, domain.merge_enterprise(_existing(writer, credit_code), stated))


def move_enterprise(uow, credit_code, community_code) -> dict:
    credit_code = schemas.credit_code(credit_code)
    community_code = schemas.organization_code(community_code, "community_code")
    writer = _writer(uow)
    enterprise = _existing(writer, credit_code)
    return _saved(writer, domain.moved_enterprise(enterprise, community_code))


def close_enterprise(uow, credit_code, reason) -> dict:
    """Closing a closed enterprise changes nothing (so a retried call is harmless)."""
    credit_code = schemas.credit_code(credit_code)
    reason = schemas.load(schemas.close_input, {"reason": reason}, "reason rejected")["reason"]
    writer = _writer(uow)
    enterprise = _existing(writer, credit_code)
    if not enterprise.active:
        return store.enterprise_view(enterprise, writer.orgs.path(enterprise.community_code))
    return _saved(writer, replace(enterprise, status="closed", closed_reason=reason), reason)


# --- reads -----------------------------------------------------------------------------

def get_organization(session, code) -> dict:
    return organization_view(_organization(Organizations(session), code))


def list_children(session, code) -> list[dict]:
    _organization(Organizations(session), code)
    rows = session.execute(select(organizations).where(organizations.c.parent_code == code)
                           .order_by(organizations.c.code))
    return [organization_view(store.organization_from_row(row)) for row in rows]


def get_contacts(session, code) -> dict:
    org = _organization(Organizations(session), code)
    return {"code": code, "contacts": list(org.contacts)}


def statistics(session, code) -> dict:
    row = session.execute(
        select(organizations.c.code, organizations.c.name, organization_stats)
        .join(organization_stats, organization_stats.c.code == organizations.c.code)
        .where(organizations.c.code == code)
    ).first()
    if row is None:
        raise NotFound(f"no organization has the code {code!r}", {"code": code})
    counts = domain.Counts(row.enterprises, row.workers, row.own_union, row.covered)
    return {"code": row.code, "name": row.name, "enterprises": counts.enterprises,
            "workers": counts.workers, "own_union": counts.own_union,
            "covered": counts.covered, "establishment_rate": counts.establishment_rate}


def _enterprise(session, credit_code):
    credit_code = schemas.credit_code(credit_code)
    row = session.execute(
        select(enterprises, organizations.c.path.label("community_path"))
        .join(organizations, organizations.c.code == enterprises.c.community_code)
        .where(enterprises.c.credit_code == credit_code)
    ).first()
    if row is None:
        raise NotFound(f"no enterprise has the credit code {credit_code}",
                       {"credit_code": credit_code})
    return store.enterprise_from_row(row), store.path_codes(row.community_path)


def get_enterprise(session, credit_code) -> dict:
    return store.enterprise_view(*_enterprise(session, credit_code))


def list_enterprises(session, code, limit=50, offset=0, include_closed=False) -> dict:
    """A page of the subtree's enterprises, by community then credit code.

    Active ones only unless ``include_closed``: their total is the kept count (a
    primary-key read), and the page an index range on (community_code, credit_code),
    so the district's 320,000 page as fast as a community's 227.
    """
    page = schemas.load(schemas.page_input, {"limit": limit, "offset": offset},
                        "page rejected")
    org = _organization(Organizations(session), code)
    paths = store.communities_within(session, org)
    where = [enterprises.c.community_code.in_(sorted(paths))]
    if include_closed:
        total = session.execute(select(func.count()).where(*where)).scalar()
    else:
        where.append(enterprises.c.status == "active")
        total = store.read_counts(session, code).enterprises
    rows = session.execute(
        select(enterprises).where(*where)
        .order_by(enterprises.c.community_code, enterprises.c.credit_code)
        .limit(page["limit"]).offset(page["offset"]))
    items = [store.enterprise_view(store.enterprise_from_row(row),
                                   paths[row.community_code])
             for row in rows]
    return {"code": code, "total": total, "limit": page["limit"], "offset": page["offset"],
            "items": items}


def chain(session, code=None, credit_code=None) -> dict:
    """See ``RegistryService.chain`` for the shape."""
    if (code is None) == (credit_code is None):
        raise InvalidInput("give either code or credit_code",
                           {"code": ["give exactly one of code and credit_code"]})
    orgs = Organizations(session)
    if code is not None:
        start = _organization(orgs, code)
        enterprise = None
        if start.enterprise_credit_code:
            enterprise, _ = _enterprise(session, start.enterprise_credit_code)
        path = start.path
    else:
        enterprise, path = _enterprise(session, credit_code)
    own_union = None
    if enterprise is not None and enterprise.union_status == "own":
        own_union = orgs.get(enterprise.union_code)
    orgs.load(path)
    items = domain.chain_of([orgs.get(c) for c in path], own_union)
    leader = enterprise.assigned_leader if enterprise and enterprise.key_enterprise else None
    return {
        "code": code,
        "credit_code": enterprise.credit_code if enterprise else None,
        "enterprise": None if enterprise is None else {
            "credit_code": enterprise.credit_code, "name": enterprise.name,
            "key_enterprise": enterprise.key_enterprise, "status": enterprise.status},
        "assigned_leader": leader,
        "chain": items,
    }
