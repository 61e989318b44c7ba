"""Membership's reads, shaped for callers: members and their personal data, card
verdicts, merchants and member prices, service requests, join rates. Each read checks the
caller's scope; nothing here writes (a card check is counted by ``operations`` first).

The row readers and shapes here (``membership_view``, ``request_view``, ...) are also
what ``operations`` answers with after a change, so a record reads the same either way.
"""

import json
from datetime import date

from sqlalchemy import func, or_, select

from services.membership import domain, readmodel
from services.membership.models import (
    cards,
    enterprises,
    memberships,
    merchants,
    org_stats,
    organizations,
    service_requests,
    workers,
)
from shared.caller import Caller, require_scope
from shared.errors import NotFound
from shared.paging import DEFAULT_LIMIT, keyset_page

MEMBERSHIP_COLUMNS = (memberships.c.id, memberships.c.worker_id, memberships.c.union_code,
                      memberships.c.enterprise_credit_code, memberships.c.status,
                      memberships.c.channel, memberships.c.applied_at,
                      memberships.c.decided_at, memberships.c.ended_at,
                      memberships.c.reason, memberships.c.previous_id)


# --- memberships and workers -----------------------------------------------------------

def membership_row(session, membership_id, lock=False) -> dict:
    query = select(*MEMBERSHIP_COLUMNS).where(memberships.c.id == membership_id)
    if lock:
        query = query.with_for_update()
    row = session.execute(query).first()
    if row is None:
        raise NotFound(f"membership {membership_id} does not exist",
                       {"membership_id": membership_id})
    return dict(row._mapping)


def membership_view(membership: dict) -> dict:
    return {key: membership[key] for key in
            ("worker_id", "union_code", "enterprise_credit_code", "status", "channel",
             "applied_at", "decided_at", "ended_at", "reason")} | {
        "membership_id": membership["id"], "previous_membership_id": membership["previous_id"]}


def current_membership(session, worker_id) -> dict | None:
    """The worker's pending or active membership (at most one), or None."""
    row = session.execute(select(*MEMBERSHIP_COLUMNS).where(
        memberships.c.worker_id == worker_id,
        memberships.c.status.in_(domain.CURRENT))).first()
    return dict(row._mapping) if row else None


def worker_row(session, worker_id) -> dict:
    row = session.execute(select(workers).where(workers.c.id == worker_id)).first()
    if row is None:
        raise NotFound(f"worker {worker_id} does not exist", {"worker_id": worker_id})
    return dict(row._mapping)


def _history(session, worker_id) -> list[dict]:
    rows = session.execute(select(*MEMBERSHIP_COLUMNS)
                           .where(memberships.c.worker_id == worker_id)
                           .order_by(memberships.c.id))
    return [dict(row._mapping) for row in rows]


def _worker_scope(session, history) -> list[str]:
    """Who may see a worker: staff over the enterprise of any of their memberships."""
    scope = []
    for membership in history:
        found = readmodel.enterprise(session, membership["enterprise_credit_code"])
        if found:
            scope += domain.stats_targets(found)
        scope.append(membership["union_code"])
    return scope


def member(session, keys, worker_id: int, caller: Caller) -> dict:
    """A worker's record: name, masked ID number and phone, membership history, cards."""
    worker = worker_row(session, worker_id)
    history = _history(session, worker_id)
    require_scope(caller, _worker_scope(session, history), "the member")
    personal = keys.unseal(worker["sealed"])
    card_rows = session.execute(select(cards.c.last4, cards.c.status, cards.c.valid_until,
                                       cards.c.issued_at)
                                .where(cards.c.worker_id == worker_id).order_by(cards.c.id))
    return {
        "worker_id": worker_id, "name": worker["name"],
        "id_number": domain.mask_id_number(personal["id_number"]),
        "phone": domain.mask_phone(personal["phone"]),
        "memberships": [membership_view(m) for m in history],
        "cards": [dict(row._mapping) for row in card_rows],
    }


def personal_data(session, keys, worker_id: int, caller: Caller) -> dict:
    """ID number and phone in clear: only for staff and admins over the member's union."""
    worker = worker_row(session, worker_id)
    domain.require_personal_data_reader(caller, _worker_scope(session,
                                                              _history(session, worker_id)))
    return {"worker_id": worker_id, "name": worker["name"], **keys.unseal(worker["sealed"])}


def list_members(session, caller: Caller, code: str, status: str | None,
                 cursor: str | None = None, limit: int = DEFAULT_LIMIT) -> dict:
    """A page of the memberships whose enterprise lies in ``code``'s subtree or whose
    union is ``code``, oldest first. Without names: a name is personal data, and listing
    is for every role (``member`` gives one worker's record)."""
    place = readmodel.place(session, code)
    require_scope(caller, place["path"], "the organization")
    query = (select(*MEMBERSHIP_COLUMNS)
             .join(enterprises,
                   enterprises.c.credit_code == memberships.c.enterprise_credit_code)
             .where(or_(readmodel.in_subtree(place["path"]),
                        enterprises.c.credit_code == code,
                        memberships.c.union_code == code)))
    if status:
        query = query.where(memberships.c.status == status)
    return keyset_page(session, query, (memberships.c.id,), cursor, limit, membership_view)


# --- cards and merchants -----------------------------------------------------------------

def card_verdict(session, keys, number) -> str:
    number = domain.normalize_card_number(number)
    if not domain.card_number_well_formed(number):
        return "unknown"
    row = session.execute(select(cards.c.worker_id, cards.c.status, cards.c.valid_until)
                          .where(cards.c.number_hash == keys.lookup_hash(number))).first()
    if row is None:
        return "unknown"
    active = session.execute(select(memberships.c.id).where(
        memberships.c.worker_id == row.worker_id, memberships.c.status == "active")).first()
    return domain.card_verdict(dict(row._mapping), active is not None, date.today())


def merchant_view(row) -> dict:
    return {"merchant_id": row["id"], "name": row["name"],
            "organization_code": row["organization_code"],
            "rule": {"kind": row["rule_kind"], "percent_off": row["percent_off"],
                     "markup_fen": row["markup_fen"]}}


def merchant_row(session, merchant_id: int) -> dict:
    row = session.execute(select(merchants).where(merchants.c.id == merchant_id)).first()
    if row is None:
        raise NotFound(f"merchant {merchant_id} does not exist", {"merchant_id": merchant_id})
    return dict(row._mapping)


def list_merchants(session, code: str | None, cursor: str | None = None,
                   limit: int = DEFAULT_LIMIT) -> dict:
    """A page of partner merchants (inside ``code``'s subtree if given), oldest first."""
    query = select(merchants)
    if code:
        query = query.where(merchants.c.path.contains(json.dumps(code), autoescape=True))
    return keyset_page(session, query, (merchants.c.id,), cursor, limit, merchant_view)


def check_purchase(session, keys, merchant_id: int, card_number: str, price_fen: int,
                   cost_fen: int | None) -> dict:
    row = merchant_row(session, merchant_id)
    rule = {"kind": row["rule_kind"], "percent_off": row["percent_off"],
            "markup_fen": row["markup_fen"]}
    return domain.purchase(rule, card_verdict(session, keys, card_number), price_fen, cost_fen)


# --- member services -----------------------------------------------------------------------

def request_view(row) -> dict:
    return {"request_id": row["id"], "worker_id": row["worker_id"], "kind": row["kind"],
            "status": row["status"],
            "handling_organization_code": row["handling_organization_code"],
            "summary": row["summary"], "note": row["note"], "created_at": row["created_at"],
            "updated_at": row["updated_at"]}


def request_row(session, request_id, lock=False) -> dict:
    query = select(service_requests).where(service_requests.c.id == request_id)
    if lock:
        query = query.with_for_update()
    row = session.execute(query).first()
    if row is None:
        raise NotFound(f"service request {request_id} does not exist",
                       {"request_id": request_id})
    return dict(row._mapping) | {"path": json.loads(row.path)}


def get_request(session, request_id: int, caller: Caller) -> dict:
    """One request, with the referrals incubation made of it (its events)."""
    request = request_row(session, request_id)
    require_scope(caller, request["path"], "the service request")
    return request_view(request) | {"referrals": readmodel.referrals_of(session, request_id)}


def list_requests(session, caller: Caller, code: str, status: str | None, kind: str | None,
                  cursor: str | None = None, limit: int = DEFAULT_LIMIT) -> dict:
    """A page of the requests handled by ``code`` (an organization in the caller's
    subtree), oldest first."""
    require_scope(caller, readmodel.place(session, code)["path"], "the organization")
    query = select(service_requests).where(
        service_requests.c.handling_organization_code == code)
    if status:
        query = query.where(service_requests.c.status == status)
    if kind:
        query = query.where(service_requests.c.kind == kind)
    return keyset_page(session, query, (service_requests.c.id,), cursor, limit, request_view)


# --- join rates ------------------------------------------------------------------------------

def join_rate(session, code) -> domain.JoinRate:
    """Members / workers of ``code``'s subtree (or of one enterprise): one read of the
    counters ``readmodel`` keeps."""
    row = session.execute(select(org_stats.c.members, org_stats.c.workers)
                          .where(org_stats.c.code == code)).first()
    if row is not None:
        return domain.JoinRate(code, row.members, row.workers)
    found = readmodel.enterprise(session, code)
    if found is not None:
        return domain.JoinRate(code, readmodel.members_at(session, code),
                               readmodel.workers_of(found))
    if readmodel.organization(session, code) is not None:
        return domain.JoinRate(code, 0, 0)
    raise NotFound(f"organization {code} is not known to the registry", {"code": code})


def cards_held(session, code) -> dict:
    """Active member cards held in an organization's subtree (by their members'
    enterprises)."""
    found = readmodel.organization(session, code)
    if found is None:
        raise NotFound(f"organization {code} is not known to the registry", {"code": code})
    count = session.execute(
        select(func.count()).select_from(cards)
        .join(memberships, memberships.c.id == cards.c.membership_id)
        .join(enterprises, enterprises.c.credit_code == memberships.c.enterprise_credit_code)
        .where(cards.c.status == "active", memberships.c.status == "active",
               readmodel.in_subtree(found["path"]))).scalar()
    return {"code": code, "cards": count}


def join_rates_below(session, parent_code, cursor: str | None = None,
                     limit: int = DEFAULT_LIMIT) -> dict:
    """A page of the join rates of the organizations directly under ``parent_code``, by
    code."""
    if readmodel.organization(session, parent_code) is None:
        raise NotFound(f"organization {parent_code} is not known to the registry",
                       {"code": parent_code})
    query = (select(organizations.c.code, org_stats.c.members, org_stats.c.workers)
             .join(org_stats, org_stats.c.code == organizations.c.code, isouter=True)
             .where(organizations.c.parent_code == parent_code))
    return keyset_page(session, query, (organizations.c.code,), cursor, limit,
                       lambda row: domain.JoinRate(row["code"], row["members"] or 0,
                                                   row["workers"] or 0).as_dict())
