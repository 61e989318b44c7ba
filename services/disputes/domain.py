"""Dispute early warning: reports become cases, cases are graded, handled and rewarded.

Plain functions over a SQLAlchemy session (or a ``UnitOfWork`` when they publish
events); the service calls them and nothing here knows about nameko.

- A report names an enterprise (a registry credit code, or name + address + community),
  a category and figures. Reports of the same enterprise and category arriving within
  the grading policy's merge window join the open case; otherwise a new case opens.
- Every case is graded by the grading policy; the deciding rule is stored. A grade is
  raised automatically (new report, visit, verification) but never lowered: a matter
  already reported to the party committee stays reported.
- The standard process: reported -> verified | rejected; verified -> handling ->
  resolved -> closed. Each step is an event and a line in the case timeline.
- Rewards are computed when a case is verified and when it is resolved.
"""

import re
import time
import uuid
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from types import SimpleNamespace

from sqlalchemy import bindparam, delete, func, insert, or_, select, update

from services.disputes import identity, policy
from services.disputes.models import (
    cases,
    enterprises,
    informants,
    open_risks,
    organizations,
    policies,
    rate_hits,
    reports,
    rewards,
    timeline,
    visits,
)
from shared import ratelimit
from shared.errors import Conflict, Forbidden, InvalidInput, NotFound

OPEN_STATUSES = ("reported", "verified", "handling")
TRANSITIONS = {
    "reported": ("verified", "rejected"),
    "verified": ("handling",),
    "handling": ("resolved",),
    "resolved": ("closed",),
}
WRITE_ROLES = ("admin", "staff")
CHINA_TIME = timezone(timedelta(hours=8), "CST")  # statistics count years in local time
IRREGULAR_LOOKBACK = timedelta(days=365)
RATE_HIT_KEEP = timedelta(days=1)  # longer than any rate-limit window


# --- values ---------------------------------------------------------------------------

def now_utc() -> datetime:
    return datetime.now(UTC)


def as_utc(value: datetime | None) -> datetime | None:
    """SQLite hands back naive datetimes: they were stored as UTC."""
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=UTC)


def to_fen(amount) -> int:
    return int(policy.yuan(amount) * 100)


def from_fen(fen: int | None) -> str | None:
    return None if fen is None else str((Decimal(fen) / 100).quantize(policy.CENT))


def _new_id() -> str:
    return uuid.uuid4().hex


# --- policies -------------------------------------------------------------------------

POLICY_LIST_SECONDS = 5.0  # how long a replica may not see another's newly published version


def policy_in_force(session, kind: str, at: datetime) -> tuple[int, dict]:
    """(version, validated body) of the ``kind`` policy in force at ``at``."""
    in_force = [(effective, version) for effective, version in _versions(session, kind)
                if effective <= at]
    if not in_force:
        raise Conflict(f"no {kind} policy is in force at {at.isoformat()}")
    version = max(in_force)[1]
    return version, policy_version(session, kind, version)


_VERSIONS = {}


def _versions(session, kind) -> list:
    """(effective_from, version) of every version: a tiny list, read every few seconds
    rather than on every report."""
    key = (session.get_bind(), kind)
    cached = _VERSIONS.get(key)
    if cached is None or time.monotonic() - cached[0] > POLICY_LIST_SECONDS:
        rows = session.execute(select(policies.c.effective_from, policies.c.version)
                               .where(policies.c.kind == kind)).all()
        cached = _VERSIONS[key] = (time.monotonic(), [(as_utc(e), v) for e, v in rows])
    return cached[1]


# A published version never changes, so each is read and validated once per process.
_LOADED = {}


def policy_version(session, kind: str, version: int) -> dict:
    key = (session.get_bind(), kind, version)
    if key not in _LOADED:
        row = session.execute(select(policies.c.body).where(
            policies.c.kind == kind, policies.c.version == version)).first()
        if row is None:
            raise NotFound(f"no {kind} policy version {version}")
        _LOADED[key] = policy.load(kind, row.body)
    return _LOADED[key]


def publish_policy(session, kind, body, effective_from, actor, now) -> int:
    """Store a new version of a policy; the body must validate. Returns its version."""
    require_role(actor, ("admin",))
    try:
        policy.load(kind, body)
    except policy.ValidationError as exc:
        raise InvalidInput(f"the {kind} policy was rejected", exc.messages) from None
    version = (session.execute(
        select(func.max(policies.c.version)).where(policies.c.kind == kind)
    ).scalar() or 0) + 1
    session.execute(insert(policies).values(
        kind=kind, version=version, effective_from=effective_from, body=body,
        published_by=actor["user"], published_at=now,
    ))
    _VERSIONS.pop((session.get_bind(), kind), None)  # this replica sees it at once
    return version


def list_policies(session, kind: str) -> list[dict]:
    rows = session.execute(
        select(policies).where(policies.c.kind == kind).order_by(policies.c.version)
    )
    return [{"kind": r.kind, "version": r.version, "effective_from": as_utc(r.effective_from),
             "body": r.body, "published_by": r.published_by} for r in rows]


# --- actors and scope -----------------------------------------------------------------

def require_role(actor: dict, roles) -> None:
    if actor["role"] not in roles:
        raise Forbidden(f"role {actor['role']} may not do this; needs {' or '.join(roles)}",
                        {"role": actor["role"]})


def require_scope(actor: dict, path: list) -> None:
    """A user acts only inside their organization's subtree."""
    if actor["organization_code"] not in path:
        raise Forbidden(f"outside the subtree of {actor['organization_code']}",
                        {"organization_code": actor["organization_code"]})


def _scope_clause(table, code: str):
    return or_(table.c.district_code == code, table.c.street_code == code,
               table.c.community_code == code)


# --- the registry read model ----------------------------------------------------------

# Handlers run concurrently, so a registry event may be applied after a later one about
# the same row: each row keeps the time of the event it came from (``as_of``) and an
# older snapshot is ignored.

def _older(row_as_of, as_of) -> bool:
    return as_of is not None and row_as_of is not None and as_utc(row_as_of) > as_of


def apply_organization(session, data: dict, as_of: datetime | None = None) -> None:
    """Upsert from any organization event; a move re-roots the local subtree's paths."""
    old = session.execute(
        select(organizations.c.path, organizations.c.as_of)
        .where(organizations.c.code == data["code"])
    ).first()
    values = {"name": data["name"], "kind": data["kind"], "tier": data["tier"],
              "path": list(data["path"]), "as_of": as_of}
    if old is None:
        session.execute(insert(organizations).values(code=data["code"], **values))
        return
    if _older(old.as_of, as_of):
        return
    session.execute(update(organizations).where(organizations.c.code == data["code"])
                    .values(**values))
    if list(old.path) != values["path"]:
        depth = len(old.path)
        for row in session.execute(select(organizations.c.code, organizations.c.path)).all():
            if row.code != data["code"] and list(row.path[:depth]) == list(old.path):
                session.execute(update(organizations).where(organizations.c.code == row.code)
                                .values(path=values["path"] + list(row.path[depth:])))


def apply_enterprise(session, data: dict, as_of: datetime | None = None) -> None:
    values = {"name": data["name"], "name_key": _normal_name(data["name"]),
              "address": data.get("address"),
              "community_code": data["community_code"], "path": list(data["path"]),
              "headcount": data["headcount"], "key_enterprise": data["key_enterprise"],
              "status": data["status"], "as_of": as_of}
    old = session.execute(select(enterprises.c.as_of).where(
        enterprises.c.credit_code == data["credit_code"])).first()
    if old is None:
        session.execute(insert(enterprises).values(credit_code=data["credit_code"], **values))
    elif not _older(old.as_of, as_of):
        session.execute(update(enterprises)
                        .where(enterprises.c.credit_code == data["credit_code"])
                        .values(**values))


def organization(session, code: str):
    row = session.execute(select(organizations).where(organizations.c.code == code)).first()
    if row is None:
        raise NotFound(f"no organization {code} (not known to the registry)")
    return row


def revoke_officer(session, informant_id: str, actor: dict) -> dict:
    require_role(actor, WRITE_ROLES)
    row = session.execute(select(informants).where(informants.c.id == informant_id,
                                                   informants.c.kind == "officer")).first()
    if row is None:
        raise NotFound(f"no information officer {informant_id}")
    require_scope(actor, organization(session, row.organization_code).path)
    session.execute(update(informants).where(informants.c.id == informant_id)
                    .values(active=False))
    return {"informant": informant_id, "active": False}


def _community(session, code: str):
    row = session.execute(select(organizations).where(organizations.c.code == code)).first()
    if row is None or row.tier != "community":
        raise InvalidInput(f"{code} is not a community or park known to the registry",
                           {"community_code": ["unknown community or park"]})
    return row


def _normal_name(name: str) -> str:
    return re.sub(r"\s+", "", name).casefold()


def resolve_enterprise(session, data: dict) -> dict:
    """The enterprise a report names, with its place in the tree.

    A registered enterprise is found by credit code, or by exact name within the
    community; otherwise name, address and community describe one not yet registered.
    """
    row = None
    if data.get("credit_code"):
        row = session.execute(select(enterprises).where(
            enterprises.c.credit_code == data["credit_code"])).first()
        if row is None and not data.get("name"):
            raise NotFound(f"enterprise {data['credit_code']} is not in the registry; give "
                           "its name, address and community instead",
                           {"credit_code": ["not registered"]})
    elif data.get("name") and data.get("community_code"):
        row = session.execute(select(enterprises).where(
            enterprises.c.community_code == data["community_code"],
            enterprises.c.name_key == _normal_name(data["name"]))).first()
    if row is not None:
        return {"credit_code": row.credit_code, "name": row.name, "address": row.address,
                "community_code": row.community_code, "path": list(row.path),
                "key_enterprise": row.key_enterprise,
                "key": row.credit_code}
    community = _community(session, data["community_code"])
    return {"credit_code": None, "name": data["name"].strip(), "address": data.get("address"),
            "community_code": community.code, "path": list(community.path),
            "key_enterprise": False,
            "key": f"{community.code}:{_normal_name(data['name'])}"}


# --- rate limits ----------------------------------------------------------------------

def check_rate(session, limits: list[tuple[str, str, int, int]], now: datetime) -> None:
    """Reports per officer and per source address, receipt lookups per source:
    ``shared.ratelimit.check_rate`` on this service's own ``rate_hits``."""
    ratelimit.check_rate(session, rate_hits, limits, now, "reports")


def purge_rate_hits(session, older_than: datetime) -> int:
    return ratelimit.purge_rate_hits(session, rate_hits, older_than)


# --- grading --------------------------------------------------------------------------

# Built once: the enterprise, case and times are parameters.
_PRIOR_AND_IRREGULAR = select(
    select(func.count()).select_from(cases).where(
        cases.c.enterprise_key == bindparam("enterprise_key"), cases.c.id != bindparam("id"),
        cases.c.status.in_(("verified", "handling", "resolved", "closed")),
        cases.c.opened_at < bindparam("opened_at")).scalar_subquery(),
    select(func.count()).select_from(visits).where(
        visits.c.enterprise_key == bindparam("enterprise_key"),
        visits.c.irregular_practice.is_(True),
        visits.c.at >= bindparam("since")).scalar_subquery(),
)


def grading_facts(session, case, now: datetime) -> policy.GradingFacts:
    prior, irregular = session.execute(_PRIOR_AND_IRREGULAR, {
        "enterprise_key": case.enterprise_key, "id": case.id, "opened_at": case.opened_at,
        "since": now - IRREGULAR_LOOKBACK}).one()
    expected = as_utc(case.expected_at)
    return policy.GradingFacts(
        category=case.category, workers_affected=case.workers_affected,
        amount_owed=Decimal(case.amount_owed_fen) / 100,
        key_enterprise=bool(case.key_enterprise), prior_disputes=prior,
        irregular_findings=irregular,
        days_until_expected=None if expected is None else (expected - now).days,
    )


def _regrade(uow, case_id: str, now: datetime, actor: str | None, why: str) -> None:
    """Grade again; publish ``case_regraded`` if the grade rose."""
    session = uow.session
    case = _case_row(session, case_id)
    _version, rules = policy_in_force(session, "grading", now)
    new_grade, rule = policy.grade(rules, grading_facts(session, case, now))
    if policy.GRADE_ORDER[new_grade] <= policy.GRADE_ORDER[case.grade]:
        return
    previous = case.grade
    session.execute(update(cases).where(cases.c.id == case_id)
                    .values(grade=new_grade, grade_rule=rule, updated_at=now))
    _note(session, case_id, now, "regraded", actor,
          {"grade": new_grade, "previous_grade": previous, "rule": rule, "why": why})
    payload = dict(case_payload(_case_row(session, case_id)), previous_grade=previous)
    uow.publish("case_regraded", payload, subject=case_id)


# --- reports --------------------------------------------------------------------------

def filed_by_request(session, request_id: str | None) -> tuple[dict, str | None] | None:
    """(what ``submit_report`` answered, the receipt hash stored) for the request
    ``request_id``, if it filed a report."""
    if not request_id:
        return None
    row = session.execute(
        select(reports.c.pseudonym, reports.c.case_id, reports.c.enterprise_name,
               reports.c.received_at, reports.c.receipt_hash, cases.c.opened_at)
        .join(cases, cases.c.id == reports.c.case_id)
        .where(reports.c.request_id == request_id)).first()
    if row is None:
        return None
    received = as_utc(row.received_at)
    return ({"report": row.pseudonym, "case_id": row.case_id,
             "merged": as_utc(row.opened_at) != received,  # a new case opens with its report
             "enterprise": row.enterprise_name, "received_at": received}, row.receipt_hash)


def submit_report(uow, data: dict, informant_id: str, now: datetime,
                  receipt_hash: str | None = None, request_id: str | None = None) -> dict:
    """File a report: merge it into the open case of its risk or open a new case."""
    session = uow.session
    enterprise = resolve_enterprise(session, data)
    reward_version, _ = policy_in_force(session, "rewards", now)
    _grading_version, rules = policy_in_force(session, "grading", now)
    risk_key = f"{enterprise['key']}|{data['category']}"
    pseudonym = identity.new_pseudonym("R")
    open_risk = session.execute(
        select(open_risks).where(open_risks.c.risk_key == risk_key).with_for_update()
    ).first()
    window = timedelta(days=rules["merge_window_days"])
    if open_risk is not None and now - as_utc(open_risk.last_report_at) <= window:
        case_id = open_risk.case_id
        merged = True
    else:
        case_id = _new_id()
        merged = False
    if merged:
        _merge_into(uow, case_id, data, pseudonym, now)
        session.execute(update(open_risks).where(open_risks.c.risk_key == risk_key)
                        .values(last_report_at=now))
    else:
        _open_case(uow, case_id, risk_key, enterprise, data, rules, now, pseudonym)
        if open_risk is None:
            session.execute(insert(open_risks), {"risk_key": risk_key, "case_id": case_id,
                                                 "last_report_at": now})
        else:
            session.execute(update(open_risks).where(open_risks.c.risk_key == risk_key)
                            .values(case_id=case_id, last_report_at=now))
    report_id = _new_id()
    # Values as parameters of a constant statement (here and on the other hot inserts):
    # SQLAlchemy compiles it once instead of building and keying a new one per report.
    session.execute(insert(reports), dict(
        id=report_id, pseudonym=pseudonym, informant_id=informant_id, case_id=case_id,
        receipt_hash=receipt_hash, credit_code=enterprise["credit_code"],
        enterprise_name=enterprise["name"], address=enterprise["address"],
        community_code=enterprise["community_code"], category=data["category"],
        workers_affected=data["workers_affected"], amount_owed_fen=to_fen(data["amount_owed"]),
        expected_at=data.get("expected_at"), description=data["description"],
        reward_policy_version=reward_version, received_at=now, request_id=request_id,
    ))
    return {"report": pseudonym, "case_id": case_id, "merged": merged,
            "enterprise": enterprise["name"], "received_at": now}


def _open_case(uow, case_id, risk_key, enterprise, data, rules, now, pseudonym):
    session = uow.session
    path = enterprise["path"]
    row = {
        "id": case_id, "risk_key": risk_key, "enterprise_key": enterprise["key"],
        "credit_code": enterprise["credit_code"], "enterprise_name": enterprise["name"],
        "address": enterprise["address"], "community_code": enterprise["community_code"],
        "district_code": path[0] if path else None,
        "street_code": path[1] if len(path) > 1 else None, "path": path,
        "key_enterprise": enterprise["key_enterprise"], "category": data["category"],
        "workers_affected": data["workers_affected"],
        "amount_owed_fen": to_fen(data["amount_owed"]), "expected_at": data.get("expected_at"),
        "status": "reported", "reports_count": 1, "opened_at": now, "updated_at": now,
        "opened_year": now.astimezone(CHINA_TIME).year,
    }
    # Graded before it is written: the facts need nothing of the row but its values.
    row["grade"], row["grade_rule"] = policy.grade(
        rules, grading_facts(session, SimpleNamespace(**row), now))
    session.execute(insert(cases), row)
    _note(session, case_id, now, "opened", pseudonym,
          {"grade": row["grade"], "rule": row["grade_rule"], "category": data["category"],
           "workers_affected": data["workers_affected"],
           "amount_owed": from_fen(row["amount_owed_fen"])})
    uow.publish("case_opened", case_payload(SimpleNamespace(**row)), subject=case_id)


def _merge_into(uow, case_id, data, pseudonym, now):
    session = uow.session
    case = _case_row(session, case_id)
    expected = [d for d in (as_utc(case.expected_at), data.get("expected_at")) if d]
    session.execute(update(cases).where(cases.c.id == case_id).values(
        workers_affected=max(case.workers_affected, data["workers_affected"]),
        amount_owed_fen=max(case.amount_owed_fen, to_fen(data["amount_owed"])),
        expected_at=min(expected) if expected else None,
        reports_count=case.reports_count + 1, updated_at=now,
    ))
    _note(session, case_id, now, "report_merged", pseudonym,
          {"reports_in_case": case.reports_count + 1,
           "workers_affected": data["workers_affected"],
           "amount_owed": str(policy.yuan(data["amount_owed"]))})
    uow.publish("report_merged", {"case_id": case_id, "report_pseudonym": pseudonym,
                                  "reports_in_case": case.reports_count + 1},
                subject=case_id)
    _regrade(uow, case_id, now, pseudonym, "report merged")


def _case_row(session, case_id: str):
    row = session.execute(select(cases).where(cases.c.id == case_id)).first()
    if row is None:
        raise NotFound(f"no case {case_id}")
    return row


def _note(session, case_id, at, kind, actor, detail) -> None:
    session.execute(insert(timeline), {"case_id": case_id, "at": at, "kind": kind,
                                       "actor": actor, "detail": _jsonable(detail)})


def _jsonable(value):
    if isinstance(value, dict):
        return {key: _jsonable(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(item) for item in value]
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    return value


def enterprise_payload(case) -> dict:
    return {"credit_code": case.credit_code, "name": case.enterprise_name,
            "address": case.address, "community_code": case.community_code,
            "path": list(case.path), "key_enterprise": bool(case.key_enterprise)}


def case_payload(case) -> dict:
    """The ``case_opened`` payload (no informant, ever)."""
    return {"case_id": case.id, "grade": case.grade, "grade_rule": case.grade_rule,
            "category": case.category, "workers_affected": case.workers_affected,
            "amount_owed": from_fen(case.amount_owed_fen),
            "expected_at": as_utc(case.expected_at), "enterprise": enterprise_payload(case),
            "reported_at": as_utc(case.opened_at)}


# --- the standard process -------------------------------------------------------------

def change_status(uow, case_id: str, target: str, data: dict, actor: dict,
                  now: datetime) -> dict:
    """Move a case one step along the standard process (``data`` already validated)."""
    session = uow.session
    require_role(actor, WRITE_ROLES)
    case = _case_row(session, case_id)
    require_scope(actor, case.path)
    allowed = TRANSITIONS.get(case.status, ())
    if target not in allowed:
        raise Conflict(
            f"a {case.status} case cannot become {target}"
            + (f"; next: {', '.join(allowed)}" if allowed else "; it is finished"),
            {"status": case.status, "allowed": list(allowed)},
        )
    values = {"status": target, "updated_at": now}
    detail = {"status": target, "previous_status": case.status}
    if target == "verified":
        if data.get("workers_affected") is not None:
            values["workers_affected"] = data["workers_affected"]
        if data.get("amount_owed") is not None:
            values["amount_owed_fen"] = to_fen(data["amount_owed"])
    elif target == "handling":
        values.update(handled_by_tier=data["handled_by_tier"], joint=data["joint"],
                      departments=data.get("departments") or [])
        detail.update(handled_by_tier=data["handled_by_tier"], joint=data["joint"],
                      departments=data.get("departments") or [])
    elif target == "resolved":
        values.update(wages_recovered_fen=to_fen(data["wages_recovered"]),
                      workers_covered=data["workers_covered"], resolved_at=now)
        detail.update(wages_recovered=str(policy.yuan(data["wages_recovered"])),
                      workers_covered=data["workers_covered"])
    for key in ("note", "reason", "workers_affected", "amount_owed"):
        if data.get(key) is not None:
            detail[key] = data[key]
    session.execute(update(cases).where(cases.c.id == case_id).values(**values))
    if target in ("rejected", "resolved"):
        # A later report about the same risk opens a new case.
        session.execute(delete(open_risks).where(open_risks.c.case_id == case_id))
    _note(session, case_id, now, "status", actor["user"], detail)
    case = _case_row(session, case_id)
    uow.publish("case_status_changed", {
        "case_id": case_id, "status": target, "previous_status": detail["previous_status"],
        "at": now, "handled_by_tier": case.handled_by_tier, "joint": case.joint,
        "grade": case.grade, "enterprise": enterprise_payload(case),
    }, subject=case_id)
    if target == "verified":
        _regrade(uow, case_id, now, actor["user"], "verified figures")
    if target in policy.STAGES:
        compute_rewards(uow.session, case_id, target, now)
    return case_view(session, case_id, actor)


# --- enterprise visits ----------------------------------------------------------------

def record_visit(uow, data: dict, actor: dict, now: datetime) -> dict:
    """A visit, revisit or interview of the factory manager; it feeds the grading of the
    enterprise's open cases."""
    session = uow.session
    require_role(actor, WRITE_ROLES)
    enterprise = resolve_enterprise(session, data)
    require_scope(actor, enterprise["path"])
    if data.get("case_id"):
        case = _case_row(session, data["case_id"])
        if case.enterprise_key != enterprise["key"]:
            raise InvalidInput(f"case {case.id} is about another enterprise",
                               {"case_id": ["not a case of this enterprise"]})
    path = enterprise["path"]
    amount = data.get("amount_owed")
    visited_at = data.get("at") or now
    visit_id = session.execute(insert(visits).values(
        enterprise_key=enterprise["key"], credit_code=enterprise["credit_code"],
        enterprise_name=enterprise["name"], community_code=enterprise["community_code"],
        district_code=path[0] if path else None,
        street_code=path[1] if len(path) > 1 else None, path=path,
        case_id=data.get("case_id"), kind=data["kind"], at=visited_at,
        year=visited_at.astimezone(CHINA_TIME).year,
        irregular_practice=data["irregular_practice"],
        workers_affected=data.get("workers_affected"),
        amount_owed_fen=None if amount is None else to_fen(amount),
        findings=data["findings"], recorded_by=actor["user"],
    )).inserted_primary_key[0]
    open_ids = session.execute(select(cases.c.id).where(
        cases.c.enterprise_key == enterprise["key"], cases.c.status.in_(OPEN_STATUSES))
    ).scalars().all()
    for case_id in open_ids:
        if case_id == data.get("case_id"):
            case = _case_row(session, case_id)
            session.execute(update(cases).where(cases.c.id == case_id).values(
                workers_affected=max(case.workers_affected, data.get("workers_affected") or 0),
                amount_owed_fen=max(case.amount_owed_fen,
                                    0 if amount is None else to_fen(amount)),
                updated_at=now))
        _note(session, case_id, now, "visit", actor["user"],
              {"visit": visit_id, "kind": data["kind"],
               "irregular_practice": data["irregular_practice"], "findings": data["findings"]})
        _regrade(uow, case_id, now, actor["user"], f"{data['kind']} findings")
    return {"visit": visit_id, "enterprise": enterprise["name"], "cases": list(open_ids)}


# --- rewards --------------------------------------------------------------------------

def compute_rewards(session, case_id: str, stage: str, now: datetime) -> list[dict]:
    """Ledger entries for every report of the case at ``stage`` (once per report and
    stage), under the reward policy in force when each report came in."""
    case = _case_row(session, case_id)
    rows = session.execute(select(reports).where(reports.c.case_id == case_id)
                           .order_by(reports.c.received_at, reports.c.id)).all()
    bodies = {}
    credits = []
    for row in rows:
        version = row.reward_policy_version
        if version not in bodies:
            bodies[version] = policy_version(session, "rewards", version)
        credits.append(policy.ReportCredit(
            report_id=row.id, informant_id=row.informant_id,
            received_at=as_utc(row.received_at), expected_at=as_utc(row.expected_at),
            policy=bodies[version], policy_version=version))
    month = now.strftime("%Y-%m")
    entries = []
    for line in policy.reward_lines(stage, case.grade, case.category, credits):
        exists = session.execute(select(rewards.c.id).where(
            rewards.c.report_id == line.report_id, rewards.c.stage == stage)).first()
        if exists:
            continue
        already = session.execute(select(func.coalesce(func.sum(rewards.c.amount_fen), 0))
                                  .where(rewards.c.informant_id == line.informant_id,
                                         rewards.c.month == month)).scalar()
        cap = bodies[line.policy_version]["monthly_cap"]
        amount, cut = policy.apply_cap(line.amount, Decimal(already) / 100, cap)
        explanation = line.explanation + ([cut] if cut else [])
        session.execute(insert(rewards).values(
            informant_id=line.informant_id, report_id=line.report_id, case_id=case_id,
            stage=stage, amount_fen=to_fen(amount), policy_version=line.policy_version,
            explanation=explanation, month=month, status="pending", created_at=now))
        entries.append({"informant": line.informant_id, "amount": str(amount),
                        "explanation": explanation})
    if entries:
        _note(session, case_id, now, "rewards", None, {"stage": stage, "entries": entries})
    return entries


def _reward_row(session, reward_id: int):
    row = session.execute(select(rewards, cases.c.path).join(cases, cases.c.id ==
                                                             rewards.c.case_id)
                          .where(rewards.c.id == reward_id)).first()
    if row is None:
        raise NotFound(f"no reward {reward_id}")
    return row


def approve_reward(session, reward_id: int, actor: dict, now: datetime) -> dict:
    require_role(actor, ("admin",))
    row = _reward_row(session, reward_id)
    require_scope(actor, row.path)
    if row.status != "pending":
        raise Conflict(f"reward {reward_id} is {row.status}; only a pending one is approved")
    session.execute(update(rewards).where(rewards.c.id == reward_id)
                    .values(status="approved", approved_at=now, approved_by=actor["user"]))
    return reward_view(_reward_row(session, reward_id))


def pay_reward(session, reward_id: int, actor: dict, now: datetime) -> dict:
    """Mark an approved reward paid. Paying needs the informant's identity, so an audited
    reveal must have been made first (``reveal_identity``)."""
    require_role(actor, ("admin",))
    row = _reward_row(session, reward_id)
    require_scope(actor, row.path)
    if row.status != "approved":
        raise Conflict(f"reward {reward_id} is {row.status}; only an approved one is paid")
    if not identity.reveals(session, row.informant_id):
        raise Conflict(f"reveal informant {row.informant_id}'s identity first "
                       "(an audited request) to pay this reward",
                       {"informant": row.informant_id})
    session.execute(update(rewards).where(rewards.c.id == reward_id)
                    .values(status="paid", paid_at=now, paid_by=actor["user"]))
    return reward_view(_reward_row(session, reward_id))


def reward_view(row) -> dict:
    return {"id": row.id, "informant": row.informant_id, "case_id": row.case_id,
            "stage": row.stage, "amount": from_fen(row.amount_fen),
            "policy_version": row.policy_version, "explanation": list(row.explanation),
            "status": row.status, "month": row.month, "created_at": as_utc(row.created_at),
            "approved_at": as_utc(row.approved_at), "paid_at": as_utc(row.paid_at)}


def list_rewards(session, actor: dict, status: str | None = None, limit=100,
                 offset=0) -> list[dict]:
    query = (select(rewards, cases.c.path).join(cases, cases.c.id == rewards.c.case_id)
             .where(_scope_clause(cases, actor["organization_code"])))
    if status:
        query = query.where(rewards.c.status == status)
    rows = session.execute(query.order_by(rewards.c.id).limit(limit).offset(offset))
    return [reward_view(row) for row in rows]


def informant_rewards(session, informant_id: str, report_id: str | None = None) -> list[dict]:
    """An informant's own ledger (or one report's entries): nobody else's."""
    query = (select(rewards, cases.c.path, reports.c.pseudonym)
             .join(cases, cases.c.id == rewards.c.case_id)
             .join(reports, reports.c.id == rewards.c.report_id)
             .where(rewards.c.informant_id == informant_id))
    if report_id:
        query = query.where(rewards.c.report_id == report_id)
    return [dict(reward_view(row), report=row.pseudonym)
            for row in session.execute(query.order_by(rewards.c.id))]


def reveal_identity(session, informant_id: str, reason: str, actor: dict,
                    now: datetime, keys) -> dict:
    """Audited: only an admin whose subtree holds one of the informant's cases (or an
    officer's organization) may see who they are."""
    paths = [list(path) for path in session.execute(
        select(cases.c.path).join(reports, reports.c.case_id == cases.c.id)
        .where(reports.c.informant_id == informant_id)).scalars()]
    officer_org = session.execute(select(informants.c.organization_code).where(
        informants.c.id == informant_id)).scalar()
    if officer_org:
        org_path = session.execute(select(organizations.c.path).where(
            organizations.c.code == officer_org)).scalar()
        paths.append(list(org_path or [officer_org]))
    if paths and not any(actor["organization_code"] in path for path in paths):
        raise Forbidden(f"informant {informant_id} is outside the subtree of "
                        f"{actor['organization_code']}")
    return identity.reveal_identity(session, keys, informant_id, actor, reason, now)


# --- acknowledgements from notifications ----------------------------------------------

def apply_acknowledgement(session, data: dict) -> bool:
    exists = session.execute(select(cases.c.id).where(cases.c.id == data["case_id"])).first()
    if not exists:
        return False
    _note(session, data["case_id"], data["at"], "acknowledged", data.get("by"),
          {"organization_code": data["organization_code"]})
    return True


# --- views ----------------------------------------------------------------------------

def case_summary(case) -> dict:
    return {
        "id": case.id, "status": case.status, "grade": case.grade,
        "grade_rule": case.grade_rule, "category": case.category,
        "workers_affected": case.workers_affected,
        "amount_owed": from_fen(case.amount_owed_fen), "expected_at": as_utc(case.expected_at),
        "enterprise": enterprise_payload(case), "reports": case.reports_count,
        "handled_by_tier": case.handled_by_tier, "joint": case.joint,
        "departments": case.departments, "wages_recovered": from_fen(case.wages_recovered_fen),
        "workers_covered": case.workers_covered, "opened_at": as_utc(case.opened_at),
        "updated_at": as_utc(case.updated_at), "resolved_at": as_utc(case.resolved_at),
    }


def case_view(session, case_id: str, actor: dict) -> dict:
    """Everything about a case staff may see: pseudonyms only, never an identity."""
    case = _case_row(session, case_id)
    require_scope(actor, case.path)
    view = case_summary(case)
    view["report_list"] = [
        {"pseudonym": r.pseudonym, "informant": r.informant_id,
         "received_at": as_utc(r.received_at), "workers_affected": r.workers_affected,
         "amount_owed": from_fen(r.amount_owed_fen), "expected_at": as_utc(r.expected_at),
         "description": r.description}
        for r in session.execute(select(reports).where(reports.c.case_id == case_id)
                                 .order_by(reports.c.received_at, reports.c.id))]
    view["timeline"] = [
        {"at": as_utc(t.at), "kind": t.kind, "actor": t.actor, "detail": t.detail}
        for t in session.execute(select(timeline).where(timeline.c.case_id == case_id)
                                 .order_by(timeline.c.id))]
    view["rewards"] = [reward_view(r) for r in session.execute(
        select(rewards).where(rewards.c.case_id == case_id).order_by(rewards.c.id))]
    return view


def list_cases(session, actor: dict, filters: dict) -> list[dict]:
    query = select(cases).where(_scope_clause(cases, actor["organization_code"]))
    for name in ("status", "grade", "category", "community_code", "street_code"):
        if filters.get(name):
            query = query.where(getattr(cases.c, name) == filters[name])
    query = query.order_by(cases.c.opened_at.desc(), cases.c.id).limit(
        filters.get("limit", 50)).offset(filters.get("offset", 0))
    return [case_summary(row) for row in session.execute(query)]


def report_by_receipt(session, code: str, run=None):
    row = session.execute(select(reports).where(
        reports.c.receipt_hash == identity.receipt_hash(session, code, run))).first()
    if row is None:
        raise NotFound("no report has this receipt code")
    return row


def receipt_status(session, code: str, run=None) -> dict:
    """What an anonymous informant may see: their report's progress and reward."""
    report = report_by_receipt(session, code, run)
    case = _case_row(session, report.case_id)
    steps = [{"at": as_utc(t.at), "status": t.detail.get("status")}
             for t in session.execute(select(timeline).where(
                 timeline.c.case_id == case.id, timeline.c.kind == "status")
                 .order_by(timeline.c.id))]
    return {"report": report.pseudonym, "received_at": as_utc(report.received_at),
            "enterprise": report.enterprise_name, "category": report.category,
            "status": case.status, "steps": steps,
            "rewards": informant_rewards(session, report.informant_id, report.id)}


def officer_reports(session, informant_id: str, limit=50, offset=0) -> list[dict]:
    rows = session.execute(
        select(reports.c.pseudonym, reports.c.received_at, reports.c.enterprise_name,
               reports.c.category, cases.c.status)
        .join(cases, cases.c.id == reports.c.case_id)
        .where(reports.c.informant_id == informant_id)
        .order_by(reports.c.received_at.desc()).limit(limit).offset(offset))
    return [{"report": r.pseudonym, "received_at": as_utc(r.received_at),
             "enterprise": r.enterprise_name, "category": r.category, "status": r.status}
            for r in rows]
