"""What the incubation API reads, shaped for callers and checked against who asks.

Who may read what (``domain.require_access``): staff and viewers read what is based
within their subtree (an organization by its home place, a fund by the organization that
runs it, a statistic by its place); an organization's own account (``so:<id>``) reads
that organization's own data only. Every list is a cursor page (``shared.paging``).
"""

from collections import Counter
from datetime import date

from sqlalchemy import and_, bindparam, case, func, select

from services.incubation import domain, policy, readmodel
from services.incubation.models import (
    activities,
    activity_counts,
    applications,
    assessments,
    awards,
    beneficiaries,
    calls,
    contracts,
    deliverables,
    funds,
    ledger,
    organizations,
    places,
    progress_reports,
    reach_counts,
    referrals,
    stage_changes,
    tranches,
)
from shared.api.incubation import account_code
from shared.caller import READ, require
from shared.errors import InvalidInput, NotFound
from shared.paging import keyset_page, sequence_page
from shared.registry_readmodel import path_key
from shared.timeutil import as_utc, now_utc

# --- rows to answers ---------------------------------------------------------------------


def organization_view(row, history=None) -> dict:
    """A grade past its validity reads as none at once, not only once the timer lapses
    it (``domain.current_grade``), as in the gates and the statistics."""
    grade = None
    if domain.current_grade(row["grade"], row["grade_until"],
                            domain.today_in(now_utc())) is not None:
        grade = {"grade": row["grade"], "valid_until": row["grade_until"],
                 "assessment_id": row["assessment_id"]}
    view = {"id": row["id"], "name": row["name"], "service_kind": row["service_kind"],
            "hub": row["hub"], "home": {"code": row["home_code"], "path": row["home_path"]},
            "places": row["places"], "contacts": row["contacts"],
            "credit_code": row["credit_code"], "registered_on": row["registered_on"],
            "stage": row["stage"], "stage_since": row["stage_since"],
            "incubation_deadline": row["incubation_deadline"], "plan": _plan(row["plan"]),
            "grade": grade, "activities": row["activities"],
            "account_code": account_code(row["id"]), "created_at": row["created_at"]}
    if history is not None:
        view["history"] = history
    return view


def _plan(stored) -> dict | None:
    """A plan as stored (JSON: days as text) with its days as dates again."""
    if stored is None:
        return None
    return {**stored, "milestones": [
        {**item, "due_on": date.fromisoformat(item["due_on"])} for item in stored["milestones"]]}


def assessment_view(row) -> dict:
    return {name: row[name] for name in (
        "id", "organization_id", "assessed_on", "evaluator", "assessors", "breakdown",
        "total", "grade", "band_min", "policy_version", "valid_until", "recorded_by", "at")}


def fund_view(row) -> dict:
    return {"id": row["id"], "name": row["name"], "source": row["source"],
            "owner_code": row["owner_code"], "budget": domain.yuan(row["budget"]),
            "awarded": domain.yuan(row["awarded"]), "disbursed": domain.yuan(row["disbursed"]),
            "remaining": domain.yuan(row["budget"] - row["awarded"]),
            "created_at": row["created_at"]}


def call_view(row, now=None) -> dict:
    now = now or now_utc()
    return {"id": row["id"], "fund_id": row["fund_id"], "title": row["title"],
            "opens_at": row["opens_at"], "closes_at": row["closes_at"],
            "eligibility": row["eligibility"],
            "max_award": None if row["max_award"] is None else domain.yuan(row["max_award"]),
            "open": as_utc(row["opens_at"]) <= now < as_utc(row["closes_at"]),
            "created_at": row["created_at"]}


def application_view(row, award_id=None) -> dict:
    return {"id": row["id"], "call_id": row["call_id"],
            "organization_id": row["organization_id"], "project": row["project"],
            "amount": domain.yuan(row["amount"]), "status": row["status"],
            "score": row["score"], "note": row["note"], "submitted_at": row["submitted_at"],
            "decided_at": row["decided_at"], "award_id": award_id}


def report_view(row) -> dict:
    return {name: row[name] for name in (
        "id", "award_id", "tranche", "summary", "status", "submitted_by", "submitted_at",
        "decided_by", "decided_at", "note")}


def contract_view(row, items) -> dict:
    return {"id": row["id"], "organization_id": row["organization_id"],
            "buyer_code": row["buyer_code"], "service": row["service"],
            "amount": domain.yuan(row["amount"]), "starts_on": row["starts_on"],
            "ends_on": row["ends_on"], "status": row["status"],
            "deliverables": [{name: item[name] for name in (
                "number", "title", "due_on", "accepted_at", "accepted_by", "note")}
                for item in items],
            "signed_by": row["signed_by"], "policy_version": row["policy_version"],
            "created_at": row["created_at"]}


def activity_view(row) -> dict:
    return {"id": row["id"], "organization_id": row["organization_id"], "kind": row["kind"],
            "title": row["title"], "held_on": row["held_on"], "place_code": row["place_code"],
            "place_path": row["place_path"], "hours": domain.hours(row["minutes"]),
            "participants": row["participants"], "beneficiaries": row["beneficiaries"],
            "members": row["members"], "reported_by": row["reported_by"],
            "created_at": row["created_at"]}


def referral_view(row, organization_name) -> dict:
    return {"id": row["id"], "request_id": row["request_id"], "worker_id": row["worker_id"],
            "organization_id": row["organization_id"], "organization_name": organization_name,
            "request_kind": row["request_kind"], "status": row["status"], "note": row["note"],
            "outcome_note": row["outcome_note"], "referred_by": row["referred_by"],
            "referred_at": row["referred_at"], "concluded_by": row["concluded_by"],
            "concluded_at": row["concluded_at"]}


# --- finding things ---------------------------------------------------------------------------

def _one(session, table, key, what, lock=False) -> dict:
    query = select(table).where(table.c.id == key)
    if lock:
        query = query.with_for_update()
    row = session.execute(query).first()
    if row is None:
        raise NotFound(f"no {what} {key}", {"id": key})
    return dict(row._mapping)


def organization(session, organization_id, lock=False) -> dict:
    return _one(session, organizations, organization_id, "organization", lock)


def fund(session, fund_id, lock=False) -> dict:
    return _one(session, funds, fund_id, "fund", lock)


def call(session, call_id) -> dict:
    return _one(session, calls, call_id, "call", False)


def application(session, application_id, lock=False) -> dict:
    return _one(session, applications, application_id, "application", lock)


def award(session, award_id, lock=False) -> dict:
    return _one(session, awards, award_id, "award", lock)


def progress_report(session, report_id, lock=False) -> dict:
    return _one(session, progress_reports, report_id, "progress report", lock)


def contract(session, contract_id, lock=False) -> dict:
    return _one(session, contracts, contract_id, "contract", lock)


def referral(session, referral_id, lock=False) -> dict:
    return _one(session, referrals, referral_id, "referral", lock)


def subtree_place(session, code) -> dict:
    """A registry organization (not an enterprise) a statistic or list is asked for."""
    row = readmodel.registry.organization(session, code)
    if row is None:
        raise NotFound(f"no organization {code} is known to the registry", {"code": code})
    return row


# --- organizations ---------------------------------------------------------------------

def get_organization(session, organization_id, caller) -> dict:
    row = organization(session, organization_id)
    domain.require_access(caller, READ, row)
    history = [dict(change._mapping) for change in session.execute(
        select(stage_changes.c.from_stage, stage_changes.c.to_stage,
               stage_changes.c.effective_on, stage_changes.c.reason, stage_changes.c.actor,
               stage_changes.c.at)
        .where(stage_changes.c.organization_id == organization_id)
        .order_by(stage_changes.c.id))]
    return organization_view(row, history)


def list_organizations(session, query, caller) -> dict:
    place = subtree_place(session, query["code"])
    require(caller, READ, place["path"], what=f"organization {place['code']}")
    where = [organizations.c.home_path_key.startswith(path_key(place["path"]),
                                                      autoescape=True)]
    if query["stage"]:
        where.append(organizations.c.stage == query["stage"])
    if query["grade"]:
        where.extend([organizations.c.grade == query["grade"],
                      organizations.c.grade_until > domain.today_in(now_utc())])
    return keyset_page(session, select(organizations).where(*where), [organizations.c.id],
                       query["cursor"], query["limit"], view=organization_view)


def list_assessments(session, organization_id, query, caller) -> dict:
    domain.require_access(caller, READ, organization(session, organization_id))
    return keyset_page(session, select(assessments).where(
        assessments.c.organization_id == organization_id), [assessments.c.id],
        query["cursor"], query["limit"], view=assessment_view, descending=True)


# --- funds -------------------------------------------------------------------------------

def get_fund(session, fund_id, caller) -> dict:
    row = fund(session, fund_id)
    require(caller, READ, row["owner_path"], what=f"fund {fund_id}")
    return fund_view(row)


def list_funds(session, query, caller) -> dict:
    place = subtree_place(session, query["code"] or caller.organization_code)
    require(caller, READ, place["path"], what=f"organization {place['code']}")
    owners = select(places.c.code).where(readmodel.registry.under(places, place["path"]))
    return keyset_page(session, select(funds).where(funds.c.owner_code.in_(owners)),
                       [funds.c.id], query["cursor"], query["limit"], view=fund_view)


def get_call(session, call_id, caller) -> dict:
    row = call(session, call_id)
    _require_fund_reader(session, row["fund_id"], caller)
    return call_view(row)


def _require_fund_reader(session, fund_id, caller):
    """Staff of the fund's subtree, or any organization's own account (which needs to see
    a call to apply to it)."""
    row = fund(session, fund_id)
    if domain.own_account(caller) is None:
        require(caller, READ, row["owner_path"], what=f"fund {fund_id}")
    return row


def list_calls(session, query, caller) -> dict:
    _require_fund_reader(session, query["fund_id"], caller)
    now = now_utc()
    return keyset_page(session, select(calls).where(calls.c.fund_id == query["fund_id"]),
                       [calls.c.id], query["cursor"], query["limit"],
                       view=lambda row: call_view(row, now), descending=True)


def _award_ids(session, application_ids) -> dict:
    if not application_ids:
        return {}
    return dict(session.execute(select(awards.c.application_id, awards.c.id).where(
        awards.c.application_id.in_(application_ids))).all())


def get_application(session, application_id, caller) -> dict:
    row = application(session, application_id)
    _require_application_reader(session, row, caller)
    return application_view(row, _award_ids(session, [row["id"]]).get(row["id"]))


def _require_application_reader(session, row, caller):
    if domain.own_account(caller) is not None:
        domain.require_access(caller, READ, organization(session, row["organization_id"]))
        return
    owner = fund(session, call(session, row["call_id"])["fund_id"])["owner_path"]
    require(caller, READ, owner, what=f"application {row['id']}")


def list_applications(session, query, caller) -> dict:
    if query["call_id"] is not None:
        fund_row = fund(session, call(session, query["call_id"])["fund_id"])
        require(caller, READ, fund_row["owner_path"], what=f"call {query['call_id']}")
        where = [applications.c.call_id == query["call_id"]]
    else:
        domain.require_access(caller, READ, organization(session, query["organization_id"]))
        where = [applications.c.organization_id == query["organization_id"]]
    if query["status"]:
        where.append(applications.c.status == query["status"])
    page = keyset_page(session, select(applications).where(*where), [applications.c.id],
                       query["cursor"], query["limit"], view=dict)
    ids = _award_ids(session, [row["id"] for row in page["items"]])
    page["items"] = [application_view(row, ids.get(row["id"])) for row in page["items"]]
    return page


def award_view(session, row) -> dict:
    reports = {report.tranche: {"id": report.id, "status": report.status}
               for report in session.execute(select(
                   progress_reports.c.tranche, progress_reports.c.id,
                   progress_reports.c.status).where(
                   progress_reports.c.award_id == row["id"]))}
    parts = session.execute(select(tranches).where(tranches.c.award_id == row["id"])
                            .order_by(tranches.c.number)).all()
    return {"id": row["id"], "application_id": row["application_id"],
            "fund_id": row["fund_id"], "organization_id": row["organization_id"],
            "amount": domain.yuan(row["amount"]), "disbursed": domain.yuan(row["disbursed"]),
            "awarded_on": row["awarded_on"],
            "tranches": [{"number": part.number, "amount": domain.yuan(part.amount),
                          "paid_at": part.paid_at, "report": reports.get(part.number)}
                         for part in parts]}


def get_award(session, award_id, caller) -> dict:
    row = award(session, award_id)
    require_award_reader(session, row, caller)
    return award_view(session, row)


def require_award_reader(session, row, caller, action=READ):
    if domain.own_account(caller) is not None:
        domain.require_access(caller, action, organization(session, row["organization_id"]),
                              own_account_may=True)
        return
    require(caller, action, fund(session, row["fund_id"])["owner_path"],
            what=f"award {row['id']}")


def get_progress_report(session, report_id, caller) -> dict:
    row = progress_report(session, report_id)
    require_award_reader(session, award(session, row["award_id"]), caller)
    return report_view(row)


def fund_ledger(session, fund_id, caller) -> dict:
    row = fund(session, fund_id)
    require(caller, READ, row["owner_path"], what=f"fund {fund_id}")
    sums = dict(session.execute(select(ledger.c.account, func.sum(ledger.c.amount)).where(
        ledger.c.fund_id == fund_id, ledger.c.side == "fund").group_by(ledger.c.account)
    ).all())
    accounts = domain.balances(sums, domain.FUND_ACCOUNTS)
    agrees = (-accounts["source"] == row["budget"]
              and accounts["committed"] + accounts["paid"] == row["awarded"]
              and accounts["paid"] == row["disbursed"])
    return _ledger_answer("fund", fund_id, accounts, agrees)


def organization_ledger(session, organization_id, caller) -> dict:
    domain.require_access(caller, READ, organization(session, organization_id))
    sums = dict(session.execute(select(ledger.c.account, func.sum(ledger.c.amount)).where(
        ledger.c.organization_id == organization_id, ledger.c.side == "organization")
        .group_by(ledger.c.account)).all())
    accounts = domain.balances(sums, domain.ORGANIZATION_ACCOUNTS)
    granted, paid = session.execute(select(
        func.coalesce(func.sum(awards.c.amount), 0),
        func.coalesce(func.sum(awards.c.disbursed), 0)).where(
        awards.c.organization_id == organization_id)).one()
    agrees = -accounts["granted"] == granted and accounts["received"] == paid
    return _ledger_answer("organization", organization_id, accounts, agrees)


def _ledger_answer(of, key, accounts, agrees) -> dict:
    balanced = accounts.pop("balanced")
    return {"of": of, "id": key,
            "accounts": {name: domain.yuan(value) for name, value in accounts.items()},
            "balanced": balanced, "agrees": bool(agrees)}


# --- contracts and activities ----------------------------------------------------------

def contract_answer(session, row) -> dict:
    items = session.execute(select(deliverables).where(
        deliverables.c.contract_id == row["id"]).order_by(deliverables.c.number)).all()
    return contract_view(row, [item._mapping for item in items])


def get_contract(session, contract_id, caller) -> dict:
    row = contract(session, contract_id)
    require_contract_reader(session, row, caller)
    return contract_answer(session, row)


def require_contract_reader(session, row, caller, action=READ):
    """The buyer's staff, the organization's own staff, or its own account."""
    if domain.own_account(caller) is None and domain.in_any_scope(caller, row["buyer_path"]):
        require(caller, action, row["buyer_path"])
        return
    domain.require_access(caller, action, organization(session, row["organization_id"]),
                          own_account_may=action == READ)


def list_contracts(session, query, caller) -> dict:
    domain.require_access(caller, READ, organization(session, query["organization_id"]))
    page = keyset_page(session, select(contracts).where(
        contracts.c.organization_id == query["organization_id"]), [contracts.c.id],
        query["cursor"], query["limit"], view=dict, descending=True)
    page["items"] = [contract_answer(session, row) for row in page["items"]]
    return page


def get_activity(session, activity_id, caller) -> dict:
    row = _one(session, activities, activity_id, "activity")
    domain.require_access(caller, READ, organization(session, row["organization_id"]))
    return activity_view(row)


def list_activities(session, query, caller) -> dict:
    domain.require_access(caller, READ, organization(session, query["organization_id"]))
    return keyset_page(session, select(activities).where(
        activities.c.organization_id == query["organization_id"]),
        [activities.c.id], query["cursor"], query["limit"], view=activity_view,
        descending=True)


# --- statistics -----------------------------------------------------------------------

ZERO = {"activities": 0, "participants": 0, "beneficiaries": 0, "members": 0, "minutes": 0}


def _figures(row) -> dict:
    row = row or ZERO
    return {"activities": row["activities"], "participants": row["participants"],
            "beneficiaries": row["beneficiaries"], "members": row["members"],
            "hours": domain.hours(row["minutes"])}


# The statements of ``statistics``, built once: each call binds its values, so a call
# costs its few index reads rather than building and keying seven statements.
_PLACE = select(places.c.path).where(places.c.code == bindparam("code"))
_COUNTS = select(activity_counts).where(activity_counts.c.node == bindparam("code"),
                                        activity_counts.c.period == bindparam("period"))
_REACHED = select(reach_counts.c.kind, reach_counts.c.workers).where(
    reach_counts.c.node == bindparam("code"), reach_counts.c.period == bindparam("period"))
_BELOW = (
    select(places.c.code, places.c.name, activity_counts.c.activities, reach_counts.c.workers)
    .outerjoin(activity_counts, and_(activity_counts.c.node == places.c.code,
                                     activity_counts.c.period == bindparam("period"),
                                     activity_counts.c.kind == "*"))
    .outerjoin(reach_counts, and_(reach_counts.c.node == places.c.code,
                                  reach_counts.c.period == bindparam("period"),
                                  reach_counts.c.kind == "*"))
    .where(places.c.parent_code == bindparam("code")).order_by(places.c.code))
_IN_SUBTREE = organizations.c.home_path_key.like(bindparam("prefix"), escape="\\")
_VALID_GRADE = case((organizations.c.grade_until > bindparam("today"), organizations.c.grade),
                    else_=None)
_ORGANIZATIONS = (
    select(organizations.c.stage, organizations.c.hub, _VALID_GRADE.label("valid_grade"),
           func.count().label("count"))
    .where(_IN_SUBTREE).group_by(organizations.c.stage, organizations.c.hub, _VALID_GRADE))
# Awarded counts in the period of the award, spent in the period of each payment.
_AWARDED = (select(func.coalesce(func.sum(awards.c.amount), 0))
            .join(organizations, organizations.c.id == awards.c.organization_id)
            .where(_IN_SUBTREE, awards.c.awarded_on >= bindparam("first"),
                   awards.c.awarded_on <= bindparam("last")))
_SPENT = (select(func.coalesce(func.sum(tranches.c.amount), 0))
          .join(awards, awards.c.id == tranches.c.award_id)
          .join(organizations, organizations.c.id == awards.c.organization_id)
          .where(_IN_SUBTREE, tranches.c.paid_at >= bindparam("paid_from"),
                 tranches.c.paid_at < bindparam("paid_until")))


def _prefix(path) -> str:
    """The LIKE pattern of everything under ``path`` (its wildcards escaped)."""
    key = path_key(path)
    return key.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def statistics_asked(session, query, caller) -> dict:
    """``statistics`` for a loaded ``StatisticsQuery``: a period key (all by default) or
    a range of days."""
    return statistics(session, query["code"], query["period"] or "all", caller,
                      query["first"], query["last"])


def statistics(session, code, period, caller, first=None, last=None) -> dict:
    """Kept counts for one place and period: index reads however many activities and
    beneficiaries there are (``operations`` keeps them with every report). Given a range
    of days (``first``, ``last``; either may be None, an open end) instead, the same
    figures counted from the activities held in it."""
    path = session.execute(_PLACE, {"code": code}).scalar()
    if path is None:
        raise NotFound(f"no organization {code} is known to the registry", {"code": code})
    require(caller, READ, path, what=f"organization {code}")
    prefix = _prefix(path)
    if first is not None or last is not None:
        return {"code": code, "period": domain.interval(first, last),
                "organizations": _organization_figures(session, prefix),
                **_range_figures(session, code, prefix, first, last),
                "funds": _fund_figures(session, prefix, first, last)}
    try:
        first, last = domain.period_range(period)
    except ValueError as exc:
        raise InvalidInput(str(exc), {"period": [str(exc)]}) from None
    values = {"code": code, "period": period}
    kinds = {row.kind: row._mapping for row in session.execute(_COUNTS, values)}
    reached = dict(session.execute(_REACHED, values).all())
    below = session.execute(_BELOW, values).all()
    return {
        "code": code, "period": period,
        "organizations": _organization_figures(session, prefix),
        "activities": {**_figures(kinds.get("*")), "workers_reached": reached.get("*", 0)},
        "by_kind": {kind: {**_figures(row), "workers_reached": reached.get(kind, 0)}
                    for kind, row in sorted(kinds.items()) if kind != "*"},
        "below": [{"code": row.code, "name": row.name, "activities": row.activities or 0,
                   "workers_reached": row.workers or 0} for row in below],
        "funds": _fund_figures(session, prefix, first, last),
    }


# A range of days is counted from the activities and their beneficiaries: a scan of the
# subtree's activities in it, as no kept count spans arbitrary days.
_HELD = and_(activities.c.place_path_key.like(bindparam("prefix"), escape="\\"),
             activities.c.held_on >= bindparam("first"),
             activities.c.held_on <= bindparam("last"))
_RANGE_COUNTS = (
    select(activities.c.kind, func.count().label("activities"),
           func.sum(activities.c.participants).label("participants"),
           func.sum(activities.c.beneficiaries).label("beneficiaries"),
           func.sum(activities.c.members).label("members"),
           func.sum(activities.c.minutes).label("minutes"))
    .where(_HELD).group_by(activities.c.kind))
_RANGE_REACHED_BY_KIND = (
    select(activities.c.kind, func.count(func.distinct(beneficiaries.c.worker_key)))
    .join(activities, activities.c.id == beneficiaries.c.activity_id)
    .where(_HELD).group_by(activities.c.kind))
_RANGE_REACHED = (
    select(func.count(func.distinct(beneficiaries.c.worker_key)))
    .join(activities, activities.c.id == beneficiaries.c.activity_id).where(_HELD))
# The organizations directly below, each with what was held under it (its path key a
# prefix of the activity's, compared exactly: codes may hold LIKE's wildcards).
_UNDER_CHILD = func.substr(activities.c.place_path_key, 1,
                           func.length(places.c.path_key)) == places.c.path_key
_RANGE_BELOW = (
    select(places.c.code, places.c.name,
           select(func.count()).select_from(activities)
           .where(_HELD, _UNDER_CHILD).scalar_subquery().label("activities"),
           select(func.count(func.distinct(beneficiaries.c.worker_key)))
           .join(activities, activities.c.id == beneficiaries.c.activity_id)
           .where(_HELD, _UNDER_CHILD).scalar_subquery().label("workers"))
    .where(places.c.parent_code == bindparam("code")).order_by(places.c.code))


def _range_figures(session, code, prefix, first, last) -> dict:
    days = {"first": first or date.min, "last": last or date.max}
    kinds = {row.kind: row._mapping for row in session.execute(
        _RANGE_COUNTS, {"prefix": prefix, **days})}
    reached = dict(session.execute(_RANGE_REACHED_BY_KIND, {"prefix": prefix, **days}).all())
    total = {name: sum(row[name] for row in kinds.values()) for name in ZERO}
    below = [{"code": row.code, "name": row.name, "activities": row.activities,
              "workers_reached": row.workers}
             for row in session.execute(_RANGE_BELOW, {"code": code, "prefix": prefix, **days})]
    return {
        "activities": {**_figures(total), "workers_reached": session.execute(
            _RANGE_REACHED, {"prefix": prefix, **days}).scalar()},
        "by_kind": {kind: {**_figures(row), "workers_reached": reached.get(kind, 0)}
                    for kind, row in sorted(kinds.items())},
        "below": below,
    }


def _organization_figures(session, prefix) -> dict:
    stages, grades, total, hubs = Counter(), Counter(), 0, 0
    for row in session.execute(_ORGANIZATIONS, {"prefix": prefix,
                                                "today": domain.today_in(now_utc())}):
        total += row.count
        hubs += row.count if row.hub else 0
        if row.stage is not None:
            stages[row.stage] += row.count
        if row.valid_grade is not None:
            grades[row.valid_grade] += row.count
    return {"total": total, "hubs": hubs, "by_stage": dict(sorted(stages.items())),
            "by_grade": dict(sorted(grades.items()))}


def _fund_figures(session, prefix, first, last) -> dict:
    awarded = session.execute(_AWARDED, {
        "prefix": prefix, "first": first or date.min, "last": last or date.max}).scalar()
    paid_from, paid_until = domain.instants(first, last)
    disbursed = session.execute(_SPENT, {"prefix": prefix, "paid_from": paid_from,
                                         "paid_until": paid_until}).scalar()
    return {"awarded": domain.yuan(awarded), "disbursed": domain.yuan(disbursed)}


# --- referrals ---------------------------------------------------------------------------

def known_request(session, request_id, lock=False) -> dict:
    request = readmodel.service_request(session, request_id, lock)
    if request is None:
        raise NotFound(f"membership has told us of no service request {request_id}",
                       {"request_id": request_id})
    return request


def candidates(session, request, on) -> tuple[list, list[str], list]:
    """Organizations that may take ``request``: of a kind of service its kind maps to,
    serving the member's place, passing the referral gate. (kinds, place, candidates)."""
    rules = policy.in_force("rules", on)
    kinds = domain.kinds_for_request(rules, request["kind"])
    place = readmodel.request_place(session, request)
    rows = session.execute(select(organizations).where(
        organizations.c.hub.is_(False), organizations.c.service_kind.in_(kinds or [""]))
        .order_by(organizations.c.id)).all()
    found = []
    for row in rows:
        row = row._mapping
        facts = domain.facts(row, on)
        if domain.serves(row["places"], place) and \
                domain.refusal("gates.referral", rules["gates"]["referral"], facts) is None:
            found.append({"organization_id": row["id"], "name": row["name"],
                          "service_kind": row["service_kind"], "stage": row["stage"],
                          "grade": facts.grade})
    return kinds, place, found


def referral_candidates(session, request_id, caller) -> dict:
    request = known_request(session, request_id)
    kinds, place, found = candidates(session, request, domain.today_in(now_utc()))
    require(caller, READ, place, what=f"service request {request_id}")
    return {"request_id": request_id, "request_kind": request["kind"],
            "service_kinds": kinds, "place": place, "candidates": found}


def referral_answer(session, row) -> dict:
    name = session.execute(select(organizations.c.name).where(
        organizations.c.id == row["organization_id"])).scalar()
    return referral_view(row, name)


def get_referral(session, referral_id, caller) -> dict:
    row = referral(session, referral_id)
    require_referral_party(session, row, caller, READ)
    return referral_answer(session, row)


def require_referral_party(session, row, caller, action):
    """The referred organization (its account or staff), or staff over the member."""
    if domain.own_account(caller) is None and domain.in_any_scope(caller, row["path"]):
        require(caller, action, row["path"])
        return
    domain.require_access(caller, action, organization(session, row["organization_id"]),
                          own_account_may=True)


def list_referrals(session, query, caller) -> dict:
    row = organization(session, query["organization_id"])
    domain.require_access(caller, READ, row)
    return keyset_page(session, select(referrals).where(
        referrals.c.organization_id == query["organization_id"]), [referrals.c.id],
        query["cursor"], query["limit"], view=lambda item: referral_view(item, row["name"]),
        descending=True)


def policies(query) -> dict:
    """Every version of every policy, a page at a time (by kind, then version)."""
    return sequence_page(policy.summary(), lambda item: (item["kind"], item["version"]),
                         query["cursor"], query["limit"])
