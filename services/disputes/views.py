"""Reads shaped for callers: cases, rewards, an informant's own reports, policies and the
statistics, each within the caller's subtree. Pseudonyms only: no view holds an
informant's name or phone.

Also the few reads the use cases share with them: a case row, an officer by token, the
deployment's hashing salts.
"""

from datetime import timedelta
from decimal import ROUND_HALF_UP, Decimal
from types import SimpleNamespace

from sqlalchemy import bindparam, distinct, func, or_, select

from services.disputes import domain, readmodel
from services.disputes.models import (
    cases,
    identity_reveals,
    informants,
    policies,
    reports,
    rewards,
    settings,
    timeline,
    visits,
)
from shared.caller import READ, Caller, in_scope, require, require_permission
from shared.db import read_once
from shared.errors import NotFound, Unauthorized
from shared.events.disputes import GRADES
from shared.metrics import CASES_OPEN, set_by_label
from shared.paging import DEFAULT_LIMIT, keyset_page
from shared.timeutil import as_utc

# --- the deployment's salts -----------------------------------------------------------

_SALTS = {}  # made once by the first migration, never changed


def _salt(session, key: str) -> bytes:
    def read(session):
        row = session.execute(select(settings.c.value).where(settings.c.key == key)).first()
        if row is None:
            raise RuntimeError(f"setting {key} is missing: run the disputes migrations")
        return bytes.fromhex(row.value)

    return read_once(session, _SALTS, key, read)


def receipt_hash(session, code: str, run=None) -> str:
    """Argon2id of a receipt code. ``run(fn, *args)`` may move the tens of milliseconds of
    hashing off the caller's thread (the service passes eventlet's thread pool)."""
    salt = _salt(session, "receipt_salt")
    if run is None:
        return domain.argon2(code, salt)
    return run(domain.argon2, code, salt)


def source_hash(session, source: str | None) -> str | None:
    if not source:
        return None
    return domain.salted_sha256(_salt(session, "source_salt"), source)


# --- informants -----------------------------------------------------------------------

def officer_by_token(session, token_hash: str):
    """The officer whose token hashes to ``token_hash`` (the gateway hashed it)."""
    if not token_hash:
        raise Unauthorized("an information officer's token is required")
    return active_officer(session.execute(
        select(informants).where(informants.c.token_hash == token_hash)
    ).first())


def active_officer(row):
    """``row`` (an informant found by token), unless there is none or it was revoked."""
    if row is None or not row.active:
        raise Unauthorized("unknown or revoked information officer token")
    return row


def reveals(session, informant_id: str) -> list[dict]:
    """The audit of an informant's reveals."""
    rows = session.execute(
        select(identity_reveals).where(identity_reveals.c.informant_id == informant_id)
        .order_by(identity_reveals.c.id)
    )
    return [{"requested_by": r.requested_by, "role": r.role,
             "organization_code": r.organization_code, "reason": r.reason, "at": r.at}
            for r in rows]


def report_by_receipt(session, code: str, run=None):
    row = session.execute(select(reports).where(
        reports.c.receipt_hash == receipt_hash(session, code, run))).first()
    if row is None:
        raise NotFound("no report has this receipt code")
    return row


def receipt_status(session, code: str, run=None) -> dict:
    """What an anonymous informant may see: their report's progress and reward."""
    report = report_by_receipt(session, code, run)
    case = case_row(session, report.case_id)
    steps = [{"at": as_utc(t.at), "status": t.detail.get("status")}
             for t in session.execute(select(timeline).where(
                 timeline.c.case_id == case.id, timeline.c.kind == "status")
                 .order_by(timeline.c.id))]
    return {"report": report.pseudonym, "received_at": as_utc(report.received_at),
            "enterprise": report.enterprise_name, "category": report.category,
            "status": case.status, "steps": steps,
            "rewards": informant_rewards(session, report.informant_id, report.id)}


def officer_reports(session, informant_id: str, cursor: str | None, limit: int) -> dict:
    """A page of an officer's own reports, newest first, with how far each case came."""
    query = (select(reports.c.pseudonym, reports.c.received_at, reports.c.enterprise_name,
                    reports.c.category, cases.c.status)
             .join(cases, cases.c.id == reports.c.case_id)
             .where(reports.c.informant_id == informant_id))
    return keyset_page(session, query, (reports.c.received_at, reports.c.pseudonym),
                       cursor, limit, descending=True, view=lambda row: {
                           "report": row["pseudonym"],
                           "received_at": as_utc(row["received_at"]),
                           "enterprise": row["enterprise_name"],
                           "category": row["category"], "status": row["status"]})


def my_rewards(session, cursor: str | None, limit: int, officer_token_hash=None,
               receipt_ref=None, run=None) -> dict:
    """A page of an informant's own ledger: an officer's by token hash, an anonymous
    one's by receipt ref (the gateway's keyed hash of the code)."""
    if officer_token_hash:
        informant = officer_by_token(session, officer_token_hash).id
    else:
        informant = report_by_receipt(session, receipt_ref, run).informant_id
    return keyset_page(session, _informant_rewards(informant), (rewards.c.id,), cursor,
                       limit, view=_own_reward_view)


# --- cases ----------------------------------------------------------------------------

_CASE = select(cases).where(cases.c.id == bindparam("case_id"))  # built once: merges read it


def case_row(session, case_id: str):
    row = session.execute(_CASE, {"case_id": case_id}).first()
    if row is None:
        raise NotFound(f"no case {case_id}")
    return row


def visible_case(session, case_id: str, caller: Caller, action: str = READ):
    """The case, if the caller may ``action`` there. One outside the caller's subtree is
    answered as one that does not exist (404), as the list never shows it: another
    street's staff learn nothing of it, not even that it exists."""
    require_permission(caller, action)
    case = case_row(session, case_id)
    if not in_scope(caller, case.path):
        raise NotFound(f"no case {case_id}")
    return case


def _scope_clause(table, code: str):
    """Rows of ``table`` (cases, visits) inside the subtree of ``code``: the tree has
    three geographic tiers above an enterprise, each an indexed column."""
    return or_(table.c.district_code == code, table.c.street_code == code,
               table.c.community_code == code)


def case_summary(case) -> dict:
    from_fen = domain.from_fen
    return {
        "id": case.id, "status": case.status, "grade": case.grade,
        "grade_rule": case.grade_rule, "category": case.category,
        "workers_affected": case.workers_affected,
        "amount_owed": from_fen(case.amount_owed_fen), "expected_at": as_utc(case.expected_at),
        "enterprise": domain.enterprise_payload(case), "reports": case.reports_count,
        "handled_by_tier": case.handled_by_tier, "joint": case.joint,
        "departments": case.departments, "wages_recovered": from_fen(case.wages_recovered_fen),
        "workers_covered": case.workers_covered, "opened_at": as_utc(case.opened_at),
        "updated_at": as_utc(case.updated_at), "resolved_at": as_utc(case.resolved_at),
    }


def case_view(session, case_id: str, caller: Caller) -> dict:
    """Everything about a case staff may see: pseudonyms only, never an identity."""
    case = visible_case(session, case_id, caller)
    from_fen = domain.from_fen
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


CASE_FILTERS = ("status", "grade", "category", "community_code", "street_code")


def list_cases(session, caller: Caller, query: dict) -> dict:
    """A page of the cases within the caller's subtree, newest first, filtered by
    ``query``'s ``CASE_FILTERS`` and the days it was opened between (China time)."""
    found = select(cases).where(_scope_clause(cases, caller.organization_code))
    for name in CASE_FILTERS:
        if query.get(name):
            found = found.where(cases.c[name] == query[name])
    if query.get("opened_from"):
        found = found.where(cases.c.opened_at >= domain.china_day_start(query["opened_from"]))
    if query.get("opened_to"):
        found = found.where(cases.c.opened_at < domain.china_day_start(
            query["opened_to"] + timedelta(days=1)))
    return keyset_page(session, found, (cases.c.opened_at, cases.c.id), query.get("cursor"),
                       query.get("limit", DEFAULT_LIMIT), descending=True,
                       view=lambda row: case_summary(SimpleNamespace(**row)))


# --- rewards --------------------------------------------------------------------------

def reward_row(session, reward_id: int):
    row = session.execute(select(rewards, cases.c.path).join(cases, cases.c.id ==
                                                             rewards.c.case_id)
                          .where(rewards.c.id == reward_id)).first()
    if row is None:
        raise NotFound(f"no reward {reward_id}")
    return row


def reward_view(row) -> dict:
    return {"id": row.id, "informant": row.informant_id, "case_id": row.case_id,
            "stage": row.stage, "amount": domain.from_fen(row.amount_fen),
            "policy_version": row.policy_version, "explanation": list(row.explanation),
            "status": row.status, "month": row.month, "created_at": as_utc(row.created_at),
            "approved_at": as_utc(row.approved_at), "paid_at": as_utc(row.paid_at)}


def list_rewards(session, caller: Caller, query: dict | None = None) -> dict:
    """A page of the ledger of the cases within the caller's subtree, oldest entry
    first, of one ``status`` if the query names one."""
    query = query or {}
    found = (select(rewards, cases.c.path).join(cases, cases.c.id == rewards.c.case_id)
             .where(_scope_clause(cases, caller.organization_code)))
    if query.get("status"):
        found = found.where(rewards.c.status == query["status"])
    return keyset_page(session, found, (rewards.c.id,), query.get("cursor"),
                       query.get("limit", DEFAULT_LIMIT),
                       view=lambda row: reward_view(SimpleNamespace(**row)))


def _informant_rewards(informant_id: str, report_id: str | None = None):
    """An informant's own ledger (or one report's entries): nobody else's."""
    query = (select(rewards, reports.c.pseudonym)
             .join(reports, reports.c.id == rewards.c.report_id)
             .where(rewards.c.informant_id == informant_id))
    if report_id:
        query = query.where(rewards.c.report_id == report_id)
    return query


def _own_reward_view(row) -> dict:
    return dict(reward_view(SimpleNamespace(**row)), report=row["pseudonym"])


def informant_rewards(session, informant_id: str, report_id: str | None = None) -> list[dict]:
    """Every entry of an informant's own ledger (or of one report), oldest first."""
    rows = session.execute(_informant_rewards(informant_id, report_id)
                           .order_by(rewards.c.id))
    return [_own_reward_view(row._mapping) for row in rows]


# --- policies -------------------------------------------------------------------------

def list_policies(session, kind: str, cursor: str | None = None,
                  limit: int = DEFAULT_LIMIT) -> dict:
    """A page of the versions of a policy, the first first."""
    return keyset_page(
        session, select(policies).where(policies.c.kind == kind), (policies.c.version,),
        cursor, limit, view=lambda row: {
            "kind": row["kind"], "version": row["version"],
            "effective_from": as_utc(row["effective_from"]), "body": row["body"],
            "published_by": row["published_by"]})


# --- statistics -----------------------------------------------------------------------
#
# Dispute statistics for any district, street or community subtree.
#
# A *dispute* here is a case the unions took part in handling (调处): one that reached
# ``handling`` and so has a handling tier. Years are calendar years in China time, of the
# day the case was opened. Figures carry no informant data, only counts and sums.
#
#     by_year        disputes, handled alone (独立调处) and jointly per year, with the
#                    change on the year before: ``change_percent`` (district 2015:
#                    +19.5) and ``alone_ratio_to_previous`` (4.0)
#     by_tier        district / street / community / enterprise
#     settled_locally_share  handled at community or enterprise level / all disputes
#     wage_flight    boss-absconded cases (欠薪逃逸): cases, workers, amount owed
#     visits         enterprises visited (走访/回访/约谈) and those with irregular practice

def statistics_for(session, caller: Caller, code: str | None, year: int | None) -> dict:
    """The statistics of ``code`` (the caller's organization when None), if it lies
    within the caller's subtree."""
    code = code or caller.organization_code
    organization = readmodel.registry.known_organization(session, code)
    require(caller, READ, organization["path"], what=f"organization {code}")
    return statistics(session, code, year)


def _scoped(query, table, code):
    if code:
        query = query.where(_scope_clause(table, code))
    return query


def _ratio(part, whole, places=4):
    return round(part / whole, places) if whole else None


def _percent(part, whole):
    if not whole:
        return None
    return float((Decimal(part) * 100 / whole).quantize(Decimal("0.1"), ROUND_HALF_UP))


def statistics(session, code: str | None = None, year: int | None = None) -> dict:
    """The figures of the subtree of ``code`` (everything when None), unchecked: the CLI's
    and ``statistics_for``'s."""
    handled = cases.c.handled_by_tier.is_not(None)

    def disputes(*columns):
        query = _scoped(select(*columns, func.count()).where(handled), cases, code)
        return query.group_by(*columns) if columns else query

    by_year_rows = session.execute(
        disputes(cases.c.opened_year, cases.c.joint).order_by(cases.c.opened_year)
    ).all()
    years = {}
    for row_year, joint, count in by_year_rows:
        entry = years.setdefault(row_year, {"year": row_year, "disputes": 0, "alone": 0,
                                            "joint": 0})
        entry["disputes"] += count
        entry["joint" if joint else "alone"] += count
    by_year = []
    for row_year in sorted(years):
        entry = years[row_year]
        before = years.get(row_year - 1)
        entry["change_percent"] = (_percent(entry["disputes"] - before["disputes"],
                                            before["disputes"]) if before else None)
        entry["alone_ratio_to_previous"] = (_ratio(entry["alone"], before["alone"], 2)
                                            if before else None)
        by_year.append(entry)

    def in_year(query, table_year):
        return query.where(table_year == year) if year is not None else query

    def grouped(column):
        rows = session.execute(in_year(disputes(column), cases.c.opened_year)).all()
        return {key: count for key, count in rows if key is not None}

    by_tier = grouped(cases.c.handled_by_tier)
    total = sum(by_tier.values())
    joint_counts = grouped(cases.c.joint)
    wage_flight = session.execute(in_year(_scoped(
        select(func.count(), func.coalesce(func.sum(cases.c.workers_affected), 0),
               func.coalesce(func.sum(cases.c.amount_owed_fen), 0))
        .where(cases.c.category == "boss_absconded", cases.c.status != "rejected"),
        cases, code), cases.c.opened_year)).one()
    visit_figures = session.execute(in_year(_scoped(
        select(func.count(), func.count(distinct(visits.c.enterprise_key))), visits, code),
        visits.c.year)).one()
    irregular = session.execute(in_year(_scoped(
        select(func.count(distinct(visits.c.enterprise_key)))
        .where(visits.c.irregular_practice.is_(True)), visits, code), visits.c.year)).scalar()
    return {
        "code": code,
        "year": year,
        "disputes": total,
        "alone": joint_counts.get(False, 0),
        "joint": joint_counts.get(True, 0),
        "by_tier": by_tier,
        "by_street": grouped(cases.c.street_code),
        "by_category": grouped(cases.c.category),
        "settled_locally_share": _ratio(by_tier.get("community", 0)
                                        + by_tier.get("enterprise", 0), total),
        "by_year": by_year,
        "wage_flight": {"cases": wage_flight[0], "workers": int(wage_flight[1]),
                        "amount_owed": domain.from_fen(int(wage_flight[2] or Decimal(0)))},
        "visits": {"visits": visit_figures[0], "enterprises_visited": visit_figures[1],
                   "enterprises_irregular": irregular},
    }


# --- gauges, read when /metrics is scraped (shared.dependencies.Database's ``gauges``) --


def measure_open_cases(session, service: str) -> None:
    counts = dict(session.execute(
        select(cases.c.grade, func.count()).where(cases.c.status.in_(domain.OPEN_STATUSES))
        .group_by(cases.c.grade)).all())
    set_by_label(CASES_OPEN, service, "grade", counts, known=GRADES)
