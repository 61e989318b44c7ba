"""The incubation use cases: each takes a unit of work (``shared.db``), checks who may
(``domain.require_access``, ``shared.caller.require``), applies the rules of
``domain`` under the policy in force (``policy``), writes, and publishes its event in the
same transaction.

Errors: the subject of a call that does not exist is ``NotFound``; something *named* in
the input that does not exist is ``InvalidInput`` naming the field; a rule or a state that
forbids the change is ``Conflict`` whose details name the rule (``details.rule``, and the
policy version where a policy says so).

Awards never overspend: the fund's ``awarded`` only grows by a conditional UPDATE that
holds only while the award fits in what remains, so two staff awarding the last of a
budget at the same moment cannot both succeed, on SQLite or PostgreSQL; the
application's status moves the same way, so one application is never awarded twice.
"""

from collections import Counter
from datetime import date

from sqlalchemy import bindparam, func, insert, select, text, update
from sqlalchemy.dialects import sqlite

from services.incubation import domain, policy, readmodel, views
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
    progress_reports,
    reach,
    reach_counts,
    referrals,
    stage_changes,
    tranches,
)
from shared.caller import WRITE, require, require_scope
from shared.errors import Conflict, InvalidInput, NotFound
from shared.registry_readmodel import path_key
from shared.timeutil import as_utc, now_utc


def _today() -> date:
    return domain.today_in(now_utc())


def _refused(refusal: domain.Refusal, version: int | None = None):
    raise Conflict(f"refused by rule {refusal.rule}: {refusal.message}",
                   refusal.details(version))


def _named_organization(session, organization_id, field="organization_id", lock=False):
    try:
        return views.organization(session, organization_id, lock)
    except NotFound:
        raise InvalidInput(f"{field} names no organization",
                           {field: [f"no organization {organization_id}"]}) from None


def _not_future(day: date, field: str):
    if day > _today():
        raise InvalidInput(f"{field} is in the future", {field: ["not after today"]})


# --- organizations -----------------------------------------------------------------------

def _service_places(session, home, places, caller, kept=()) -> list[str]:
    """The home place and ``places``; a place not already served (``kept``) must be in
    the caller's subtree: a street does not make an organization serve another street's
    members (where referrals from there may go)."""
    chosen = [home["code"]] + [code for code in places if code != home["code"]]
    codes = []
    for index, code in enumerate(chosen):
        found = readmodel.place(session, code)
        if found is None:
            raise InvalidInput("places names a place the registry does not know", {
                "places": {str(index - 1 if index else 0): [f"no place {code}"]}})
        if found["code"] not in kept and found["code"] != home["code"]:
            require_scope(caller, found["path"], f"place {found['code']}")
        if found["code"] not in codes:
            codes.append(found["code"])
    return codes


def _unique(session, column, value, what):
    if value is not None and session.execute(select(organizations.c.id).where(
            column == value)).first():
        raise Conflict(f"an organization with this {what} exists already", {what: value})


def _event(row) -> dict:
    return {"organization_id": row["id"], "name": row["name"],
            "service_kind": row["service_kind"], "hub": row["hub"],
            "home_code": row["home_code"], "home_path": row["home_path"],
            "stage": row["stage"], "credit_code": row["credit_code"]}


def add_organization(uow, data, caller) -> dict:
    """An application for incubation (stage applied), or the hub federation itself."""
    session = uow.session
    home = readmodel.known_place(session, data["home_code"], "home_code", active=True)
    require(caller, WRITE, home["path"], what=f"place {home['code']}")
    _unique(session, organizations.c.name, data["name"], "name")
    _unique(session, organizations.c.credit_code, data["credit_code"], "credit_code")
    if data["hub"] and session.execute(select(organizations.c.id).where(
            organizations.c.hub.is_(True))).first():
        raise Conflict("the hub federation is registered already", {"hub": True})
    today = data["applied_on"] or _today()
    _not_future(today, "applied_on")
    stage = None if data["hub"] else "applied"
    organization_id = session.execute(insert(organizations).values(
        name=data["name"], service_kind=data["service_kind"], hub=data["hub"],
        home_code=home["code"], home_path=home["path"], home_path_key=path_key(home["path"]),
        places=_service_places(session, home, data["places"], caller), contacts=data["contacts"],
        credit_code=data["credit_code"],
        registered_on=data["registered_on"] if data["credit_code"] else None,
        stage=stage, stage_since=today if stage else None, activities=0,
    ).returning(organizations.c.id)).scalar_one()
    if stage:
        _record_stage(session, organization_id, None, stage, today, data["reason"], caller)
    row = views.organization(session, organization_id)
    uow.publish("organization_added", _event(row), subject=organization_id)
    return views.get_organization(session, organization_id, caller)


def _record_stage(session, organization_id, old, new, effective_on, reason, caller):
    session.execute(insert(stage_changes).values(
        organization_id=organization_id, from_stage=old, to_stage=new,
        effective_on=effective_on, reason=reason, actor=caller.name, at=now_utc()))


def update_organization(uow, organization_id, changes, caller) -> dict:
    session = uow.session
    row = views.organization(session, organization_id, lock=True)
    domain.require_access(caller, WRITE, row)
    values = {}
    if "name" in changes and changes["name"] != row["name"]:
        _unique(session, organizations.c.name, changes["name"], "name")
        values["name"] = changes["name"]
    if "credit_code" in changes and changes["credit_code"] != row["credit_code"]:
        _unique(session, organizations.c.credit_code, changes["credit_code"], "credit_code")
        values["credit_code"] = changes["credit_code"]
        values["registered_on"] = changes.get("registered_on") or _today()
    elif "registered_on" in changes and row["credit_code"]:
        values["registered_on"] = changes["registered_on"]
    if "places" in changes:
        home = readmodel.place(session, row["home_code"]) or {"code": row["home_code"]}
        chosen = _service_places(session, home, changes["places"], caller, row["places"])
        if chosen != row["places"]:
            values["places"] = chosen
    if "contacts" in changes and changes["contacts"] != row["contacts"]:
        values["contacts"] = changes["contacts"]
    if values:
        session.execute(update(organizations).where(organizations.c.id == organization_id)
                        .values(**values, updated_at=now_utc()))
        updated = views.organization(session, organization_id)
        uow.publish("organization_updated", {**_event(updated), "changed": sorted(values)},
                    subject=organization_id)
    return views.get_organization(session, organization_id, caller)


def change_stage(uow, organization_id, data, caller) -> dict:
    session = uow.session
    row = views.organization(session, organization_id, lock=True)
    domain.require_access(caller, WRITE, row)
    target = data["stage"]
    problem = domain.transition_problem(row["stage"], target)
    if problem:
        raise Conflict(problem, {"stage": row["stage"], "to": target})
    effective_on = data["effective_on"] or _today()
    _not_future(effective_on, "effective_on")
    if row["stage_since"] and effective_on < row["stage_since"]:
        raise InvalidInput("effective_on is before the current stage began",
                           {"effective_on": [f"on or after {row['stage_since']}"]})
    rules = policy.in_force("rules", effective_on)
    values = {"stage": target, "stage_since": effective_on}
    if target == "admitted":
        deadline = data["incubation_deadline"] or domain.incubation_deadline(
            effective_on, rules["incubation"]["months"])
        if deadline <= effective_on:
            raise InvalidInput("the incubation period ends after admission",
                               {"incubation_deadline": [f"after {effective_on}"]})
        values.update(incubation_deadline=deadline, reminded_for=None, overdue_for=None)
    elif target == "incubating":
        if data["plan"] is None and row["plan"] is None:
            raise InvalidInput("incubation starts with a plan", {
                "plan": ["give the milestones, the training and the mentor"]})
        if data["plan"] is not None:
            values["plan"] = _plain_plan(data["plan"])
    elif target == "assessed":
        if domain.current_grade(row["grade"], row["grade_until"], effective_on) is None:
            raise Conflict("an organization is assessed once it holds a valid grade: "
                           "record an assessment first", {"rule": "assessed.grade"})
    elif target == "graduated":
        refusal = domain.refusal("graduation", rules["graduation"],
                                 domain.facts(row, effective_on))
        if refusal:
            _refused(refusal, rules.version)
    session.execute(update(organizations).where(organizations.c.id == organization_id)
                    .values(**values, updated_at=now_utc()))
    _record_stage(session, organization_id, row["stage"], target, effective_on,
                  data["reason"], caller)
    updated = views.organization(session, organization_id)
    uow.publish("organization_stage_changed", {
        **_event(updated), "from_stage": row["stage"], "reason": data["reason"],
        "actor": caller.name, "incubation_deadline": updated["incubation_deadline"]},
        subject=organization_id)
    return views.get_organization(session, organization_id, caller)


def _plain_plan(plan) -> dict:
    return {"mentor": plan["mentor"], "training": list(plan["training"]),
            "milestones": [{"title": item["title"], "due_on": item["due_on"].isoformat(),
                            "done": item["done"]} for item in plan["milestones"]]}


# --- grading ------------------------------------------------------------------------------

def record_assessment(uow, organization_id, data, caller) -> dict:
    session = uow.session
    row = views.organization(session, organization_id, lock=True)
    domain.require_access(caller, WRITE, row)
    _not_future(data["assessed_on"], "assessed_on")
    grading = policy.in_force("grading", data["assessed_on"])
    try:
        result = domain.compute_grade(grading, [sheet["scores"] for sheet in data["assessors"]])
    except ValueError as exc:
        raise InvalidInput("the scores do not fit the grading policy",
                           {"assessors": [str(exc)]}) from None
    until = domain.valid_until(data["assessed_on"], grading["valid_years"])
    assessment_id = session.execute(insert(assessments).values(
        organization_id=organization_id, assessed_on=data["assessed_on"],
        evaluator=data["evaluator"],
        assessors=[{"name": sheet["name"], "scores": {k: str(v) for k, v in
                                                      sheet["scores"].items()}}
                   for sheet in data["assessors"]],
        breakdown=[{**item, "weight": str(item["weight"]), "mean": str(item["mean"]),
                    "weighted": str(item["weighted"])} for item in result.breakdown],
        total=str(result.total), grade=result.grade,
        band_min=None if result.band_min is None else str(result.band_min),
        policy_version=grading.version, valid_until=until, recorded_by=caller.name,
        at=now_utc()).returning(assessments.c.id)).scalar_one()
    latest = session.execute(select(assessments.c.id).where(
        assessments.c.organization_id == organization_id).order_by(
        assessments.c.assessed_on.desc(), assessments.c.id.desc()).limit(1)).scalar()
    if latest == assessment_id:  # an older assessment entered late changes no grade
        session.execute(update(organizations).where(organizations.c.id == organization_id)
                        .values(grade=result.grade, grade_until=until,
                                assessment_id=assessment_id, updated_at=now_utc()))
    uow.publish("organization_graded", {
        "organization_id": organization_id, "assessment_id": assessment_id,
        "grade": result.grade, "total": result.total, "assessed_on": data["assessed_on"],
        "valid_until": until, "policy_version": grading.version}, subject=organization_id)
    return views.assessment_view(views._one(session, assessments, assessment_id,
                                            "assessment"))


def lapse_grades(uow, today: date) -> int:
    """Grades past their validity lapse (the timer's work); returns how many."""
    session = uow.session
    rows = session.execute(select(organizations.c.id, organizations.c.grade,
                                  organizations.c.grade_until).where(
        organizations.c.grade.is_not(None), organizations.c.grade_until <= today)
        .with_for_update()).all()
    for row in rows:
        session.execute(update(organizations).where(organizations.c.id == row.id).values(
            grade=None, updated_at=now_utc()))
        uow.publish("grade_lapsed", {"organization_id": row.id, "grade": row.grade,
                                     "valid_until": row.grade_until}, subject=row.id)
    return len(rows)


def remind_deadlines(uow, today: date) -> int:
    """Raise each incubation period's reminder once, and say once when one has passed."""
    session = uow.session
    reminder_days = policy.in_force("rules", today)["incubation"]["reminder_days"]
    rows = session.execute(select(organizations).where(
        organizations.c.stage.in_(domain.OPEN_STAGES),
        organizations.c.incubation_deadline.is_not(None)).with_for_update()).all()
    raised = 0
    for row in rows:
        row = row._mapping
        deadline = row["incubation_deadline"]
        state = domain.deadline_state(deadline, today, reminder_days)
        if state == "approaching" and row["reminded_for"] != deadline:
            event, column = "incubation_deadline_approaching", "reminded_for"
        elif state == "passed" and row["overdue_for"] != deadline:
            event, column = "incubation_deadline_passed", "overdue_for"
        else:
            continue
        session.execute(update(organizations).where(organizations.c.id == row["id"])
                        .values({column: deadline}))
        uow.publish(event, {"organization_id": row["id"], "name": row["name"],
                            "home_path": row["home_path"], "stage": row["stage"],
                            "incubation_deadline": deadline,
                            "days_left": (deadline - today).days}, subject=row["id"])
        raised += 1
    return raised


# --- funds -------------------------------------------------------------------------------

def _ledger(session, transaction, fund_id, organization_id, lines):
    at = now_utc()
    session.execute(insert(ledger), [{
        "transaction": transaction, "fund_id": fund_id,
        "organization_id": organization_id if line.side == "organization" else None,
        "side": line.side, "account": line.account, "amount": line.amount, "at": at}
        for line in lines])


def create_fund(uow, data, caller) -> dict:
    session = uow.session
    owner = readmodel.known_place(session, data["owner_code"], "owner_code")
    if owner["kind"] != "organization":
        raise InvalidInput("a fund is run by a union organization",
                           {"owner_code": ["an organization code, not an enterprise"]})
    require(caller, WRITE, owner["path"], what=f"organization {owner['code']}")
    if session.execute(select(funds.c.id).where(funds.c.name == data["name"])).first():
        raise Conflict("a fund of this name exists already", {"name": data["name"]})
    budget = domain.fen(data["budget"])
    fund_id = session.execute(insert(funds).values(
        name=data["name"], source=data["source"], owner_code=owner["code"],
        owner_path=owner["path"], budget=budget, awarded=0, disbursed=0,
        created_by=caller.name).returning(funds.c.id)).scalar_one()
    _ledger(session, f"budget:{fund_id}", fund_id, None, domain.budget_lines(budget))
    uow.publish("fund_created", {"fund_id": fund_id, "name": data["name"],
                                 "source": data["source"], "owner_code": owner["code"],
                                 "budget": domain.yuan(budget)}, subject=fund_id)
    return views.fund_view(views.fund(session, fund_id))


def _fund_staff(session, fund_id, caller, action=WRITE) -> dict:
    row = views.fund(session, fund_id)
    require(caller, action, row["owner_path"], what=f"fund {fund_id}")
    return row


def open_call(uow, fund_id, data, caller) -> dict:
    session = uow.session
    _fund_staff(session, fund_id, caller)
    eligibility = dict(data["eligibility"])
    call_id = session.execute(insert(calls).values(
        fund_id=fund_id, title=data["title"], opens_at=data["opens_at"],
        closes_at=data["closes_at"], eligibility=eligibility,
        max_award=None if data["max_award"] is None else domain.fen(data["max_award"]),
    ).returning(calls.c.id)).scalar_one()
    uow.publish("call_opened", {"call_id": call_id, "fund_id": fund_id, "title": data["title"],
                                "opens_at": data["opens_at"], "closes_at": data["closes_at"],
                                "min_grade": eligibility.get("min_grade")}, subject=call_id)
    return views.call_view(views.call(session, call_id))


def _eligibility_refusal(call_row, organization, on):
    """The fund-application gate of the rules policy, then the call's own conditions."""
    rules = policy.in_force("rules", on)
    facts = domain.facts(organization, on)
    refusal = domain.refusal("gates.fund_application", rules["gates"]["fund_application"],
                             facts)
    if refusal:
        return refusal, rules.version
    return domain.refusal(f"calls.{call_row['id']}.eligibility", call_row["eligibility"],
                          facts), None


def apply_to_call(uow, call_id, data, caller) -> dict:
    session = uow.session
    call_row = views.call(session, call_id)
    organization = _named_organization(session, data["organization_id"])
    domain.require_access(caller, WRITE, organization, own_account_may=True)
    now = now_utc()
    if not as_utc(call_row["opens_at"]) <= now < as_utc(call_row["closes_at"]):
        raise Conflict(f"call {call_id} takes applications from {call_row['opens_at']} "
                       f"until {call_row['closes_at']}", {"rule": "call.window"})
    amount = domain.fen(data["amount"])
    if call_row["max_award"] is not None and amount > call_row["max_award"]:
        raise InvalidInput("the amount is above the call's maximum award", {
            "amount": [f"at most {domain.yuan(call_row['max_award'])}"]})
    refusal, version = _eligibility_refusal(call_row, organization, domain.today_in(now))
    if refusal:
        _refused(refusal, version)
    if session.execute(select(applications.c.id).where(
            applications.c.call_id == call_id,
            applications.c.organization_id == organization["id"])).first():
        raise Conflict(f"organization {organization['id']} has applied to call {call_id} "
                       "already", {"call_id": call_id})
    application_id = session.execute(insert(applications).values(
        call_id=call_id, organization_id=organization["id"], project=data["project"],
        amount=amount, status="submitted", submitted_at=now,
    ).returning(applications.c.id)).scalar_one()
    row = views.application(session, application_id)
    uow.publish("application_submitted", _application_event(row), subject=application_id)
    return views.application_view(row)


def _application_event(row, **extra) -> dict:
    return {"application_id": row["id"], "call_id": row["call_id"],
            "organization_id": row["organization_id"], "amount": domain.yuan(row["amount"]),
            "status": row["status"], **extra}


def _application_staff(session, application_id, caller, lock=True):
    row = views.application(session, application_id, lock=lock)
    call_row = views.call(session, row["call_id"])
    fund_row = _fund_staff(session, call_row["fund_id"], caller)
    return row, call_row, fund_row


def review_application(uow, application_id, data, caller) -> dict:
    session = uow.session
    row, _, _ = _application_staff(session, application_id, caller)
    if row["status"] not in ("submitted", "reviewed"):
        raise Conflict(f"application {application_id} is {row['status']}: decided already",
                       {"status": row["status"]})
    score = str(data["score"].quantize(domain.CENT))
    session.execute(update(applications).where(applications.c.id == application_id).values(
        status="reviewed", score=score, note=data["note"], reviewed_by=caller.name))
    row = views.application(session, application_id)
    uow.publish("application_reviewed", _application_event(row, score=score, reason=None),
                subject=application_id)
    return views.application_view(row)


def reject_application(uow, application_id, data, caller) -> dict:
    session = uow.session
    row, _, _ = _application_staff(session, application_id, caller)
    decided = session.execute(update(applications).where(
        applications.c.id == application_id,
        applications.c.status.in_(("submitted", "reviewed"))).values(
        status="rejected", note=data["reason"], decided_by=caller.name,
        decided_at=now_utc())).rowcount
    if not decided:
        raise Conflict(f"application {application_id} is {row['status']}: decided already",
                       {"status": row["status"]})
    row = views.application(session, application_id)
    uow.publish("application_rejected", _application_event(
        row, score=row["score"], reason=data["reason"]), subject=application_id)
    return views.application_view(row)


def grant_award(uow, application_id, data, caller) -> dict:
    """Award a reviewed application within what the fund has left (see the module)."""
    session = uow.session
    row, call_row, fund_row = _application_staff(session, application_id, caller, lock=False)
    if row["status"] != "reviewed":
        raise Conflict(f"only a reviewed application is awarded; this one is "
                       f"{row['status']}", {"status": row["status"]})
    amount = row["amount"] if data["amount"] is None else domain.fen(data["amount"])
    if amount > row["amount"]:
        raise InvalidInput("an award is at most the amount applied for",
                           {"amount": [f"at most {domain.yuan(row['amount'])}"]})
    parts = domain.even_tranches(amount, 2) if data["tranches"] is None else [
        domain.fen(part) for part in data["tranches"]]
    problem = domain.tranche_problem(amount, parts)
    if problem:
        raise InvalidInput("the tranches do not make the award", {"tranches": [problem]})
    organization = views.organization(session, row["organization_id"])
    today = _today()
    refusal, version = _eligibility_refusal(call_row, organization, today)
    if refusal:
        _refused(refusal, version)
    taken = session.execute(update(applications).where(
        applications.c.id == application_id, applications.c.status == "reviewed").values(
        status="awarded", decided_by=caller.name, decided_at=now_utc())).rowcount
    if not taken:
        raise Conflict(f"application {application_id} was decided meanwhile",
                       {"status": views.application(session, application_id)["status"]})
    fitted = session.execute(update(funds).where(
        funds.c.id == fund_row["id"], funds.c.awarded + amount <= funds.c.budget).values(
        awarded=funds.c.awarded + amount)).rowcount
    if not fitted:
        left = views.fund(session, fund_row["id"])
        remaining = domain.yuan(left["budget"] - left["awarded"])
        raise Conflict(f"an award of {domain.yuan(amount)} is more than fund "
                       f"{fund_row['id']} has left ({remaining})",
                       {"rule": "fund.budget", "remaining": str(remaining)})
    award_id = session.execute(insert(awards).values(
        application_id=application_id, fund_id=fund_row["id"],
        organization_id=organization["id"], amount=amount, disbursed=0, awarded_on=today,
        awarded_by=caller.name).returning(awards.c.id)).scalar_one()
    session.execute(insert(tranches), [{"award_id": award_id, "number": number,
                                        "amount": part}
                                       for number, part in enumerate(parts, start=1)])
    _ledger(session, f"award:{award_id}", fund_row["id"], organization["id"],
            domain.award_lines(amount))
    left = views.fund(session, fund_row["id"])
    uow.publish("award_granted", {
        "award_id": award_id, "application_id": application_id, "fund_id": fund_row["id"],
        "organization_id": organization["id"], "amount": domain.yuan(amount),
        "tranches": [domain.yuan(part) for part in parts],
        "fund_remaining": domain.yuan(left["budget"] - left["awarded"])}, subject=award_id)
    return views.award_view(session, views.award(session, award_id))


def _report_event(row, organization_id) -> dict:
    return {"report_id": row["id"], "award_id": row["award_id"],
            "organization_id": organization_id, "tranche": row["tranche"],
            "status": row["status"]}


def submit_progress_report(uow, award_id, data, caller) -> dict:
    session = uow.session
    award_row = views.award(session, award_id)
    views.require_award_reader(session, award_row, caller, WRITE)
    part = session.execute(select(tranches).where(
        tranches.c.award_id == award_id, tranches.c.number == data["tranche"])).first()
    if part is None:
        raise InvalidInput("the award has no such tranche",
                           {"tranche": [f"award {award_id} has no tranche {data['tranche']}"]})
    if part.paid_at is not None:
        raise Conflict(f"tranche {data['tranche']} is paid already", {"tranche": part.number})
    existing = session.execute(select(progress_reports).where(
        progress_reports.c.award_id == award_id,
        progress_reports.c.tranche == data["tranche"]).with_for_update()).first()
    now = now_utc()
    if existing is None:
        report_id = session.execute(insert(progress_reports).values(
            award_id=award_id, tranche=data["tranche"], summary=data["summary"],
            status="submitted", submitted_by=caller.name, submitted_at=now,
        ).returning(progress_reports.c.id)).scalar_one()
    elif existing.status == "returned":  # sent back: the organization reports again
        report_id = existing.id
        session.execute(update(progress_reports).where(progress_reports.c.id == report_id)
                        .values(summary=data["summary"], status="submitted",
                                submitted_by=caller.name, submitted_at=now, decided_by=None,
                                decided_at=None, note=None))
    else:
        raise Conflict(f"tranche {data['tranche']}'s report is {existing.status} already",
                       {"report_id": existing.id, "status": existing.status})
    row = views.progress_report(session, report_id)
    uow.publish("progress_report_submitted", _report_event(row, award_row["organization_id"]),
                subject=report_id)
    return views.report_view(row)


def decide_progress_report(uow, report_id, accept: bool, note, caller) -> dict:
    """Accept a submitted report (its tranche may then be paid) or return it."""
    session = uow.session
    row = views.progress_report(session, report_id, lock=True)
    award_row = views.award(session, row["award_id"])
    _fund_staff(session, award_row["fund_id"], caller)
    if row["status"] != "submitted":
        raise Conflict(f"progress report {report_id} is {row['status']}",
                       {"status": row["status"]})
    session.execute(update(progress_reports).where(progress_reports.c.id == report_id).values(
        status="accepted" if accept else "returned", decided_by=caller.name,
        decided_at=now_utc(), note=note))
    row = views.progress_report(session, report_id)
    uow.publish("progress_report_accepted" if accept else "progress_report_returned",
                _report_event(row, award_row["organization_id"]), subject=report_id)
    return views.report_view(row)


def disburse_tranche(uow, award_id, data, caller) -> dict:
    session = uow.session
    award_row = views.award(session, award_id, lock=True)
    _fund_staff(session, award_row["fund_id"], caller)
    number = data["tranche"]
    parts = {part.number: part for part in session.execute(
        select(tranches).where(tranches.c.award_id == award_id)).all()}
    if number not in parts:
        raise InvalidInput("the award has no such tranche",
                           {"tranche": [f"award {award_id} has no tranche {number}"]})
    if parts[number].paid_at is not None:
        raise Conflict(f"tranche {number} is paid already", {"tranche": number})
    unpaid = [n for n in parts if n < number and parts[n].paid_at is None]
    if unpaid:
        raise Conflict(f"pay tranche {unpaid[0]} first", {"rule": "tranche.order",
                                                          "tranche": unpaid[0]})
    report = session.execute(select(progress_reports.c.id, progress_reports.c.status).where(
        progress_reports.c.award_id == award_id,
        progress_reports.c.tranche == number)).first()
    if report is None or report.status != "accepted":
        state = "no progress report" if report is None else f"its report is {report.status}"
        raise Conflict(f"tranche {number} is paid against an accepted progress report; "
                       f"{state}", {"rule": "tranche.report_accepted", "tranche": number})
    now = now_utc()
    paid = session.execute(update(tranches).where(
        tranches.c.award_id == award_id, tranches.c.number == number,
        tranches.c.paid_at.is_(None)).values(paid_at=now, paid_by=caller.name)).rowcount
    if not paid:
        raise Conflict(f"tranche {number} was paid meanwhile", {"tranche": number})
    amount = parts[number].amount
    session.execute(update(awards).where(awards.c.id == award_id).values(
        disbursed=awards.c.disbursed + amount))
    session.execute(update(funds).where(funds.c.id == award_row["fund_id"]).values(
        disbursed=funds.c.disbursed + amount))
    _ledger(session, f"tranche:{award_id}.{number}", award_row["fund_id"],
            award_row["organization_id"], domain.disbursement_lines(amount))
    uow.publish("tranche_disbursed", {
        "award_id": award_id, "fund_id": award_row["fund_id"],
        "organization_id": award_row["organization_id"], "tranche": number,
        "amount": domain.yuan(amount), "report_id": report.id}, subject=award_id)
    return views.award_view(session, views.award(session, award_id))


# --- purchased services ------------------------------------------------------------------

def sign_contract(uow, data, caller) -> dict:
    session = uow.session
    buyer = readmodel.known_place(session, data["buyer_code"], "buyer_code")
    if buyer["kind"] != "organization":
        raise InvalidInput("a buyer is a union organization or a street",
                           {"buyer_code": ["an organization code, not an enterprise"]})
    require(caller, WRITE, buyer["path"], what=f"buyer {buyer['code']}")
    organization = _named_organization(session, data["organization_id"])
    today = _today()
    rules = policy.in_force("rules", today)
    refusal = domain.refusal("gates.purchased_service", rules["gates"]["purchased_service"],
                             domain.facts(organization, today))
    if refusal:
        _refused(refusal, rules.version)
    contract_id = session.execute(insert(contracts).values(
        organization_id=organization["id"], buyer_code=buyer["code"], buyer_path=buyer["path"],
        service=data["service"], amount=domain.fen(data["amount"]),
        starts_on=data["starts_on"], ends_on=data["ends_on"], status="active",
        signed_by=caller.name, policy_version=rules.version,
    ).returning(contracts.c.id)).scalar_one()
    session.execute(insert(deliverables), [
        {"contract_id": contract_id, "number": number, "title": item["title"],
         "due_on": item["due_on"]} for number, item in enumerate(data["deliverables"], 1)])
    uow.publish("contract_signed", {
        "contract_id": contract_id, "organization_id": organization["id"],
        "buyer_code": buyer["code"], "service": data["service"], "amount": data["amount"],
        "starts_on": data["starts_on"], "ends_on": data["ends_on"],
        "deliverables": len(data["deliverables"])}, subject=contract_id)
    return views.contract_answer(session, views.contract(session, contract_id))


def accept_deliverable(uow, contract_id, data, caller) -> dict:
    session = uow.session
    number = data["number"]
    row = views.contract(session, contract_id, lock=True)
    require(caller, WRITE, row["buyer_path"], what=f"contract {contract_id}")
    item = session.execute(select(deliverables).where(
        deliverables.c.contract_id == contract_id, deliverables.c.number == number)).first()
    if item is None:
        raise NotFound(f"contract {contract_id} has no deliverable {number}",
                       {"number": number})
    if item.accepted_at is not None:
        raise Conflict(f"deliverable {number} is accepted already", {"number": number})
    session.execute(update(deliverables).where(
        deliverables.c.contract_id == contract_id, deliverables.c.number == number).values(
        accepted_at=now_utc(), accepted_by=caller.name, note=data["note"]))
    open_items = session.execute(select(func.count()).where(
        deliverables.c.contract_id == contract_id, deliverables.c.accepted_at.is_(None))
    ).scalar()
    if not open_items:
        session.execute(update(contracts).where(contracts.c.id == contract_id)
                        .values(status="completed"))
    uow.publish("deliverable_accepted", {
        "contract_id": contract_id, "organization_id": row["organization_id"],
        "number": number, "title": item.title, "contract_completed": not open_items},
        subject=contract_id)
    return views.contract_answer(session, views.contract(session, contract_id))


# --- activities and workers reached ---------------------------------------------------

REPORTING_STAGES = ("admitted", "incubating", "assessed", "graduated")


def report_activity(uow, data, caller) -> dict:
    [activity_id] = report_activities(uow, [data], caller)
    return views.activity_view(views._one(uow.session, activities, activity_id, "activity"))


def report_activities(uow, items, caller, publish=True) -> list[int]:
    """Record activities and keep the counts of activities and workers reached for every
    place on their paths, all in this unit of work (one activity from the API; many from
    the sample or an import). Returns their ids in order."""
    session = uow.session
    prepared, checked = [], set()
    worker_ids = {b["worker_id"] for item in items for b in item["beneficiaries"]
                  if b["worker_id"] is not None}
    statuses = readmodel.members_known(session, worker_ids) if worker_ids else {}
    wanted = sorted({item["organization_id"] for item in items})
    known_orgs = {row.id: dict(row._mapping) for row in session.execute(
        select(organizations).where(organizations.c.id.in_(wanted)))} if len(wanted) > 1 \
        else {}
    places_seen = readmodel.places_known(session, {item["place_code"] for item in items})
    for item in items:
        organization = known_orgs.get(item["organization_id"])
        if organization is None:
            organization = _named_organization(session, item["organization_id"])
            known_orgs[item["organization_id"]] = organization
        if organization["id"] not in checked:
            checked.add(organization["id"])
            domain.require_access(caller, WRITE, organization, own_account_may=True)
            if not organization["hub"] and organization["stage"] not in REPORTING_STAGES:
                raise Conflict(f"a {organization['stage']} organization reports no "
                               "activities (admitted organizations and the hub do)",
                               {"rule": "activity.stage", "stage": organization["stage"]})
        _not_future(item["held_on"], "held_on")
        place = readmodel.known_place(session, item["place_code"], "place_code",
                                      active=True, found=places_seen)
        keys, linked, members_count = [], [], 0
        for number, person in enumerate(item["beneficiaries"]):
            worker_id = person["worker_id"]
            if worker_id is not None and worker_id not in statuses:
                raise InvalidInput("a beneficiary names a worker membership has not told "
                                   "us of", {"beneficiaries": {str(number): {"worker_id": [
                                       f"no member {worker_id} is known (yet)"]}}})
            members_count += worker_id is not None and statuses[worker_id] == "active"
            keys.append(domain.worker_key(organization["id"], worker_id, person["ref"]))
            linked.append((worker_id, person["ref"]))
        if len(set(keys)) != len(keys):
            raise InvalidInput("a beneficiary is named twice in one activity",
                               {"beneficiaries": ["each person once per activity"]})
        prepared.append((item, organization, place, keys, linked, members_count))
    ids = [row.id for row in session.execute(
        insert(activities).returning(activities.c.id, sort_by_parameter_order=True), [
            {"organization_id": organization["id"], "kind": item["kind"],
             "title": item["title"], "held_on": item["held_on"], "place_code": place["code"],
             "place_path": place["path"], "place_path_key": path_key(place["path"]),
             "minutes": domain.minutes(item["hours"]), "participants": item["participants"],
             "beneficiaries": len(keys), "members": members_count,
             "reported_by": caller.name}
            for item, organization, place, keys, linked, members_count in prepared])]
    bulk_insert(session, beneficiaries, ("activity_id", "worker_key", "worker_id", "ref"), [
        (activity_id, key, worker_id, ref)
        for activity_id, (_, _, _, keys, linked, _) in zip(ids, prepared, strict=True)
        for key, (worker_id, ref) in zip(keys, linked, strict=True)])
    if publish:
        uow.publish_many(("activity_reported", {
            "activity_id": activity_id, "organization_id": organization["id"],
            "kind": item["kind"], "held_on": item["held_on"], "place_code": place["code"],
            "place_path": place["path"], "participants": item["participants"],
            "beneficiaries": len(keys), "members": members_count}, activity_id)
            for activity_id, (item, organization, place, keys, _, members_count)
            in zip(ids, prepared, strict=True))
    reported = Counter(organization["id"] for _, organization, *_ in prepared)
    _add_activities(session, sorted(reported.items()))
    _count_activities(session, [(item, place, len(keys), members_count)
                                for item, _, place, keys, _, members_count in prepared])
    record_reach(session, [(key, place["path"], item["kind"], item["held_on"])
                           for item, _, place, keys, _, _ in prepared for key in keys])
    return ids


def _add_activities(session, counts):
    """``(organization id, activities reported)`` added to each organization's count."""
    connection = session.connection()
    if connection.dialect.name == "postgresql" and len(counts) > 1:
        from psycopg2.extras import execute_values

        cursor = connection.connection.cursor()
        try:
            execute_values(cursor, 'UPDATE "social_organizations" SET "activities" = '
                           '"social_organizations"."activities" + v.added FROM (VALUES %s) '
                           'AS v(id, added) WHERE "social_organizations"."id" = v.id', counts)
        finally:
            cursor.close()
        return
    session.execute(update(organizations).where(organizations.c.id == bindparam("b_id"))
                    .values(activities=organizations.c.activities + bindparam("b_added")),
                    [{"b_id": key, "b_added": added} for key, added in counts])


def _upsert_counts(session, table, keys, rows):
    """Add ``rows`` (dicts with the key columns and the numbers to add) to ``table``: one
    multi-row INSERT ... ON CONFLICT DO UPDATE per chunk (psycopg2's execute_values on
    PostgreSQL, where an executemany would be a round trip per row)."""
    if not rows:
        return
    columns = list(rows[0])
    numbers = [name for name in columns if name not in keys]
    connection = session.connection()
    if connection.dialect.name == "postgresql":
        from psycopg2.extras import execute_values

        names = ", ".join(f'"{name}"' for name in columns)
        added = ", ".join(f'"{name}" = "{table.name}"."{name}" + EXCLUDED."{name}"'
                          for name in numbers)
        cursor = connection.connection.cursor()
        try:
            execute_values(
                cursor, f'INSERT INTO "{table.name}" ({names}) VALUES %s ON CONFLICT '
                        f'({", ".join(keys)}) DO UPDATE SET {added}',
                [tuple(row[name] for name in columns) for row in rows], page_size=2000)
        finally:
            cursor.close()
        return
    statement = sqlite.insert(table)
    statement = statement.on_conflict_do_update(
        index_elements=keys,
        set_={name: table.c[name] + statement.excluded[name] for name in numbers})
    for start in range(0, len(rows), 2000):
        session.execute(statement, rows[start:start + 2000])


def _count_activities(session, reported):
    _add_counts(session, [(place["path"], item["kind"], item["held_on"], (
        1, item["participants"], named, members_count, domain.minutes(item["hours"])))
        for item, place, named, members_count in reported])


def _add_counts(session, counted):
    """``counted``: (nodes, kind, day, numbers in the order of ``COUNTED``), each added
    to the kept counts of every node for the day's periods, for "*" and its kind."""
    totals = {}  # (node, period, kind) -> [activities, participants, beneficiaries, ...]
    for nodes, kind_of_activity, held_on, numbers in counted:
        periods = domain.period_keys(held_on)
        for node in nodes:
            for period in periods:
                for kind in ("*", kind_of_activity):
                    counts = totals.get((node, period, kind))
                    if counts is None:
                        totals[(node, period, kind)] = list(numbers)
                    else:
                        for index, number in enumerate(numbers):
                            counts[index] += number
    _upsert_counts(session, activity_counts, ["node", "period", "kind"], [
        {"node": node, "period": period, "kind": kind,
         **dict(zip(COUNTED, counts, strict=True))}
        for (node, period, kind), counts in sorted(totals.items())])


COUNTED = ("activities", "participants", "beneficiaries", "members", "minutes")


def _serialize_reach(session):
    """One writer of the reach tables at a time: each decides from what it read whether a
    worker is new somewhere, which two at once could both believe. SQLite writes one
    transaction at a time already; on PostgreSQL a transaction-scoped advisory lock."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(1008006)"))


def record_reach(session, visits):
    """``visits``: (worker key, place path, kind of activity, day). Marks each worker
    reached at every place of the path in that month, for every kind ("*") and for the
    activity's kind, and adds each worker new to a place, kind and period once to its
    count (``domain.reach_changes``, whose nodes here are (place, kind) pairs)."""
    if not visits:
        return
    _serialize_reach(session)
    by_worker = {}
    for key, path, kind, day in visits:
        by_worker.setdefault(key, []).append(
            ([(node, each) for node in path for each in ("*", kind)], day))
    keys = sorted(by_worker)
    states = {key: domain.ReachState() for key in keys}
    stored = set()
    postgresql = session.get_bind().dialect.name == "postgresql"
    if postgresql:
        # A primary-key lookup. Without fresh statistics (a bulk load outrunning
        # autovacuum, or autovacuum off) PostgreSQL takes each key for 0.5% of the table
        # and scans all of it, which grows by millions of rows in an import.
        session.execute(text("SET LOCAL enable_seqscan = off"))
    for start in range(0, len(keys), 500):
        for key, node, kind, year, months in session.execute(select(
                reach.c.worker_key, reach.c.node, reach.c.kind, reach.c.year,
                reach.c.months).where(reach.c.worker_key.in_(keys[start:start + 500]))):
            states[key].masks[((node, kind), year)] = months
            stored.add((key, (node, kind), year))
    if postgresql:
        session.execute(text("SET LOCAL enable_seqscan = on"))
    gained, inserts, updates = {}, [], []
    for key, worker_visits in by_worker.items():
        masks = states[key].masks
        before = dict(masks)
        domain.reach_changes(states[key], worker_visits, gained)
        for ((node, kind), year), months in masks.items():
            if before.get(((node, kind), year)) != months:
                row = (key, node, kind, year, months)
                (updates if (key, (node, kind), year) in stored else inserts).append(row)
    bulk_insert(session, reach, ("worker_key", "node", "kind", "year", "months"), inserts)
    _update_reach(session, updates)
    _upsert_counts(session, reach_counts, ["node", "period", "kind"], [
        {"node": node, "period": period, "kind": kind, "workers": count}
        for ((node, kind), period), count in sorted(gained.items())])


def follow_registry_move(uow, kind: str, change) -> None:
    """A community (with everything under it) or an enterprise the registry moved: its
    activities, past and future, count under its new ancestors and no longer under the
    old ones. Activity counts move by what its activities added; workers reached are
    counted again at each ancestor gained or lost (a worker reached there elsewhere too
    stays counted)."""
    if not change.moved:
        return
    session = uow.session
    old_path, new_path = list(change.old["path"]), list(change.new["path"])
    if kind == "organization":
        moved = activities.c.place_path_key.startswith(path_key(old_path), autoescape=True)
    else:
        moved = activities.c.place_code == change.new["credit_code"]
    rows = session.execute(select(activities).where(moved)).all()
    if not rows:
        return
    lost = [node for node in old_path if node not in new_path]
    gained = [node for node in new_path if node not in old_path]
    for nodes, sign in ((lost, -1), (gained, 1)):
        _add_counts(session, [(nodes, row.kind, row.held_on, tuple(
            sign * number for number in (1, row.participants, row.beneficiaries,
                                         row.members, row.minutes))) for row in rows])
    # below a moved community the rest of each path stays; an enterprise's path is its
    # community's
    kept = len(old_path) if kind == "organization" else None
    session.execute(update(activities).where(activities.c.id == bindparam("b_id")).values(
        place_path=bindparam("b_path"), place_path_key=bindparam("b_key")), [
        {"b_id": row.id, "b_path": path, "b_key": path_key(path)} for row in rows
        for path in [new_path + (list(row.place_path)[kept:] if kept else [])]])
    _recount_reach(session, [old_path[:old_path.index(node) + 1] for node in lost]
                   + [new_path[:new_path.index(node) + 1] for node in gained])


def _recount_reach(session, node_paths):
    """The workers reached at each node (its path given) counted again from the
    activities under it: what a move changed cannot be added or taken away, since a
    worker may also have been reached elsewhere under the node."""
    _serialize_reach(session)
    for path in node_paths:
        node = path[-1]
        session.execute(reach.delete().where(reach.c.node == node))
        session.execute(reach_counts.delete().where(reach_counts.c.node == node))
        record_reach(session, [(row.worker_key, [node], row.kind, row.held_on)
                               for row in session.execute(
            select(beneficiaries.c.worker_key, activities.c.kind, activities.c.held_on)
            .join(activities, activities.c.id == beneficiaries.c.activity_id)
            .where(activities.c.place_path_key.startswith(path_key(path),
                                                           autoescape=True)))])


def _update_reach(session, rows, chunk=5000):
    """New month bits for reach rows kept already: one UPDATE ... FROM (VALUES ...) per
    chunk on PostgreSQL (its executemany would be a round trip per row), executemany on
    SQLite."""
    if not rows:
        return
    connection = session.connection()
    if connection.dialect.name == "postgresql":
        from psycopg2.extras import execute_values

        cursor = connection.connection.cursor()
        try:
            execute_values(cursor, 'UPDATE "reach" SET "months" = v.months FROM (VALUES %s) '
                           'AS v(worker_key, node, kind, year, months) WHERE '
                           '"reach"."worker_key" = v.worker_key AND "reach"."node" = v.node '
                           'AND "reach"."kind" = v.kind AND "reach"."year" = v.year', rows,
                           page_size=chunk)
        finally:
            cursor.close()
        return
    session.execute(update(reach).where(
        reach.c.worker_key == bindparam("b_key"), reach.c.node == bindparam("b_node"),
        reach.c.kind == bindparam("b_kind"), reach.c.year == bindparam("b_year"))
        .values(months=bindparam("b_months")),
        [{"b_key": key, "b_node": node, "b_kind": kind, "b_year": year, "b_months": months}
         for key, node, kind, year, months in rows])


def bulk_insert(session, table, columns, rows, chunk=5000):
    """Many rows of plain tuples at driver speed: executemany on SQLite, multi-row VALUES
    on PostgreSQL (psycopg2's execute_values), in this unit of work's transaction.
    SQLAlchemy's own per-row parameter handling cost more than the database here."""
    if not rows:
        return
    names = ", ".join(f'"{name}"' for name in columns)
    connection = session.connection()
    if connection.dialect.name == "postgresql":
        from psycopg2.extras import execute_values

        cursor = connection.connection.cursor()
        try:
            execute_values(cursor, f'INSERT INTO "{table.name}" ({names}) VALUES %s', rows,
                           page_size=chunk)
        finally:
            cursor.close()
        return
    marks = ", ".join("?" for _ in columns)
    for start in range(0, len(rows), chunk):
        connection.exec_driver_sql(f'INSERT INTO "{table.name}" ({names}) VALUES ({marks})',
                                   rows[start:start + chunk])


# --- referrals ---------------------------------------------------------------------------

CLOSED_REQUESTS = ("resolved", "declined")


def refer_request(uow, request_id, data, caller) -> dict:
    session = uow.session
    request = views.known_request(session, request_id)
    place = readmodel.request_place(session, request)
    require(caller, WRITE, place, what=f"service request {request_id}")
    if request["status"] in CLOSED_REQUESTS:
        raise Conflict(f"service request {request_id} is {request['status']}",
                       {"status": request["status"]})
    organization = _named_organization(session, data["organization_id"], lock=True)
    today = _today()
    rules = policy.in_force("rules", today)
    kinds = domain.kinds_for_request(rules, request["kind"])
    if organization["hub"] or organization["service_kind"] not in kinds:
        raise Conflict(f"refused by rule referral_kinds.{request['kind']}: a "
                       f"{request['kind']} request goes to organizations of "
                       f"{', '.join(kinds) or 'no kind'}; this one does "
                       f"{organization['service_kind']}",
                       {"rule": f"referral_kinds.{request['kind']}", "requires": kinds,
                        "holds": organization["service_kind"], "policy_version": rules.version})
    if not domain.serves(organization["places"], place):
        raise Conflict(f"refused by rule referral.place: organization {organization['id']} "
                       "does not serve the member's place",
                       {"rule": "referral.place", "requires": place,
                        "holds": organization["places"]})
    refusal = domain.refusal("gates.referral", rules["gates"]["referral"],
                             domain.facts(organization, today))
    if refusal:
        _refused(refusal, rules.version)
    if session.execute(select(referrals.c.id).where(
            referrals.c.request_id == request_id, referrals.c.status == "referred")).first():
        raise Conflict(f"service request {request_id} is referred already and not "
                       "concluded", {"request_id": request_id})
    referral_id = session.execute(insert(referrals).values(
        request_id=request_id, worker_id=request["worker_id"],
        organization_id=organization["id"], request_kind=request["kind"], path=place,
        path_key=path_key(place), status="referred", note=data["note"],
        referred_by=caller.name, referred_at=now_utc()).returning(referrals.c.id)
    ).scalar_one()
    row = views.referral(session, referral_id)
    uow.publish("request_referred", _referral_event(row, organization), subject=request_id)
    return views.referral_view(row, organization["name"])


def _referral_event(row, organization) -> dict:
    """Ids, names and codes only: the referral's note and the outcome's note are about the
    member's request and stay in this service's tables and RPC answers."""
    return {"referral_id": row["id"], "request_id": row["request_id"],
            "worker_id": row["worker_id"], "organization_id": organization["id"],
            "organization_name": organization["name"],
            "service_kind": organization["service_kind"]}


def conclude_referral(uow, referral_id, data, caller) -> dict:
    session = uow.session
    row = views.referral(session, referral_id, lock=True)
    views.require_referral_party(session, row, caller, WRITE)
    if row["status"] != "referred":
        raise Conflict(f"referral {referral_id} is {row['status']} already",
                       {"status": row["status"]})
    session.execute(update(referrals).where(referrals.c.id == referral_id).values(
        status=data["outcome"], outcome_note=data["note"], concluded_by=caller.name,
        concluded_at=now_utc()))
    row = views.referral(session, referral_id)
    organization = views.organization(session, row["organization_id"])
    uow.publish("referral_concluded", {**_referral_event(row, organization),
                                       "outcome": data["outcome"]}, subject=row["request_id"])
    return views.referral_view(row, organization["name"])

