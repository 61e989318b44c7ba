"""Disputes use cases: each takes a unit of work ``uow`` (``shared.db``), checks who may
do it, applies the rules in ``domain`` and ``policy`` to the tables and publishes what
happened (``uow.publish``: the outbox, committed with the change).

No nameko here: the service passes its database access (``db``: sessions and units of
work) where a use case needs more than one transaction (filing a report), its rate
limits and keys, and how to run a slow hash off the event loop.
"""

import logging
import time
from datetime import datetime, timedelta
from decimal import Decimal
from types import SimpleNamespace

from sqlalchemy import bindparam, delete, func, insert, literal, select, update
from sqlalchemy.exc import IntegrityError

from services.disputes import domain, policy, readmodel, views
from services.disputes.models import (
    cases,
    identities,
    identity_reveals,
    informants,
    open_risks,
    policies,
    rate_hits,
    reports,
    rewards,
    timeline,
    visits,
)
from shared import idempotency, ratelimit
from shared.caller import WRITE, Caller, in_scope, require, require_admin, require_district_admin
from shared.errors import Conflict, Forbidden, InvalidInput, NotFound
from shared.metrics import REPORTS_FILED
from shared.timeutil import as_utc, now_utc

log = logging.getLogger(__name__)


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
        cached = _VERSIONS[key] = (time.monotonic(),
                                   [(as_utc(e), v) for e, v in rows])
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


def publish_policy(uow, kind, body, effective_from, caller: Caller, now) -> dict:
    """Store a new version of a policy; the body must validate."""
    session = uow.session
    require_district_admin(caller, readmodel.registry.caller_path(session, caller),
                           "publish a policy")
    try:
        policy.load(kind, body)
    except policy.ValidationError as exc:
        raise InvalidInput(f"the {kind} policy was rejected", exc.messages) from None
    version = (session.execute(
        select(func.max(policies.c.version)).where(policies.c.kind == kind)
    ).scalar() or 0) + 1
    session.execute(insert(policies).values(
        kind=kind, version=version, effective_from=effective_from, body=body,
        published_by=caller.name, published_at=now,
    ))
    _VERSIONS.pop((session.get_bind(), kind), None)  # this replica sees it at once
    return {"kind": kind, "version": version}


# --- recorded times -------------------------------------------------------------------

def recorded_at(session, caller: Caller, at: datetime, now: datetime) -> datetime:
    """``at`` as the time a report or step is recorded at instead of ``now``: the past
    entered later (the sample, a district's archive), which only the district's admins
    may write, and never a time to come."""
    require_district_admin(caller, readmodel.registry.caller_path(session, caller),
                           "record the past")
    return domain.checked_time(at, now, "at")


# --- rate limits ----------------------------------------------------------------------

def check_rate(session, limits: list[tuple[str, str, int, int]], now: datetime) -> None:
    """Reports per officer and per source address, receipt lookups per source:
    ``shared.ratelimit.check_rate`` on this service's own ``rate_hits``."""
    ratelimit.check_rate(session, rate_hits, limits, now, "reports")


def count_receipt_lookup(uow, source: str | None, limits: dict, now: datetime) -> None:
    """Receipt codes must not be guessable by brute force: lookups count per source."""
    source_key = views.source_hash(uow.session, source)
    if source_key:
        check_rate(uow.session, [("lookup", f"lookup:{source_key}", *limits["lookup"])], now)


def purge_rate_hits(uow, now: datetime) -> int:
    return ratelimit.purge_rate_hits(uow.session, rate_hits, now - domain.RATE_HIT_KEEP)


# --- informants -----------------------------------------------------------------------

def register_informant(session, kind, now, organization_code=None, identity=None,
                       with_token=False, keys=None, sealed_identity=None, token_hash=None):
    """A new informant; returns (pseudonym, token or None). The token is shown once.
    ``sealed_identity`` (the gateway's seal, ``shared.sealing``) or a clear ``identity``
    ({"real_name", "phone"}, the CLI's and the sample's) is stored sealed with ``keys``
    (``load_keys``). ``token_hash``: of a token the gateway made and shows."""
    pseudonym = domain.new_pseudonym("I")
    token = domain.new_token() if with_token else None
    if token:
        token_hash = domain.token_hash(token)
    session.execute(insert(informants).values(
        id=pseudonym, kind=kind, organization_code=organization_code,
        token_hash=token_hash, active=True, created_at=now,
    ))
    sealed = None
    if sealed_identity:
        sealed = lambda: domain.store_sealed(keys, pseudonym, sealed_identity)  # noqa: E731
    elif identity and identity.get("real_name"):
        sealed = lambda: domain.seal_identity(keys, pseudonym,  # noqa: E731
                                              identity["real_name"], identity.get("phone"))
    if sealed:
        if keys is None:
            raise ValueError("an identity is stored only sealed: pass the keys")
        session.execute(insert(identities).values(informant_id=pseudonym, sealed=sealed()))
    return pseudonym, token


def register_officer(uow, officer: dict, caller: Caller, now: datetime, keys) -> dict:
    """An information officer of an organization in the caller's subtree (``officer``:
    ``SealedOfficerSchema``: the gateway made the token and sealed the identity)."""
    require(caller, WRITE)
    organization = readmodel.registry.known_organization(uow.session,
                                                         officer["organization_code"])
    require(caller, WRITE, organization["path"], what=f"organization {organization['code']}")
    informant, _ = register_informant(uow.session, "officer", now, organization["code"],
                                      sealed_identity=officer["sealed_identity"],
                                      token_hash=officer["token_hash"], keys=keys)
    return {"informant": informant, "organization_code": organization["code"]}


def revoke_officer(uow, informant_id: str, caller: Caller) -> dict:
    session = uow.session
    require(caller, WRITE)
    row = session.execute(select(informants).where(informants.c.id == informant_id,
                                                   informants.c.kind == "officer")).first()
    if row is None:
        raise NotFound(f"no information officer {informant_id}")
    organization = readmodel.registry.known_organization(session, row.organization_code)
    require(caller, WRITE, organization["path"], what=f"officer {informant_id}")
    session.execute(update(informants).where(informants.c.id == informant_id)
                    .values(active=False))
    return {"informant": informant_id, "active": False}


def reveal_identity(uow, informant_id: str, reason: str, caller: Caller, now: datetime,
                    keys) -> dict:
    """The real name and phone behind a pseudonym, audited: only an admin whose subtree
    holds one of the informant's cases (or an officer's organization) may see who they
    are, and the audit row commits with the answer."""
    session = uow.session
    paths = [list(path) for path in session.execute(
        select(cases.c.path).join(reports, reports.c.case_id == cases.c.id)
        .where(reports.c.informant_id == informant_id)).scalars()]
    officer_org = session.execute(select(informants.c.organization_code).where(
        informants.c.id == informant_id)).scalar()
    if officer_org:
        organization = readmodel.registry.organization(session, officer_org)
        paths.append(list(organization["path"]) if organization else [officer_org])
    if paths and not any(in_scope(caller, path) for path in paths):
        raise Forbidden(f"informant {informant_id} is outside the subtree of "
                        f"{caller.organization_code}",
                        {"organization_code": caller.organization_code})
    reason = domain.check_reveal(caller, reason)
    informant = session.execute(
        select(informants).where(informants.c.id == informant_id)
    ).first()
    if informant is None:
        raise NotFound(f"no informant {informant_id}")
    sealed = session.execute(
        select(identities.c.sealed).where(identities.c.informant_id == informant_id)
    ).scalar()
    if sealed is None:
        raise NotFound(f"informant {informant_id} left no identity (anonymous report)")
    clear = domain.open_identity(keys, informant_id, sealed)  # both seals: see domain
    session.execute(insert(identity_reveals).values(
        informant_id=informant_id, requested_by=caller.name, role=caller.role,
        organization_code=caller.organization_code, reason=reason, at=now,
    ))
    return {"informant": informant_id, **clear}


# --- filing a report, once per request ------------------------------------------------

# An anonymous informant who sees no answer (a bad connection) sends again at once; one
# who sends the same weeks later is telling of it again.
RESUBMISSION_WINDOW = timedelta(minutes=10)


def file_report(db, report: dict, *, officer_token_hash=None, source=None,
                request_id=None, receipt_ref=None, idempotency_ref=None, resubmission=None,
                limits: dict, keys, dump, run_slow=None) -> dict:
    """File ``report`` (loaded by the contract's schema): the caller's ids checked, the
    receipt hashed, the rate limits counted, then ``submit_report`` in one unit of work;
    the answer as ``dump`` makes it (``ReportFiledSchema().dump``).

    ``request_id``: the caller's id for this submission; sent again (the broker
    delivering the request twice, even after a restart or to another replica) it
    answers with the report already filed. ``idempotency_ref``: the client's
    ``Idempotency-Key`` (``shared.idempotency``): kept with the report and its answer, so
    a retry gets that answer and the key with another report is a 422.
    ``receipt_ref``: for an anonymous report, the gateway's keyed hash of a code it made
    and keeps (``receipt`` in the answer says the report was filed with it, so the gateway
    may show the code; without one, a code is made here and never shown).
    ``resubmission``: for an anonymous report, the gateway's keyed hash of the client and
    the report as sent: the same within ``RESUBMISSION_WINDOW`` of the first is answered
    ``already_received`` (``AlreadyReceivedSchema``), files nothing and counts nothing.
    ``officer_token_hash``, ``source``: hashes the gateway made (``shared.api.disputes``).
    ``limits``: scope -> (hits, window seconds). ``run_slow(fn, *args)`` runs the Argon2
    hash."""
    now = now_utc()
    officer_token = officer_token_hash
    receipt = receipt_hash = None
    if officer_token and report.get("sealed_identity"):
        raise InvalidInput("an officer's identity is on file; send no identity",
                           {"identity": ["only for anonymous reports"]})
    if officer_token and (receipt_ref or resubmission):
        raise InvalidInput("an officer's report has no receipt code",
                           {"receipt_code": ["only for anonymous reports"]})
    if not officer_token:
        receipt = receipt_ref or domain.new_receipt_code()
        # The slow hash runs outside the write transaction (the service runs it in a real
        # thread: Argon2 releases the GIL, and green threads keep running meanwhile).
        with db.session() as session:
            receipt_hash = views.receipt_hash(session, receipt, run_slow)
    for attempt in (1, 2):
        try:
            with db.unit_of_work() as uow:
                kept = idempotency.replay(uow.session, idempotency_ref, now)
                if kept is not None:
                    return kept
                # A redelivered request (the same request id) is answered as the first
                # time, receipt included; only a new request with the same report is a
                # resubmission.
                filed, officer = filed_and_officer(uow.session, request_id, officer_token)
                if filed is None and attempt == 2 and receipt_hash:
                    # The collision may be this code's: one made from an Idempotency-Key
                    # and its request, sent again after the key's answer expired. It is
                    # that report (the same request), answered as the first time.
                    filed = filed_with_receipt(uow.session, receipt_hash)
                if filed is None:
                    first = resubmitted(uow.session, resubmission, now)
                    if first is not None:
                        log.info("an anonymous report sent again; not filed a second time")
                        return dump({"already_received": True, "enterprise": first})
                fresh = filed is None
                if fresh:
                    officer = views.active_officer(officer) if officer_token else None
                    filed = (_file(uow, report, officer, source, now, receipt_hash,
                                   request_id, resubmission, limits, keys), receipt_hash)
                result, filed_hash = filed
                # Only for the code this report was filed with, and only a ref the gateway
                # sent.
                result["receipt"] = bool(receipt_ref) and filed_hash == receipt_hash
                answer = dump(result)
                idempotency.remember(uow.session, idempotency_ref, answer, now)
            if fresh:  # counted once committed: a resent request is the same report
                REPORTS_FILED.labels(db.source, "officer" if officer_token else "anonymous",
                                     "merged" if result["merged"] else "opened").inc()
            return answer
        except IntegrityError:
            # Another replica opened a case for the same risk at the same moment (the
            # second try merges into it), or filed this very request (the second try
            # answers with that report).
            if attempt == 2:
                raise Conflict("the report collided with another; send it again") from None
            log.info("a report collided with another on the same risk; merging")


def resubmitted(session, resubmission: str | None, now: datetime) -> str | None:
    """The enterprise of the report filed with ``resubmission`` within the window, if
    one was."""
    if not resubmission:
        return None
    return session.execute(
        select(reports.c.enterprise_name)
        .where(reports.c.resubmission_hash == resubmission,
               reports.c.received_at >= now - RESUBMISSION_WINDOW).limit(1)).scalar()


def _file(uow, report, officer, source, now, receipt_hash, request_id, resubmission,
          limits, keys):
    """``officer``: the active officer filing it (its informants row), None for an
    anonymous informant."""
    session = uow.session
    counted = []
    if officer:
        counted.append(("officer", f"officer:{officer.id}", *limits["officer"]))
    source_key = views.source_hash(session, source)
    if source_key:
        counted.append(("source", f"source:{source_key}", *limits["source"]))
    check_rate(session, counted, now)
    if officer:
        informant = officer.id
    else:
        informant, _ = register_informant(session, "anonymous", now,
                                          sealed_identity=report.get("sealed_identity"),
                                          identity=report.get("identity"), keys=keys)
    return submit_report(uow, report, informant, now, receipt_hash, request_id, resubmission)


# One statement on the hot path for what two lookups would ask: the one-row select always
# answers a row, with the officer's columns empty for an unknown token (or an anonymous
# informant) and the report's empty for a request that filed nothing yet.
_FILED_AND_OFFICER = (
    select(informants.c.id, informants.c.active, reports.c.pseudonym, reports.c.case_id,
           reports.c.enterprise_name, reports.c.received_at, reports.c.receipt_hash,
           cases.c.opened_at)
    .select_from(select(literal(1).label("one")).subquery())
    .outerjoin(informants, informants.c.token_hash == bindparam("token_hash"))
    .outerjoin(reports, reports.c.request_id == bindparam("request_id"))
    .outerjoin(cases, cases.c.id == reports.c.case_id)
)


def filed_and_officer(session, request_id: str | None, officer_token: str | None):
    """((what ``submit_report`` answered, the receipt hash stored) for the request
    ``request_id`` if it filed a report, else None; the informants row whose token
    hashes to ``officer_token`` if there is one, else None)."""
    if not request_id and not officer_token:
        return None, None
    row = session.execute(_FILED_AND_OFFICER, {"request_id": request_id,
                                               "token_hash": officer_token}).one()
    officer = SimpleNamespace(id=row.id, active=row.active) if row.id is not None else None
    if row.case_id is None:
        return None, officer
    return _filed(row), officer


_FILED_WITH_RECEIPT = (
    select(reports.c.pseudonym, reports.c.case_id, reports.c.enterprise_name,
           reports.c.received_at, reports.c.receipt_hash, cases.c.opened_at)
    .join(cases, cases.c.id == reports.c.case_id)
    .where(reports.c.receipt_hash == bindparam("receipt_hash"))
)


def filed_with_receipt(session, receipt_hash: str):
    """``filed_and_officer``'s first answer for the report filed with ``receipt_hash``."""
    row = session.execute(_FILED_WITH_RECEIPT, {"receipt_hash": receipt_hash}).first()
    return None if row is None else _filed(row)


def _filed(row):
    """(what ``submit_report`` answered, the receipt hash stored) of a filed report."""
    received = as_utc(row.received_at)
    return ({"report": row.pseudonym, "case_id": row.case_id,
             "merged": as_utc(row.opened_at) != received,  # a new case opens with it
             "enterprise": row.enterprise_name, "received_at": received},
            row.receipt_hash)


# Locked, so that reports of one risk at once merge one after another. Built once.
_OPEN_RISK = select(open_risks).where(open_risks.c.risk_key == bindparam("risk_key")) \
    .with_for_update()


def submit_report(uow, data: dict, informant_id: str, now: datetime,
                  receipt_hash: str | None = None, request_id: str | None = None,
                  resubmission: str | None = None) -> dict:
    """File a report: merge it into the open case of its risk or open a new case."""
    session = uow.session
    enterprise = readmodel.resolve_enterprise(session, data)
    reward_version, _ = policy_in_force(session, "rewards", now)
    _grading_version, rules = policy_in_force(session, "grading", now)
    risk_key = f"{enterprise['key']}|{data['category']}"
    pseudonym = domain.new_pseudonym("R")
    open_risk = session.execute(_OPEN_RISK, {"risk_key": risk_key}).first()
    window = timedelta(days=rules["merge_window_days"])
    if open_risk is not None and now - as_utc(open_risk.last_report_at) <= window:
        case_id = open_risk.case_id
        merged = True
    else:
        case_id = domain.new_id()
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
    report_id = domain.new_id()
    # Values as parameters of a constant statement (here and on the other hot inserts):
    # SQLAlchemy compiles it once instead of building and keying a new one per report.
    session.execute(insert(reports), dict(
        id=report_id, pseudonym=pseudonym, informant_id=informant_id, case_id=case_id,
        receipt_hash=receipt_hash, credit_code=enterprise["credit_code"],
        enterprise_name=enterprise["name"], address=enterprise["address"],
        community_code=enterprise["community_code"], category=data["category"],
        workers_affected=data["workers_affected"],
        amount_owed_fen=domain.to_fen(data["amount_owed"]),
        expected_at=data.get("expected_at"), description=data["description"],
        reward_policy_version=reward_version, received_at=now, request_id=request_id,
        resubmission_hash=resubmission,
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
        "amount_owed_fen": domain.to_fen(data["amount_owed"]),
        "expected_at": data.get("expected_at"),
        "status": "reported", "reports_count": 1, "opened_at": now, "updated_at": now,
        "opened_year": now.astimezone(domain.CHINA_TIME).year,
    }
    # Graded before it is written: the facts need nothing of the row but its values.
    row["grade"], row["grade_rule"] = policy.grade(
        rules, grading_facts(session, SimpleNamespace(**row), now))
    session.execute(insert(cases), row)
    _note(session, case_id, now, "opened", pseudonym,
          {"grade": row["grade"], "rule": row["grade_rule"], "category": data["category"],
           "workers_affected": data["workers_affected"],
           "amount_owed": domain.from_fen(row["amount_owed_fen"])})
    uow.publish("case_opened", domain.case_payload(SimpleNamespace(**row)), subject=case_id)


def _merge_into(uow, case_id, data, pseudonym, now):
    session = uow.session
    case = views.case_row(session, case_id)
    expected = [d for d in (as_utc(case.expected_at), data.get("expected_at")) if d]
    session.execute(update(cases).where(cases.c.id == case_id).values(
        workers_affected=max(case.workers_affected, data["workers_affected"]),
        amount_owed_fen=max(case.amount_owed_fen, domain.to_fen(data["amount_owed"])),
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


def _note(session, case_id, at, kind, actor, detail) -> None:
    """A line in the case timeline (``actor``: a staff user or a pseudonym, never a
    name)."""
    session.execute(insert(timeline), {"case_id": case_id, "at": at, "kind": kind,
                                       "actor": actor, "detail": domain.jsonable(detail)})


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
        "since": now - domain.IRREGULAR_LOOKBACK}).one()
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
    case = views.case_row(session, case_id)
    _version, rules = policy_in_force(session, "grading", now)
    new_grade, rule = policy.grade(rules, grading_facts(session, case, now))
    if not domain.grade_rises(case.grade, new_grade):
        return
    previous = case.grade
    session.execute(update(cases).where(cases.c.id == case_id)
                    .values(grade=new_grade, grade_rule=rule, updated_at=now))
    _note(session, case_id, now, "regraded", actor,
          {"grade": new_grade, "previous_grade": previous, "rule": rule, "why": why})
    payload = dict(domain.case_payload(views.case_row(session, case_id)),
                   previous_grade=previous)
    uow.publish("case_regraded", payload, subject=case_id)


# --- the standard process -------------------------------------------------------------

def change_status(uow, case_id: str, target: str, data: dict, caller: Caller,
                  now: datetime) -> dict:
    """Move a case one step along the standard process (``data`` loaded by the step's
    schema); answers the case as ``views.case_view`` shows it."""
    advance(uow, case_id, target, data, caller, now)
    return views.case_view(uow.session, case_id, caller)


def advance(uow, case_id: str, target: str, data: dict, caller: Caller,
            now: datetime) -> None:
    """``change_status`` without the answer (the sample moves thousands of cases)."""
    session = uow.session
    case = views.visible_case(session, case_id, caller, WRITE)
    domain.check_step(case.status, target)
    values = {"status": target, "updated_at": now}
    detail = {"status": target, "previous_status": case.status}
    if target == "verified":
        if data.get("workers_affected") is not None:
            values["workers_affected"] = data["workers_affected"]
        if data.get("amount_owed") is not None:
            values["amount_owed_fen"] = domain.to_fen(data["amount_owed"])
    elif target == "handling":
        values.update(handled_by_tier=data["handled_by_tier"], joint=data["joint"],
                      departments=data.get("departments") or [])
        detail.update(handled_by_tier=data["handled_by_tier"], joint=data["joint"],
                      departments=data.get("departments") or [])
    elif target == "resolved":
        values.update(wages_recovered_fen=domain.to_fen(data["wages_recovered"]),
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
    _note(session, case_id, now, "status", caller.name, detail)
    case = views.case_row(session, case_id)
    uow.publish("case_status_changed", {
        "case_id": case_id, "status": target, "previous_status": detail["previous_status"],
        "at": now, "handled_by_tier": case.handled_by_tier, "joint": case.joint,
        "grade": case.grade, "enterprise": domain.enterprise_payload(case),
    }, subject=case_id)
    if target == "verified":
        _regrade(uow, case_id, now, caller.name, "verified figures")
    if target in policy.STAGES:
        compute_rewards(uow.session, case_id, target, now)


# --- enterprise visits ----------------------------------------------------------------

def record_visit(uow, data: dict, caller: Caller, now: datetime) -> dict:
    """A visit, revisit or interview of the factory manager; it feeds the grading of the
    enterprise's open cases."""
    session = uow.session
    require(caller, WRITE)
    enterprise = readmodel.resolve_enterprise(session, data)
    require(caller, WRITE, enterprise["path"], what=f"enterprise {enterprise['name']}")
    if data.get("case_id"):
        case = views.case_row(session, data["case_id"])
        if case.enterprise_key != enterprise["key"]:
            raise InvalidInput(f"case {case.id} is about another enterprise",
                               {"case_id": ["not a case of this enterprise"]})
    path = enterprise["path"]
    amount = data.get("amount_owed")
    visited_at = domain.checked_time(data["at"], now, "at") if data.get("at") else now
    visit_id = session.execute(insert(visits).values(
        enterprise_key=enterprise["key"], credit_code=enterprise["credit_code"],
        enterprise_name=enterprise["name"], community_code=enterprise["community_code"],
        district_code=path[0] if path else None,
        street_code=path[1] if len(path) > 1 else None, path=path,
        case_id=data.get("case_id"), kind=data["kind"], at=visited_at,
        year=visited_at.astimezone(domain.CHINA_TIME).year,
        irregular_practice=data["irregular_practice"],
        workers_affected=data.get("workers_affected"),
        amount_owed_fen=None if amount is None else domain.to_fen(amount),
        findings=data["findings"], recorded_by=caller.name,
    )).inserted_primary_key[0]
    open_ids = session.execute(select(cases.c.id).where(
        cases.c.enterprise_key == enterprise["key"],
        cases.c.status.in_(domain.OPEN_STATUSES))).scalars().all()
    for case_id in open_ids:
        if case_id == data.get("case_id"):
            case = views.case_row(session, case_id)
            session.execute(update(cases).where(cases.c.id == case_id).values(
                workers_affected=max(case.workers_affected, data.get("workers_affected") or 0),
                amount_owed_fen=max(case.amount_owed_fen,
                                    0 if amount is None else domain.to_fen(amount)),
                updated_at=now))
        _note(session, case_id, now, "visit", caller.name,
              {"visit": visit_id, "kind": data["kind"],
               "irregular_practice": data["irregular_practice"], "findings": data["findings"]})
        _regrade(uow, case_id, now, caller.name, f"{data['kind']} findings")
    return {"visit": visit_id, "enterprise": enterprise["name"], "cases": list(open_ids)}


# --- rewards --------------------------------------------------------------------------

def compute_rewards(session, case_id: str, stage: str, now: datetime) -> list[dict]:
    """Ledger entries for every report of the case at ``stage`` (once per report and
    stage), under the reward policy in force when each report came in."""
    case = views.case_row(session, case_id)
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
            received_at=as_utc(row.received_at),
            expected_at=as_utc(row.expected_at),
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
            stage=stage, amount_fen=domain.to_fen(amount),
            policy_version=line.policy_version, explanation=explanation, month=month,
            status="pending", created_at=now))
        entries.append({"informant": line.informant_id, "amount": str(amount),
                        "explanation": explanation})
    if entries:
        _note(session, case_id, now, "rewards", None, {"stage": stage, "entries": entries})
    return entries


def _reward_to(uow, reward_id: int, caller: Caller, act: str, status: str,
               rule: str):
    """The ``status`` reward an admin of its subtree is about to ``act`` on."""
    require_admin(caller, f"{act} a reward")
    row = views.reward_row(uow.session, reward_id)
    require(caller, WRITE, row.path, what=f"reward {reward_id}")
    if row.status != status:
        raise Conflict(f"reward {reward_id} is {row.status}; {rule}")
    return row


def approve_reward(uow, reward_id: int, caller: Caller, now: datetime) -> dict:
    _reward_to(uow, reward_id, caller, "approve", "pending",
               "only a pending one is approved")
    uow.session.execute(update(rewards).where(rewards.c.id == reward_id).values(
        status="approved", approved_at=now, approved_by=caller.name))
    return views.reward_view(views.reward_row(uow.session, reward_id))


def pay_reward(uow, reward_id: int, caller: Caller, now: datetime) -> dict:
    """Mark an approved reward paid. Paying needs the informant's identity, so an audited
    reveal must have been made first (``reveal_identity``)."""
    row = _reward_to(uow, reward_id, caller, "pay", "approved",
                     "only an approved one is paid")
    if not views.reveals(uow.session, row.informant_id):
        raise Conflict(f"reveal informant {row.informant_id}'s identity first "
                       "(an audited request) to pay this reward",
                       {"informant": row.informant_id})
    uow.session.execute(update(rewards).where(rewards.c.id == reward_id).values(
        status="paid", paid_at=now, paid_by=caller.name))
    return views.reward_view(views.reward_row(uow.session, reward_id))
