"""Reads shaped for callers: editions, nominations, rounds, a judge's sheet, rankings,
public results, objections by receipt, a worker's record, statistics.

Scores are blind: before a round closes a judge sees their own marks only and staff see
how many have come in; every judge's marks and the ranking are shown once it has closed.
"""

from datetime import datetime

from sqlalchemy import func, or_, select

from services.competitions import domain, operations, policy, readmodel
from services.competitions.models import (
    awards,
    contestants,
    editions,
    exclusions,
    flags,
    honours,
    judges,
    nominations,
    objections,
    organizations,
    rankings,
    rounds,
    rules,
    score_changes,
    scores,
)
from shared.caller import READ, Caller, require, require_permission
from shared.errors import Conflict, Forbidden, NotFound
from shared.paging import keyset_page
from shared.timeutil import as_utc

# --- rankings -----------------------------------------------------------------------------

def compute_rankings(session, this: dict, edition_rules: dict) -> dict:
    """{group code: ranking} of a final from its marks (``domain.rank``)."""
    judge_ids = [row for row in session.execute(select(judges.c.id).where(
        judges.c.round_id == this["id"]).order_by(judges.c.id)).scalars()]
    sheets = {}
    for row in session.execute(select(contestants).where(
            contestants.c.round_id == this["id"]).order_by(contestants.c.running_order)):
        sheets[row.id] = (row.group_code, domain.Sheet(row.id, row.nomination_id,
                                                       row.running_order))
    for row in session.execute(select(scores.c.judge_id, scores.c.contestant_id,
                                      scores.c.marks, scores.c.total,
                                      scores.c.withdrawn_at).where(
            scores.c.round_id == this["id"])):
        sheet = sheets[row.contestant_id][1]
        if row.withdrawn_at is None:
            sheet.scores[row.judge_id] = (row.marks, row.total)
        else:
            sheet.set_aside[row.judge_id] = row.total
    for row in session.execute(select(exclusions.c.judge_id, exclusions.c.contestant_id,
                                      exclusions.c.reason).where(
            exclusions.c.round_id == this["id"])):
        sheet = sheets[row.contestant_id][1]
        sheet.excluded[row.judge_id] = row.reason
        if row.judge_id in sheet.scores:  # scored before the exclusion: set aside too
            sheet.set_aside[row.judge_id] = sheet.scores.pop(row.judge_id)[1]
    by_group = {}
    for group_code, sheet in sheets.values():
        by_group.setdefault(group_code, []).append(sheet)
    return {code: domain.rank(policy.group(edition_rules, code), group_sheets, judge_ids)
            for code, group_sheets in by_group.items()}


def ranking_view(session, round_id: int, caller: Caller) -> dict:
    this = _readable_round(session, round_id, caller)
    if this["status"] != "closed":
        raise Conflict(f"round {round_id} is {this['status']}: the ranking is shown once it "
                       "closes (scores are blind until then)")
    names = _nominee_names(session, this["id"])
    judge_names = dict(session.execute(select(judges.c.id, judges.c.name).where(
        judges.c.round_id == round_id)).all())
    groups = []
    for row in session.execute(select(rankings).where(rankings.c.round_id == round_id)
                               .order_by(rankings.c.group_code)):
        entries = [{**entry, "name": names.get(entry["nomination_id"]),
                    "judges": [{**line, "judge_name": judge_names.get(line["judge_id"])}
                               for line in entry["judges"]]} for entry in row.entries]
        groups.append({"group": row.group_code, "method": row.method,
                       "computed_at": row.computed_at, "entries": entries})
    return {"round": _round_out(this), "groups": groups}


def _nominee_names(session, round_id) -> dict:
    return dict(session.execute(select(nominations.c.id, nominations.c.name).join(
        contestants, contestants.c.nomination_id == nominations.c.id).where(
        contestants.c.round_id == round_id)).all())


# --- rules and editions -------------------------------------------------------------------

def rules_versions(session) -> list[dict]:
    return [dict(row._mapping) for row in session.execute(
        select(rules).order_by(rules.c.version))]


def rules_page(session, cursor, limit) -> dict:
    return keyset_page(session, select(rules), [rules.c.version], cursor, limit)


def _round_out(row: dict) -> dict:
    return {"id": row["id"], "edition_id": row["edition_id"], "stage": row["stage"],
            "organization_code": row["organization_code"], "name": row["name"],
            "status": row["status"], "opened_at": row["opened_at"],
            "closed_at": row["closed_at"], "ends_at": row["ends_at"]}


def edition_view(session, edition_id: str) -> dict:
    edition = operations.edition_row(session, edition_id)
    body = operations.edition_rules(session, edition)
    return {**edition,
            "rounds": [_round_out(r) for r in operations.edition_rounds(session, edition_id)],
            "groups": [{"code": g["code"], "name": g["name"], "criteria": g["criteria"],
                        "aggregation": g["aggregation"], "tie_criterion": g["tie_criterion"],
                        "quotas": g["quotas"]} for g in body["groups"]],
            "objection_days": body["objection_days"]}


def editions_page(session, cursor, limit) -> dict:
    return keyset_page(session, select(editions), [editions.c.id], cursor, limit,
                       view=dict, descending=True)


# --- nominations --------------------------------------------------------------------------

def scope_clause(caller: Caller):
    """Nominations inside the caller's subtree, or nominated by (or through) their union."""
    return or_(nominations.c.path_key.contains(f"/{caller.organization_code}/",
                                               autoescape=True),
               nominations.c.nominated_by == caller.organization_code,
               nominations.c.union_code == caller.organization_code)


def _flags_of(session, nomination_ids) -> dict:
    found = {}
    ids = sorted(set(nomination_ids))
    for start in range(0, len(ids), 500):
        for row in session.execute(select(flags).where(
                flags.c.nomination_id.in_(ids[start:start + 500])).order_by(flags.c.id)):
            found.setdefault(row.nomination_id, []).append(dict(row._mapping))
    return found


def _nomination_out(row: dict, its_flags: list) -> dict:
    return {**row, "group": row["group_code"], "flags": its_flags,
            "flagged": any(f["resolved_at"] is None for f in its_flags)}


def nomination_view(session, nomination_id: int, caller: Caller) -> dict:
    nomination = operations.nomination_row(session, nomination_id)
    operations.require_nomination_scope(caller, READ, nomination)
    return _nomination_out(nomination, _flags_of(session, [nomination_id]).get(
        nomination_id, []))


def nominations_page(session, caller: Caller, query: dict) -> dict:
    require_permission(caller, READ)
    select_ = select(nominations).where(nominations.c.edition_id == query["edition_id"],
                                        scope_clause(caller))
    if query.get("group"):
        select_ = select_.where(nominations.c.group_code == query["group"])
    if query.get("status"):
        select_ = select_.where(nominations.c.status == query["status"])
    if query.get("flagged"):
        select_ = select_.where(nominations.c.id.in_(select(flags.c.nomination_id).where(
            flags.c.resolved_at.is_(None))))
    page = keyset_page(session, select_, [nominations.c.id], query["cursor"], query["limit"])
    found = _flags_of(session, [item["id"] for item in page["items"]])
    page["items"] = [_nomination_out(item, found.get(item["id"], [])) for item in page["items"]]
    return page


# --- rounds -------------------------------------------------------------------------------

def _readable_round(session, round_id, caller: Caller) -> dict:
    this = operations.round_row(session, round_id)
    if caller.role == "judge":
        operations.judge_of(session, round_id, caller)
    else:
        require(caller, READ, this["path"], what=f"round {round_id}")
    return this


def round_view(session, round_id: int, caller: Caller) -> dict:
    """A round for its staff: contestants in running order (with flags), judges (with
    their exclusions), how many marks have come in; no marks before it closes."""
    this = _readable_round(session, round_id, caller)
    if caller.role == "judge":
        raise Forbidden("a judge sees the round through the judge's sheet")
    rows = session.execute(select(contestants, nominations.c.name, nominations.c.worker_id,
                                  nominations.c.enterprise_name, nominations.c.street_code)
                           .join(nominations, nominations.c.id == contestants.c.nomination_id)
                           .where(contestants.c.round_id == round_id)
                           .order_by(contestants.c.running_order)).all()
    found = _flags_of(session, [row.nomination_id for row in rows])
    received = dict(session.execute(select(scores.c.contestant_id, func.count()).where(
        scores.c.round_id == round_id, scores.c.withdrawn_at.is_(None))
        .group_by(scores.c.contestant_id)).all())
    excluded = {}
    for row in session.execute(select(exclusions).where(exclusions.c.round_id == round_id)):
        excluded.setdefault(row.judge_id, []).append(
            {"contestant_id": row.contestant_id, "reason": row.reason, "note": row.note})
    return {
        "round": _round_out(this),
        "contestants": [{"id": row.id, "nomination_id": row.nomination_id,
                         "group": row.group_code, "running_order": row.running_order,
                         "name": row.name, "worker_id": row.worker_id,
                         "enterprise_name": row.enterprise_name,
                         "scores_received": received.get(row.id, 0),
                         "flagged": any(f["resolved_at"] is None
                                        for f in found.get(row.nomination_id, []))}
                        for row in rows],
        "judges": [{"id": judge["id"], "name": judge["name"], "user_name": judge["user_name"],
                    "organization_code": judge["organization_code"],
                    "organization_name": judge["organization_name"],
                    "exclusions": excluded.get(judge["id"], [])}
                   for judge in operations._judges(session, round_id)],
    }


def round_judge(session, round_id: int, judge_id: int, caller: Caller) -> dict:
    """One judge of a round as ``round_view`` shows them (a judge just registered)."""
    return next(judge for judge in round_view(session, round_id, caller)["judges"]
                if judge["id"] == judge_id)


def judge_sheet(session, round_id: int, caller: Caller) -> dict:
    """What a judge's tablet shows: the round's contestants in running order, each with
    the group's criteria, the judge's own marks so far, or why they may not score."""
    this = operations.round_row(session, round_id)
    judge = operations.judge_of(session, round_id, caller)
    edition = operations.edition_row(session, this["edition_id"])
    body = operations.edition_rules(session, edition)
    mine = {row.contestant_id: row for row in session.execute(select(scores).where(
        scores.c.judge_id == judge["id"], scores.c.withdrawn_at.is_(None)))}
    barred = dict(session.execute(select(exclusions.c.contestant_id, exclusions.c.reason)
                                  .where(exclusions.c.judge_id == judge["id"])).all())
    rows = session.execute(select(contestants, nominations.c.name,
                                  nominations.c.enterprise_name).join(
        nominations, nominations.c.id == contestants.c.nomination_id).where(
        contestants.c.round_id == round_id).order_by(contestants.c.running_order)).all()
    groups = {group["code"]: group for group in body["groups"]}
    sheet = []
    for row in rows:
        score = mine.get(row.id)
        group = groups[row.group_code]
        sheet.append({
            "contestant_id": row.id, "running_order": row.running_order,
            "group": row.group_code, "group_name": group["name"], "name": row.name,
            "enterprise_name": row.enterprise_name, "criteria": group["criteria"],
            "excluded": barred.get(row.id),
            "excluded_wording": domain.CONFLICT_WORDING.get(barred.get(row.id)),
            "score": None if score is None else {
                "values": score.marks, "total": score.total, "comment": score.comment,
                "version": score.version, "updated_at": score.updated_at}})
    return {"round": _round_out(this), "judge": {"id": judge["id"], "name": judge["name"],
                                                  "organization_name":
                                                      judge["organization_name"]},
            "contestants": sheet}


def round_scores(session, round_id: int, caller: Caller) -> dict:
    """Every judge's marks and every change to them, once the round has closed."""
    this = _readable_round(session, round_id, caller)
    if this["status"] != "closed":
        raise Conflict(f"round {round_id} is {this['status']}: marks are blind until it "
                       "closes")
    changes = {}
    for row in session.execute(select(score_changes).join(
            scores, scores.c.id == score_changes.c.score_id).where(
            scores.c.round_id == round_id).order_by(score_changes.c.id)):
        changes.setdefault(row.score_id, []).append(
            {"version": row.version, "values": row.marks, "total": row.total,
             "comment": row.comment, "saved_at": row.saved_at})
    items = [{"judge_id": row.judge_id, "contestant_id": row.contestant_id,
              "values": row.marks, "total": row.total, "comment": row.comment,
              "version": row.version, "withdrawn_at": row.withdrawn_at,
              "changes": changes.get(row.id, [])}
             for row in session.execute(select(scores).where(scores.c.round_id == round_id)
                                        .order_by(scores.c.contestant_id, scores.c.judge_id))]
    return {"round": _round_out(this), "scores": items}


# --- results and objections ---------------------------------------------------------------

def public_results(session, edition_id: str, now: datetime) -> dict:
    """What the public page shows: the winners of each group and the notice's dates.
    Objections are taken while the notice is open and ``now`` is before its end (the
    round itself closes a little later: ``operations.end_public_notices``)."""
    edition = operations.edition_row(session, edition_id)
    body = operations.edition_rules(session, edition)
    notice = operations.stage_round(session, edition_id, "public_notice")
    names = {row.code: row.name for row in session.execute(select(
        organizations.c.code, organizations.c.name).where(organizations.c.tier == "street"))}
    rows = session.execute(select(awards, nominations.c.name, nominations.c.enterprise_name,
                                  nominations.c.street_code).join(
        nominations, nominations.c.id == awards.c.nomination_id).where(
        awards.c.edition_id == edition_id, awards.c.status != "revoked")
        .order_by(awards.c.group_code, awards.c.rank)).all()
    by_group = {}
    for row in rows:
        by_group.setdefault(row.group_code, []).append({
            "award_id": row.id, "rank": row.rank, "name": row.name,
            "enterprise_name": row.enterprise_name,
            "street_name": names.get(row.street_code), "status": row.status,
            "moved_up": row.moved_up})
    now_open = notice["status"] == "open" and now < as_utc(notice["ends_at"])
    return {
        "edition": {"id": edition["id"], "year": edition["year"], "title": edition["title"]},
        "notice": {"status": notice["status"], "opened_at": notice["opened_at"],
                   "ends_at": notice["ends_at"], "taking_objections": now_open},
        "groups": [{"code": group["code"], "name": group["name"],
                    "winners": by_group.get(group["code"], [])} for group in body["groups"]
                   if group["code"] in by_group or notice["status"] != "planned"],
    }


def objection_status(session, hashed: str) -> dict:
    row = session.execute(select(objections, awards.c.group_code, nominations.c.name).join(
        awards, awards.c.id == objections.c.award_id).join(
        nominations, nominations.c.id == awards.c.nomination_id).where(
        objections.c.receipt_hash == hashed)).first()
    if row is None:
        raise NotFound("no objection has this receipt code")
    return {"objection_id": row.id, "status": row.status, "lodged_at": row.lodged_at,
            "decided_at": row.decided_at, "decision_note": row.decision_note,
            "award": {"id": row.award_id, "group": row.group_code, "name": row.name}}


def objections_page(session, edition_id: str, caller: Caller, query: dict) -> dict:
    edition = operations.edition_row(session, edition_id)
    require(caller, READ, [edition["district_code"]], what=f"edition {edition_id}")
    select_ = select(objections.c.id, objections.c.award_id, objections.c.reason,
                     objections.c.status, objections.c.lodged_at, objections.c.decided_at,
                     objections.c.decided_by, objections.c.decision_note).where(
        objections.c.edition_id == edition_id)
    if query.get("status"):
        select_ = select_.where(objections.c.status == query["status"])
    return keyset_page(session, select_, [objections.c.id], query["cursor"], query["limit"])


# --- workers and statistics ---------------------------------------------------------------

def worker_record(session, worker_id: int, caller: Caller) -> dict:
    """A worker's star awards across editions and the honours recorded after them."""
    require_permission(caller, READ)
    nominated = session.execute(select(nominations).where(
        nominations.c.worker_id == worker_id).order_by(nominations.c.id)).all()
    member = readmodel.memberships.member(session, worker_id)
    path = nominated[-1].path if nominated else (member["path"] if member else None)
    if path is None:
        raise NotFound(f"worker {worker_id} is neither a nominee nor a known member")
    require(caller, READ, path, what=f"worker {worker_id}")
    stars = [dict(row._mapping) for row in session.execute(
        select(awards).where(awards.c.worker_id == worker_id).order_by(awards.c.id))]
    return {"worker_id": worker_id, "name": nominated[-1].name if nominated else None,
            "nominations": [{"id": row.id, "edition_id": row.edition_id,
                             "group": row.group_code, "status": row.status}
                            for row in nominated],
            "awards": [{"id": a["id"], "edition_id": a["edition_id"], "group": a["group_code"],
                        "rank": a["rank"], "status": a["status"]} for a in stars],
            "honours": [dict(row._mapping) for row in session.execute(
                select(honours).where(honours.c.worker_id == worker_id)
                .order_by(honours.c.year, honours.c.id))]}


def statistics(session, edition_id: str, caller: Caller, code: str | None) -> dict:
    """Nominations, finalists and winners by group, street and enterprise within ``code``
    (the caller's organization by default); stars later honoured."""
    require_permission(caller, READ)
    edition = operations.edition_row(session, edition_id)
    code = code or caller.organization_code
    organization = readmodel.registry.known_organization(session, code)
    require(caller, READ, organization["path"], what=f"organization {code}")
    inside = nominations.c.path_key.contains(f"/{code}/", autoescape=True)
    street_finals = select(rounds.c.id).where(rounds.c.edition_id == edition_id,
                                              rounds.c.stage == "street_final")
    finalist_ids = select(contestants.c.nomination_id).where(
        contestants.c.round_id.in_(street_finals))
    winner_ids = select(awards.c.nomination_id).where(awards.c.edition_id == edition_id,
                                                      awards.c.status != "revoked")
    rows = session.execute(select(
        nominations.c.id, nominations.c.group_code, nominations.c.street_code,
        nominations.c.enterprise_credit_code, nominations.c.enterprise_name,
        nominations.c.status, nominations.c.worker_id,
        nominations.c.id.in_(finalist_ids).label("finalist"),
        nominations.c.id.in_(winner_ids).label("winner")).where(
        nominations.c.edition_id == edition_id, inside)).all()
    streets = {row.code: row.name for row in session.execute(select(
        organizations.c.code, organizations.c.name).where(organizations.c.tier == "street"))}
    body = operations.edition_rules(session, edition)
    group_names = {group["code"]: group["name"] for group in body["groups"]}

    def tally(key, name):
        table = {}
        for row in rows:
            entry = table.setdefault(key(row), {"code": key(row), "name": name(row),
                                                "nominations": 0, "qualified": 0,
                                                "finalists": 0, "winners": 0})
            entry["nominations"] += 1
            entry["qualified"] += row.status == "qualified"
            entry["finalists"] += bool(row.finalist)
            entry["winners"] += bool(row.winner)
        return sorted(table.values(), key=lambda e: (-e["nominations"], str(e["code"])))

    winners = {row.worker_id for row in rows if row.winner}
    honoured = session.execute(select(honours.c.worker_id, honours.c.kind).where(
        honours.c.year >= edition["year"])).all()
    later = {}
    for worker_id, kind in honoured:
        if worker_id in winners:
            later.setdefault(kind, set()).add(worker_id)
    return {
        "edition_id": edition_id, "code": code,
        "nominations": len(rows),
        "qualified": sum(row.status == "qualified" for row in rows),
        "refused": sum(row.status == "refused" for row in rows),
        "disqualified": sum(row.status == "disqualified" for row in rows),
        "finalists": sum(bool(row.finalist) for row in rows),
        "winners": len(winners),
        "by_group": tally(lambda r: r.group_code, lambda r: group_names.get(r.group_code)),
        "by_street": tally(lambda r: r.street_code, lambda r: streets.get(r.street_code)),
        "by_enterprise": tally(lambda r: r.enterprise_credit_code,
                               lambda r: r.enterprise_name),
        "stars_later_honoured": len({w for workers in later.values() for w in workers}),
        "honours_by_kind": {kind: len(workers) for kind, workers in sorted(later.items())},
    }
