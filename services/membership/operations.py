"""Membership use cases (writes): each takes a unit of work, checks who may do it,
applies the rules in ``domain`` to the tables and publishes what happened. No nameko here;
reads are in ``views``.

``caller`` is the authenticated user (``shared.caller.Caller``); online applications have
none.
"""

import json
from datetime import date, datetime, timedelta

from sqlalchemy import func, insert, select, update

from services.membership import domain, readmodel, views
from services.membership.models import (
    cards,
    memberships,
    merchants,
    rate_hits,
    service_requests,
    workers,
)
from shared import ratelimit
from shared.caller import Caller
from shared.errors import Conflict, InvalidInput
from shared.timeutil import now_utc


def _event(membership: dict, enterprise: dict, **extra) -> dict:
    return {"membership_id": membership["id"], "worker_id": membership["worker_id"],
            "union_code": membership["union_code"],
            "enterprise_credit_code": membership["enterprise_credit_code"],
            "organization_path": enterprise["path"], "status": membership["status"], **extra}


# --- applications and status changes ---------------------------------------------

def apply(uow, keys, data: dict, caller: Caller | None, channel: str) -> dict:
    """A worker applies to join the union of their enterprise (or its federation)."""
    session = uow.session
    problems = domain.check_personal_data(data["id_number"], data.get("phone"))
    if problems:
        raise InvalidInput("personal data rejected", problems)
    enterprise = readmodel.known_enterprise(session, data["enterprise_credit_code"])
    union = domain.union_for(enterprise)
    if channel == "staff":
        domain.require_writer(caller, domain.stats_targets(enterprise), "applications")
    id_hash = keys.lookup_hash(data["id_number"])
    worker_id = session.execute(select(workers.c.id).where(workers.c.id_hash == id_hash))\
        .scalar()
    sealed = keys.seal(data["id_number"], data.get("phone"))
    if worker_id is None:
        worker_id = session.execute(insert(workers).values(
            name=data["name"], id_hash=id_hash, sealed=sealed).returning(workers.c.id)).scalar()
    else:
        current = views.current_membership(session, worker_id)
        if current is not None:
            details = None if channel == "online" else {
                "membership_id": current["id"], "status": current["status"]}
            raise Conflict("this worker already has a pending or active membership; "
                           "a worker belongs to one union at a time (use a transfer)", details)
        session.execute(update(workers).where(workers.c.id == worker_id)
                        .values(name=data["name"], sealed=sealed))
    membership_id = session.execute(insert(memberships).values(
        worker_id=worker_id, union_code=union,
        enterprise_credit_code=enterprise["credit_code"], status="pending", channel=channel,
        entered_by=caller.name if caller else None).returning(memberships.c.id)).scalar()
    membership = views.membership_row(session, membership_id)
    uow.publish("membership_applied", _event(membership, enterprise, channel=channel),
                subject=str(membership_id))
    return views.membership_view(membership)


def approve(uow, keys, membership_id: int, caller: Caller) -> dict:
    """Approve an application; the new member gets a card (its number is shown only now)."""
    session = uow.session
    membership = views.membership_row(session, membership_id, lock=True)
    enterprise = readmodel.known_enterprise(session, membership["enterprise_credit_code"],
                                            lock=True)
    domain.require_writer(caller, domain.stats_targets(enterprise), "applications")
    status = domain.next_status(membership["status"], "approve")
    _set_status(session, membership, status, caller, decided=True)
    readmodel.add_members(session, enterprise["credit_code"], 1, enterprise)
    membership = views.membership_row(session, membership_id)
    uow.publish("membership_approved", _event(membership, enterprise),
                subject=str(membership_id))
    card = issue_card(uow, keys, membership["worker_id"], membership_id)
    return views.membership_view(membership) | {"card": card}


def _set_status(session, membership, status, caller, reason=None, decided=False, ended=False):
    values = {"status": status, "reason": reason}
    if decided:
        values.update(decided_at=now_utc(), entered_by=caller.name if caller else None)
    if ended:
        values["ended_at"] = now_utc()
    session.execute(update(memberships).where(memberships.c.id == membership["id"])
                    .values(values))


ENDINGS = {"reject": "membership_rejected", "lapse": "membership_lapsed",
           "leave": "membership_left"}


def end(uow, membership_id: int, action: str, reason: str, caller: Caller) -> dict:
    """Reject an application, or lapse / leave a membership, with a reason."""
    session = uow.session
    membership = views.membership_row(session, membership_id, lock=True)
    enterprise = readmodel.known_enterprise(session, membership["enterprise_credit_code"],
                                            lock=True)
    domain.require_writer(caller, domain.stats_targets(enterprise), "memberships")
    status = domain.next_status(membership["status"], action, reason)
    _set_status(session, membership, status, caller, reason=reason.strip(),
                decided=membership["status"] == "pending", ended=True)
    if membership["status"] == "active":
        readmodel.add_members(session, enterprise["credit_code"], -1, enterprise)
    membership = views.membership_row(session, membership_id)
    event = "membership_rejected" if status == "rejected" else ENDINGS[action]
    uow.publish(event, _event(membership, enterprise, reason=membership["reason"]),
                subject=str(membership_id))
    return views.membership_view(membership)


def transfer(uow, membership_id: int, to_credit_code: str, caller: Caller) -> dict:
    """An active member changes enterprise: the old membership ends as ``transferred``
    (history kept) and a new active one starts at the new enterprise's union."""
    session = uow.session
    old = views.membership_row(session, membership_id, lock=True)
    # Both enterprise rows locked, in a fixed order: their snapshots wait for us.
    locked = {code: readmodel.known_enterprise(session, code, lock=True)
              for code in sorted({old["enterprise_credit_code"], to_credit_code})}
    source, target = locked[old["enterprise_credit_code"]], locked[to_credit_code]
    # Both sides change (the member leaves one union's counts for another's), so the
    # caller's subtree must hold both: a street cannot pull another street's members in.
    domain.require_writer(caller, domain.stats_targets(source), "the member's enterprise")
    domain.require_writer(caller, domain.stats_targets(target), "the receiving enterprise")
    if target["credit_code"] == source["credit_code"]:
        raise InvalidInput("the member already belongs through this enterprise",
                           {"enterprise_credit_code": ["same as the current one"]})
    union = domain.union_for(target)
    status = domain.next_status(old["status"], "transfer")
    _set_status(session, old, status, caller, reason=f"transferred to {union}", ended=True)
    new_id = session.execute(insert(memberships).values(
        worker_id=old["worker_id"], union_code=union, enterprise_credit_code=to_credit_code,
        status="active", channel="staff", decided_at=now_utc(), previous_id=old["id"],
        entered_by=caller.name).returning(memberships.c.id)).scalar()
    readmodel.add_members(session, source["credit_code"], -1, source)
    readmodel.add_members(session, target["credit_code"], 1, target)
    new = views.membership_row(session, new_id)
    uow.publish("membership_transferred", _event(
        new, target, from_membership_id=old["id"], from_union_code=old["union_code"],
        from_enterprise_credit_code=old["enterprise_credit_code"]), subject=str(new_id))
    return views.membership_view(new)


def enterprise_snapshot(uow, data: dict, as_of: datetime | None = None) -> dict | None:
    """Any registry snapshot of an enterprise (its counters move with it); one that closes
    it lapses its members: ``{"lapsed", "rejected"}``, else None. A snapshot older than
    the stored row changes nothing."""
    change = readmodel.apply_enterprise(uow.session, data, as_of)
    if change is None or data["status"] != "closed":
        return None
    if change.old is not None and change.old["status"] == "closed":
        return None  # closed already
    return _close_enterprise(uow, change.new, data.get("reason"))


def enterprise_snapshots(uow, items: list[dict], as_of: datetime | None = None) -> None:
    """A bulk import's batch of snapshots (``enterprise_batch_imported``): counters move
    as for each one; an enterprise it shows closed lapses its members."""
    for change in readmodel.apply_enterprises(uow.session, items, as_of):
        if change.new["status"] == "closed" and (change.old or {}).get("status") != "closed":
            _close_enterprise(uow, change.new, None)


def _close_enterprise(uow, enterprise: dict, why: str | None) -> dict:
    """The registry says an enterprise closed (its snapshot is in, its workers left the
    counters with it): active memberships lapse and pending applications are rejected,
    with the registry's reason."""
    session = uow.session
    credit_code = enterprise["credit_code"]
    reason = f"enterprise closed: {why or 'no reason given'}"[:500]
    now = now_utc()
    lapsed = session.execute(update(memberships).where(
        memberships.c.enterprise_credit_code == credit_code,
        memberships.c.status == "active").values(
        status="lapsed", reason=reason, ended_at=now)).rowcount
    rejected = session.execute(update(memberships).where(
        memberships.c.enterprise_credit_code == credit_code,
        memberships.c.status == "pending").values(
        status="rejected", reason=reason, decided_at=now, ended_at=now)).rowcount
    readmodel.add_members(session, credit_code, -lapsed, enterprise)
    if lapsed or rejected:
        uow.publish("memberships_lapsed", {
            "enterprise_credit_code": credit_code, "organization_path": enterprise["path"],
            "reason": reason, "lapsed": lapsed, "rejected": rejected}, subject=credit_code)
    return {"lapsed": lapsed, "rejected": rejected}


# --- cards ---------------------------------------------------------------------------

def count_card_check(session, caller: Caller, hits: int, window: int) -> None:
    """Counts a card check by ``caller``; TooManyRequests past ``hits`` per ``window``
    seconds. Card numbers are not guessable, but a token (a merchant's terminal, or a
    leaked one) must not be able to walk through them either."""
    ratelimit.check_rate(session, rate_hits,
                         [("caller", domain.card_check_key(caller), hits, window)],
                         now_utc(), "card checks")


def purge_rate_hits(session, keep_seconds: int) -> int:
    """Forgets card checks older than ``keep_seconds`` (the longest window)."""
    return ratelimit.purge_rate_hits(session, rate_hits,
                                     now_utc() - timedelta(seconds=keep_seconds))


def issue_card(uow, keys, worker_id: int, membership_id: int, replaces=False) -> dict:
    number = domain.new_card_number()
    valid_until = date.today() + domain.CARD_VALIDITY
    uow.session.execute(insert(cards).values(
        number_hash=keys.lookup_hash(number), last4=number[-4:], worker_id=worker_id,
        membership_id=membership_id, valid_until=valid_until, status="active"))
    uow.publish("card_issued", {"worker_id": worker_id, "membership_id": membership_id,
                                "valid_until": valid_until, "replaces_lost_card": replaces},
                subject=str(worker_id))
    return {"number": number, "valid_until": valid_until}


def request_card(uow, keys, worker_id: int, lost: bool, caller: Caller) -> dict:
    """A card for an active member without one (imported from paper, say) or, when
    ``lost``, a new card that makes every earlier card of the member invalid."""
    session = uow.session
    current = views.current_membership(session, worker_id)
    if current is None or current["status"] != "active":
        views.worker_row(session, worker_id)
        raise Conflict("only an active member can hold a card", {"worker_id": worker_id})
    enterprise = readmodel.known_enterprise(session, current["enterprise_credit_code"])
    domain.require_writer(caller, domain.stats_targets(enterprise), "cards")
    active = session.execute(select(func.count()).where(
        cards.c.worker_id == worker_id, cards.c.status == "active")).scalar()
    if active and not lost:
        raise Conflict("the member already has a card; report it lost to replace it",
                       {"worker_id": worker_id})
    if lost:
        session.execute(update(cards).where(cards.c.worker_id == worker_id,
                                            cards.c.status == "active")
                        .values(status="replaced"))
    return issue_card(uow, keys, worker_id, current["id"], replaces=lost)


# --- merchants -----------------------------------------------------------------------

def register_merchant(uow, data: dict, caller: Caller) -> dict:
    session = uow.session
    place = readmodel.place(session, data["organization_code"])
    domain.require_writer(caller, place["path"], "merchants")
    rule = domain.check_rule(data["rule"])
    merchant_id = session.execute(insert(merchants).values(
        name=data["name"], organization_code=place["code"], path=json.dumps(place["path"]),
        rule_kind=rule["kind"], percent_off=rule["percent_off"],
        markup_fen=rule["markup_fen"]).returning(merchants.c.id)).scalar()
    view = views.merchant_view(views.merchant_row(session, merchant_id))
    uow.publish("merchant_registered", view, subject=str(merchant_id))
    return view


# --- member services -----------------------------------------------------------------

def submit_request(uow, data: dict, caller: Caller) -> dict:
    """Staff record a member's request; the member's union handles it unless another
    organization is named."""
    session = uow.session
    current = views.current_membership(session, data["worker_id"])
    if current is None or current["status"] != "active":
        views.worker_row(session, data["worker_id"])
        raise Conflict("member services are for active members", {"worker_id":
                                                                  data["worker_id"]})
    enterprise = readmodel.known_enterprise(session, current["enterprise_credit_code"])
    scope = domain.stats_targets(enterprise)
    domain.require_writer(caller, scope, "member service requests")
    handler = data.get("handling_organization_code") or current["union_code"]
    if handler != current["union_code"]:
        scope = scope + readmodel.place(session, handler)["path"]
    request_id = session.execute(insert(service_requests).values(
        worker_id=data["worker_id"], membership_id=current["id"], kind=data["kind"],
        status="submitted", handling_organization_code=handler, summary=data["summary"],
        path=json.dumps(scope)).returning(service_requests.c.id)).scalar()
    request = views.request_row(session, request_id)
    uow.publish("service_request_submitted", _request_event(request),
                subject=str(request_id))
    return views.request_view(request)


def _request_event(request, **extra) -> dict:
    return {"request_id": request["id"], "worker_id": request["worker_id"],
            "kind": request["kind"], "status": request["status"],
            "handling_organization_code": request["handling_organization_code"], **extra}


def update_request(uow, request_id: int, data: dict, caller: Caller) -> dict:
    """Change status (by the rules) and/or hand the request to another organization."""
    session = uow.session
    request = views.request_row(session, request_id, lock=True)
    domain.require_writer(caller, request["path"], "this service request")
    values = {"updated_at": now_utc()}
    if data.get("status"):
        values["status"] = domain.next_service_status(request["status"], data["status"])
    handler = data.get("handling_organization_code")
    if handler and handler != request["handling_organization_code"]:
        if request["status"] in ("resolved", "declined"):
            raise Conflict("a closed request cannot be handed over", {"status":
                                                                      request["status"]})
        values["handling_organization_code"] = handler
        values["path"] = json.dumps(request["path"] + readmodel.place(session, handler)["path"])
    if data.get("note") is not None:
        values["note"] = data["note"]
    if len(values) == 1:
        raise InvalidInput("send a status, a handling_organization_code or a note", None)
    session.execute(update(service_requests).where(service_requests.c.id == request_id)
                    .values(values))
    updated = views.request_row(session, request_id)
    uow.publish("service_request_updated",
                _request_event(updated, previous_status=request["status"]),
                subject=str(request_id))
    return views.request_view(updated)
