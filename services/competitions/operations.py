"""The competition's use cases (writes): each takes a unit of work, applies the rules of
``domain`` and ``policy`` to the tables, and publishes what happened.

Who may do what (``shared.caller``): staff write within their subtree. A round belongs
to its organization (the district, or the street of a street final: that street's staff
manage it); a nomination to its nominating union and the enterprise's place. Judges are
gateway users with the ``judge`` role, each registered on a round by name: they score
that round's contestants and nothing else.
"""

import hashlib
from datetime import datetime

from sqlalchemy import func, insert, select, update

from services.competitions import domain, policy, readmodel
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
    rate_hits,
    rounds,
    rules,
    score_changes,
    scores,
    settings,
)
from shared.caller import WRITE, Caller, require, require_district_admin
from shared.db import read_once
from shared.errors import Conflict, Forbidden, InvalidInput, NotFound
from shared.ratelimit import check_rate
from shared.receipts import receipt_hash
from shared.registry_readmodel import path_key
from shared.timeutil import as_utc

# Anonymous objections and receipt lookups per source address: (hits, seconds).
OBJECTION_LIMITS = {"objection": (10, 3600), "lookup": (30, 3600)}
STAGE_NAMES = {"nomination": "推荐报名", "qualification": "资格审查", "street_final": "街道决赛",
               "district_final": "区级决赛", "public_notice": "结果公示", "awarded": "表彰"}


# --- rows ---------------------------------------------------------------------------------

def _one(session, table, key, what, lock=False) -> dict:
    query = select(table).where(table.c[_pk(table)] == key)
    if lock:
        query = query.with_for_update()
    row = session.execute(query).first()
    if row is None:
        raise NotFound(f"no {what} {key}", {"id": key})
    return dict(row._mapping)


def _pk(table) -> str:
    return next(iter(table.primary_key.columns)).name


def edition_row(session, edition_id, lock=False) -> dict:
    return _one(session, editions, edition_id, "edition", lock)


def round_row(session, round_id, lock=False) -> dict:
    return _one(session, rounds, round_id, "round", lock)


def nomination_row(session, nomination_id, lock=False) -> dict:
    return _one(session, nominations, nomination_id, "nomination", lock)


_RULES = {}  # (engine, version) -> body: a published version never changes


def rules_of(session, version: int) -> dict:
    def read(session):
        row = session.execute(select(rules.c.body).where(rules.c.version == version)).first()
        if row is None:
            raise NotFound(f"no rules version {version}")
        return row.body

    return read_once(session, _RULES, version, read)


def edition_rules(session, edition: dict) -> dict:
    return rules_of(session, edition["rules_version"])


def edition_rounds(session, edition_id) -> list[dict]:
    rows = session.execute(select(rounds).where(rounds.c.edition_id == edition_id)
                           .order_by(rounds.c.id)).all()
    return [dict(row._mapping) for row in rows]


def stage_round(session, edition_id, stage, organization_code=None, lock=False) -> dict:
    query = select(rounds).where(rounds.c.edition_id == edition_id, rounds.c.stage == stage)
    if organization_code is not None:
        query = query.where(rounds.c.organization_code == organization_code)
    if lock:
        query = query.with_for_update()
    row = session.execute(query).first()
    if row is None:
        raise NotFound(f"edition {edition_id} has no {stage} round")
    return dict(row._mapping)


def nomination_place(nomination: dict) -> list:
    """The paths a nomination's staff may act from: the enterprise's place, and its
    nominating union's (an enterprise union sits below its community, off that path)."""
    return list(nomination["path"])


def require_nomination_scope(caller: Caller, action: str, nomination: dict) -> None:
    """Staff of the enterprise's place, or of the union that nominated her."""
    own = {nomination["nominated_by"], nomination["union_code"]}
    if caller.organization_code in own:
        require(caller, action)
    else:
        require(caller, action, nomination_place(nomination),
                what=f"nomination {nomination['id']}")


# --- rules and editions -------------------------------------------------------------------

def publish_rules(uow, body: dict, note: str | None, caller: Caller, now: datetime) -> dict:
    """A new version of the rules document (the district federation's admins)."""
    require_district_admin(caller, readmodel.registry.caller_path(uow.session, caller),
                           "publish the competition rules")
    return add_rules_version(uow, body, note, caller.name, now)


def add_rules_version(uow, body: dict, note: str | None, by: str, now: datetime) -> dict:
    """The next version of a validated rules document (``gonghui competitions
    publish-rules`` calls this directly: whoever runs it has the database)."""
    version = (uow.session.execute(select(func.max(rules.c.version))).scalar() or 0) + 1
    uow.session.execute(insert(rules).values(version=version, body=body, note=note,
                                             published_at=now, published_by=by))
    return {"version": version, "body": body, "note": note, "published_at": now,
            "published_by": by}


def _require_district(session, caller: Caller) -> dict:
    """The district federation the caller belongs to (the top of their path)."""
    organization = readmodel.registry.organization(session, caller.organization_code)
    if organization is None:
        raise Forbidden(f"organization {caller.organization_code} is not known to the registry")
    district = readmodel.registry.known_organization(session, organization["path"][0])
    require(caller, WRITE, district["path"], what=f"the district {district['code']}")
    if caller.organization_code != district["code"]:
        raise Forbidden("editions and rules are the district federation's",
                        {"organization_code": caller.organization_code})
    return district


def create_edition(uow, data: dict, caller: Caller, now: datetime) -> dict:
    """An edition and its rounds: nomination, qualification, a final for every street the
    registry knows in the district, the district final, the public notice, the awards."""
    session = uow.session
    district = _require_district(session, caller)
    edition_id = data.get("id") or str(data["year"])
    if session.execute(select(editions.c.id).where(editions.c.id == edition_id)).first():
        raise Conflict(f"edition {edition_id} exists", {"id": edition_id})
    version = data.get("rules_version") or session.execute(
        select(func.max(rules.c.version))).scalar()
    rules_of(session, version)
    session.execute(insert(editions).values(
        id=edition_id, year=data["year"], title=data["title"], district_code=district["code"],
        rules_version=version, created_at=now, created_by=caller.name))
    for stage in domain.STAGES:
        if stage in domain.PER_STREET:
            for street in _streets(session, district["code"]):
                _add_round(session, edition_id, stage, street)
        else:
            _add_round(session, edition_id, stage, district)
    return {"id": edition_id}


def _streets(session, district_code) -> list[dict]:
    rows = session.execute(select(organizations).where(
        organizations.c.parent_code == district_code,
        organizations.c.kind == "street_federation")
        .order_by(organizations.c.code)).all()
    return [dict(row._mapping) for row in rows]


def _add_round(session, edition_id, stage, organization) -> int:
    name = STAGE_NAMES[stage]
    if stage in domain.PER_STREET:
        name = f"{organization['name'].removesuffix('总工会')}{name}"
    return session.execute(insert(rounds).values(
        edition_id=edition_id, stage=stage, organization_code=organization["code"],
        name=name, path=list(organization["path"]), status="planned")
        .returning(rounds.c.id)).scalar_one()


# --- rounds -------------------------------------------------------------------------------

def open_round(uow, round_id: int, caller: Caller, now: datetime,
               objection_days: int | None = None) -> dict:
    this = round_row(uow.session, round_id, lock=True)
    require(caller, WRITE, this["path"], what=f"round {round_id}")
    return _open(uow, this, now, objection_days)


def _open(uow, this: dict, now: datetime, objection_days: int | None = None) -> dict:
    session, round_id = uow.session, this["id"]
    earlier = [r for r in edition_rounds(session, this["edition_id"])
               if domain.stage_index(r["stage"]) < domain.stage_index(this["stage"])]
    problem = domain.open_problem(this["stage"], this["status"], earlier)
    if problem:
        raise Conflict(f"round {round_id} cannot open: {problem}")
    edition = edition_row(session, this["edition_id"])
    values = {"status": "open", "opened_at": now}
    if this["stage"] == "public_notice":
        days = objection_days or edition_rules(session, edition)["objection_days"]
        values["ends_at"] = domain.notice_end(now, days)
    session.execute(update(rounds).where(rounds.c.id == round_id).values(**values))
    this.update(values)
    if this["stage"] in domain.SCORED:
        for judge in _judges(session, round_id):
            _exclude_conflicts(session, this, edition, judge, now)
    count = session.execute(select(func.count()).select_from(contestants).where(
        contestants.c.round_id == round_id)).scalar()
    uow.publish("round_opened", {**_round_event(this, now), "contestants": count,
                                 "ends_at": this.get("ends_at")}, subject=round_id)
    if this["stage"] == "public_notice":
        _announce_winners(uow, edition, this, now)
    if this["stage"] == "awarded":
        _finalise_awards(uow, edition, now)
    return this


def _round_event(this: dict, now: datetime) -> dict:
    return {"round_id": this["id"], "edition_id": this["edition_id"], "stage": this["stage"],
            "organization_code": this["organization_code"], "at": now}


def close_round(uow, round_id: int, caller: Caller, now: datetime) -> dict:
    this = round_row(uow.session, round_id, lock=True)
    require(caller, WRITE, this["path"], what=f"round {round_id}")
    return _close(uow, this, now)


def _pending_objections(session, edition_id) -> int:
    return session.execute(select(func.count()).select_from(objections).where(
        objections.c.edition_id == edition_id, objections.c.status == "lodged")).scalar()


def _close(uow, this: dict, now: datetime) -> dict:
    session, round_id = uow.session, this["id"]
    pending = _pending_objections(session, this["edition_id"]) \
        if this["stage"] == "public_notice" else 0
    problem = domain.close_problem(this["stage"], this["status"], now,
                                   as_utc(this["ends_at"]), pending)
    if problem:
        raise Conflict(f"round {round_id} cannot close: {problem}")
    session.execute(update(rounds).where(rounds.c.id == round_id).values(
        status="closed", closed_at=now))
    this.update(status="closed", closed_at=now)
    edition = edition_row(session, this["edition_id"])
    groups = []
    if this["stage"] == "qualification":
        _seat_street_finalists(session, edition, now)
    elif this["stage"] in domain.SCORED:
        groups = _freeze_rankings(session, edition, this, now)
    uow.publish("round_closed", {**_round_event(this, now), "groups": groups},
                subject=round_id)
    return this


def end_public_notices(uow, now: datetime) -> list[str]:
    """Every public notice whose objection period has ended with no objection still to
    decide closes by itself, and the edition's awards are granted (the ``awarded`` round
    opens: ``round_closed``, ``round_opened``, then ``award_granted`` with status
    ``final`` for each award). A notice with an objection pending waits for its
    decision. Answers the editions awarded."""
    session = uow.session
    due = session.execute(select(rounds).where(
        rounds.c.stage == "public_notice", rounds.c.status == "open",
        rounds.c.ends_at <= now).order_by(rounds.c.id).with_for_update(skip_locked=True)
    ).all()
    awarded = []
    for row in due:
        notice = dict(row._mapping)
        if _pending_objections(session, notice["edition_id"]):
            continue
        _close(uow, notice, now)
        final = stage_round(session, notice["edition_id"], "awarded", lock=True)
        if final["status"] == "planned":
            _open(uow, final, now)
        awarded.append(notice["edition_id"])
    return awarded


def _seat_street_finalists(session, edition, now) -> None:
    """Each street's qualified nominations become its final's contestants, group by group
    in the rules' order (up to the group's qualification quota), in running order."""
    edition_rules_ = edition_rules(session, edition)
    order = {group["code"]: index for index, group in enumerate(edition_rules_["groups"])}
    rows = session.execute(select(nominations).where(
        nominations.c.edition_id == edition["id"], nominations.c.status == "qualified")
        .order_by(nominations.c.id)).all()
    by_street = {}
    for row in rows:
        by_street.setdefault(row.street_code, []).append(dict(row._mapping))
    district = readmodel.registry.organization(session, edition["district_code"])
    for street_code, entries in sorted(by_street.items(), key=lambda item: str(item[0])):
        street = readmodel.registry.organization(session, street_code) if street_code else None
        if street is None:
            street = district
        try:
            final = stage_round(session, edition["id"], "street_final", street["code"])
        except NotFound:
            final = round_row(session, _add_round(session, edition["id"], "street_final",
                                                  street))
        seated, running = {}, 0
        for entry in sorted(entries, key=lambda e: (order.get(e["group_code"], 99), e["id"])):
            quota = policy.group(edition_rules_, entry["group_code"])["quotas"]["qualification"]
            if quota is not None and seated.get(entry["group_code"], 0) >= quota:
                continue
            seated[entry["group_code"]] = seated.get(entry["group_code"], 0) + 1
            running += 1
            session.execute(insert(contestants).values(
                round_id=final["id"], nomination_id=entry["id"],
                group_code=entry["group_code"], running_order=running))


def _freeze_rankings(session, edition, this, now) -> list[dict]:
    """Rank every group of a closed final, keep the rankings, and (a street final) seat
    those who go on in the district final."""
    from services.competitions import views

    edition_rules_ = edition_rules(session, edition)
    removed = disqualified(session, edition["id"])
    results = []
    for group_code, ranking in views.compute_rankings(session, this, edition_rules_).items():
        group = policy.group(edition_rules_, group_code)
        session.execute(insert(rankings).values(
            round_id=this["id"], group_code=group_code,
            method=group["aggregation"]["method"], entries=ranking, computed_at=now))
        quota = group["quotas"][this["stage"]]
        going_on = domain.advancing(ranking, quota, removed)
        results.append({"group": group_code, "method": group["aggregation"]["method"],
                        "ranking": [{"nomination_id": e["nomination_id"], "rank": e["rank"],
                                     "total": e["total"] if e["total"] is not None else 0.0}
                                    for e in ranking],
                        "advancing": going_on})
        if this["stage"] == "street_final":
            final = stage_round(session, edition["id"], "district_final")
            taken = session.execute(select(func.count()).select_from(contestants).where(
                contestants.c.round_id == final["id"])).scalar()
            for offset, nomination_id in enumerate(going_on, start=1):
                session.execute(insert(contestants).values(
                    round_id=final["id"], nomination_id=nomination_id,
                    group_code=group_code, running_order=taken + offset))
    return results


def disqualified(session, edition_id) -> set:
    return set(session.execute(select(nominations.c.id).where(
        nominations.c.edition_id == edition_id,
        nominations.c.status == "disqualified")).scalars())


# --- results, awards, objections ----------------------------------------------------------

def _final_rankings(session, edition_id) -> dict:
    final = stage_round(session, edition_id, "district_final")
    rows = session.execute(select(rankings).where(rankings.c.round_id == final["id"])).all()
    return {row.group_code: row.entries for row in rows}


def _announce_winners(uow, edition, notice, now) -> None:
    session = uow.session
    edition_rules_ = edition_rules(session, edition)
    removed = disqualified(session, edition["id"])
    flagged = set(session.execute(select(flags.c.nomination_id).where(
        flags.c.resolved_at.is_(None))).scalars())
    chosen = []
    for group_code, ranking in _final_rankings(session, edition["id"]).items():
        quota = policy.group(edition_rules_, group_code)["quotas"]["district_final"]
        chosen += [(group_code, nomination_id, place) for nomination_id, place in
                   domain.winners(ranking, quota, removed)]
    waiting = sorted({nomination for _, nomination, _ in chosen if nomination in flagged})
    if waiting:
        raise Conflict("results cannot be published while winners' nominations are flagged "
                       "for review", {"nominations": waiting})
    winners = []
    for group_code, nomination_id, place in chosen:
        award = _grant(uow, edition, nomination_id, group_code, place, now, moved_up=False)
        winners.append({"award_id": award["id"], "nomination_id": nomination_id,
                        "worker_id": award["worker_id"], "group": group_code, "rank": place})
    uow.publish("results_published", {"edition_id": edition["id"], "round_id": notice["id"],
                                      "notice_ends_at": notice["ends_at"],
                                      "winners": winners}, subject=edition["id"])


def _grant(uow, edition, nomination_id, group_code, place, now, moved_up) -> dict:
    nomination = nomination_row(uow.session, nomination_id)
    award_id = uow.session.execute(insert(awards).values(
        edition_id=edition["id"], nomination_id=nomination_id,
        worker_id=nomination["worker_id"], group_code=group_code, rank=place,
        status="announced", moved_up=moved_up, granted_at=now).returning(awards.c.id)
    ).scalar_one()
    uow.publish("award_granted", {**_award_event(award_id, edition["id"], nomination,
                                                 group_code, place),
                                  "status": "announced", "moved_up": moved_up},
                subject=award_id)
    return {"id": award_id, "worker_id": nomination["worker_id"]}


def _award_event(award_id, edition_id, nomination, group_code, place) -> dict:
    return {"award_id": award_id, "edition_id": edition_id,
            "nomination_id": nomination["id"], "worker_id": nomination["worker_id"],
            "group": group_code, "rank": place,
            "enterprise_credit_code": nomination["enterprise_credit_code"],
            "organization_path": list(nomination["path"])}


def _finalise_awards(uow, edition, now) -> None:
    rows = uow.session.execute(select(awards).where(
        awards.c.edition_id == edition["id"], awards.c.status == "announced")
        .order_by(awards.c.id)).all()
    uow.session.execute(update(awards).where(awards.c.edition_id == edition["id"],
                                             awards.c.status == "announced")
                        .values(status="final"))
    for row in rows:
        nomination = nomination_row(uow.session, row.nomination_id)
        uow.publish("award_granted", {**_award_event(row.id, edition["id"], nomination,
                                                     row.group_code, row.rank),
                                      "status": "final", "moved_up": row.moved_up},
                    subject=row.id)


def revoke_and_move_up(uow, award: dict, reason: str, now: datetime,
                       objection_id: int | None = None) -> None:
    """Revoke an announced award; everyone below in the group's ranking moves up one
    place, and the next in line is awarded."""
    session = uow.session
    session.execute(update(awards).where(awards.c.id == award["id"]).values(
        status="revoked", revoked_at=now, revoke_reason=reason))
    nomination = nomination_row(session, award["nomination_id"])
    uow.publish("award_revoked", {**_award_event(award["id"], award["edition_id"], nomination,
                                                 award["group_code"], award["rank"]),
                                  "reason": reason, "objection_id": objection_id},
                subject=award["id"])
    edition = edition_row(session, award["edition_id"])
    group = policy.group(edition_rules(session, edition), award["group_code"])
    ranking = _final_rankings(session, edition["id"])[award["group_code"]]
    revoked = set(session.execute(select(awards.c.nomination_id).where(
        awards.c.edition_id == edition["id"], awards.c.group_code == award["group_code"],
        awards.c.status == "revoked")).scalars())
    removed = revoked | disqualified(session, edition["id"])
    current = {row.nomination_id: dict(row._mapping) for row in session.execute(
        select(awards).where(awards.c.edition_id == edition["id"],
                             awards.c.group_code == award["group_code"],
                             awards.c.status == "announced")).all()}
    for nomination_id, place in domain.winners(ranking, group["quotas"]["district_final"],
                                               removed):
        if nomination_id in current:
            if current[nomination_id]["rank"] != place:
                session.execute(update(awards).where(
                    awards.c.id == current[nomination_id]["id"]).values(rank=place))
        else:
            _grant(uow, edition, nomination_id, award["group_code"], place, now,
                   moved_up=True)


def source_key(session, source: str | None) -> str:
    """A source address as the rate limits count it: salted, never stored raw."""
    salt = _setting(session, "source_salt")
    return hashlib.sha256(salt + (source or "unknown").encode()).hexdigest()[:32]


_SALTS = {}


def _setting(session, key) -> bytes:
    cache_key = (session.get_bind(), key)
    if cache_key not in _SALTS:
        value = session.execute(select(settings.c.value).where(settings.c.key == key)).scalar()
        if value is None:
            raise RuntimeError(f"setting {key} is missing: run the competitions migrations")
        _SALTS[cache_key] = bytes.fromhex(value)
    return _SALTS[cache_key]


def hash_receipt(session, receipt_ref: str, run=None) -> str:
    """What is stored of a receipt code: Argon2id of the gateway's keyed hash of it
    (``receipt_ref``; the code itself never reaches this service), so a copy of the
    database, salt included, gives no code without the gateway's key either.
    ``run(fn, *args)`` may move it off the green thread."""
    salt = _setting(session, "receipt_salt")
    return receipt_hash(receipt_ref, salt) if run is None else run(receipt_hash, receipt_ref,
                                                                    salt)


def count_lookup(uow, source: str | None, now: datetime) -> None:
    hits, window = OBJECTION_LIMITS["lookup"]
    check_rate(uow.session, rate_hits, [("source", "lookup:" + source_key(uow.session, source),
                                         hits, window)], now, "receipt lookups")


def lodge_objection(uow, data: dict, receipt_hash_: str, source: str | None,
                    now: datetime) -> dict:
    """Anyone may object to an announced award while the public notice runs."""
    session = uow.session
    hits, window = OBJECTION_LIMITS["objection"]
    check_rate(session, rate_hits, [("source", "objection:" + source_key(session, source),
                                     hits, window)], now, "objections")
    again = session.execute(select(objections).where(
        objections.c.receipt_hash == receipt_hash_)).first()
    if again is not None:  # the same request run twice: what it lodged the first time
        notice = stage_round(session, again.edition_id, "public_notice")
        return {"objection_id": again.id, "award_id": again.award_id, "status": again.status,
                "lodged_at": again.lodged_at, "notice_ends_at": notice["ends_at"]}
    award = _one(session, awards, data["award_id"], "award")
    notice = stage_round(session, award["edition_id"], "public_notice")
    if notice["status"] != "open" or now >= as_utc(notice["ends_at"]):
        raise Conflict("objections are taken only while the public notice runs",
                       {"notice_ends_at": str(notice["ends_at"])})
    if award["status"] != "announced":
        raise Conflict(f"award {award['id']} is {award['status']}")
    objection_id = session.execute(insert(objections).values(
        edition_id=award["edition_id"], award_id=award["id"], reason=data["reason"],
        receipt_hash=receipt_hash_, status="lodged", lodged_at=now)
        .returning(objections.c.id)).scalar_one()
    uow.publish("objection_lodged", {"objection_id": objection_id,
                                     "edition_id": award["edition_id"],
                                     "award_id": award["id"]}, subject=objection_id)
    return {"objection_id": objection_id, "award_id": award["id"], "status": "lodged",
            "lodged_at": now, "notice_ends_at": notice["ends_at"]}


def decide_objection(uow, objection_id: int, data: dict, caller: Caller,
                     now: datetime) -> dict:
    session = uow.session
    objection = _one(session, objections, objection_id, "objection", lock=True)
    edition = edition_row(session, objection["edition_id"])
    require(caller, WRITE, [edition["district_code"]], what=f"edition {edition['id']}")
    if objection["status"] != "lodged":
        raise Conflict(f"objection {objection_id} was {objection['status']} already")
    session.execute(update(objections).where(objections.c.id == objection_id).values(
        status=data["decision"], decided_at=now, decided_by=caller.name,
        decision_note=data.get("note")))
    award = _one(session, awards, objection["award_id"], "award", lock=True)
    if data["decision"] == "upheld" and award["status"] == "announced":
        revoke_and_move_up(uow, award, f"异议成立：{data.get('note') or ''}".rstrip("："),
                           now, objection_id)
    uow.publish("objection_decided", {"objection_id": objection_id,
                                      "edition_id": edition["id"], "award_id": award["id"],
                                      "decision": data["decision"]}, subject=objection_id)
    return {**objection, "status": data["decision"], "decided_at": now,
            "decided_by": caller.name, "decision_note": data.get("note")}


# --- nominations --------------------------------------------------------------------------

def submit_nomination(uow, data: dict, caller: Caller, now: datetime) -> dict:
    """A union nominates one of its members; eligibility decides qualified or refused."""
    session = uow.session
    edition = edition_row(session, data["edition_id"])
    edition_rules_ = edition_rules(session, edition)
    group = policy.group(edition_rules_, data["group"])
    if group is None:
        known = ", ".join(g["code"] for g in edition_rules_["groups"])
        raise InvalidInput(f"edition {edition['id']} has no group {data['group']}",
                           {"group": [f"one of {known}"]})
    nominator = readmodel.registry.organization(session, data["nominated_by"])
    if nominator is None:
        raise InvalidInput(f"{data['nominated_by']} is not an organization the registry knows",
                           {"nominated_by": ["unknown organization"]})
    require(caller, WRITE, nominator["path"], what=f"organization {nominator['code']}")
    if stage_round(session, edition["id"], "nomination")["status"] != "open":
        raise Conflict(f"edition {edition['id']} takes no nominations: its nomination round "
                       "is not open")
    taken = session.execute(select(nominations.c.id, nominations.c.status).where(
        nominations.c.edition_id == edition["id"],
        nominations.c.worker_id == data["worker_id"])).first()
    if taken:
        raise Conflict(f"worker {data['worker_id']} is nominated in edition {edition['id']} "
                       f"already (nomination {taken.id}, {taken.status}): one group per "
                       "nominee per edition", {"nomination_id": taken.id})
    enterprise = readmodel.registry.enterprise(session, data["enterprise_credit_code"])
    path = list(enterprise["path"]) if enterprise else list(nominator["path"][:3])
    values = {
        "edition_id": edition["id"], "group_code": group["code"],
        "worker_id": data["worker_id"], "name": data["name"],
        "enterprise_credit_code": data["enterprise_credit_code"],
        "enterprise_name": enterprise["name"] if enterprise else None,
        "path": path, "path_key": path_key(path), "street_code": path[1] if len(path) > 1 else None,
        "union_code": enterprise.get("union_code") if enterprise else None,
        "nominated_by": nominator["code"], "statement": data["statement"],
        "attachments": data.get("attachments") or [], "facts": data.get("facts") or {},
        "rules_version": edition["rules_version"], "submitted_at": now,
        "submitted_by": caller.name, "checked_at": now,
    }
    values.update(_eligibility(session, values, edition, edition_rules_))
    nomination_id = session.execute(insert(nominations).values(values)
                                    .returning(nominations.c.id)).scalar_one()
    nomination = {"id": nomination_id, **values}
    _publish_outcome(uow, nomination, submitted=True)
    return nomination


def _eligibility(session, values, edition, edition_rules_) -> dict:
    member = readmodel.memberships.member(session, values["worker_id"])
    enterprise = readmodel.registry.enterprise(session, values["enterprise_credit_code"])
    nominee = domain.Nominee(
        worker_id=values["worker_id"], enterprise_credit_code=values["enterprise_credit_code"],
        nominated_by=values["nominated_by"], member=member, enterprise=enterprise,
        facts=values["facts"], edition_year=edition["year"], now=values["checked_at"],
        major_cases=readmodel.major_cases(session, values["enterprise_credit_code"]))
    failed = domain.failed_rules(policy.eligibility_rules(edition_rules_,
                                                          values["group_code"]), nominee)
    return {"status": "refused" if failed else "qualified", "failed_rules": failed}


def _publish_outcome(uow, nomination: dict, submitted: bool) -> None:
    data = {"nomination_id": nomination["id"], "edition_id": nomination["edition_id"],
            "group": nomination["group_code"], "worker_id": nomination["worker_id"],
            "enterprise_credit_code": nomination["enterprise_credit_code"],
            "organization_path": list(nomination["path"]),
            "nominated_by": nomination["nominated_by"],
            "rules_version": nomination["rules_version"]}
    if submitted:
        uow.publish("nomination_submitted", {**data, "status": nomination["status"]},
                    subject=nomination["id"])
    if nomination["status"] == "qualified":
        uow.publish("nomination_qualified", data, subject=nomination["id"])
    else:
        uow.publish("nomination_refused", {**data, "failed_rules": nomination["failed_rules"]},
                    subject=nomination["id"])


def recheck_nomination(uow, nomination_id: int, caller: Caller, now: datetime) -> dict:
    """Check a refused nomination again (the registry or membership has caught up)."""
    session = uow.session
    nomination = nomination_row(session, nomination_id, lock=True)
    require_nomination_scope(caller, WRITE, nomination)
    if nomination["status"] != "refused":
        raise Conflict(f"nomination {nomination_id} is {nomination['status']}; only a "
                       "refused one is checked again")
    edition = edition_row(session, nomination["edition_id"])
    if stage_round(session, edition["id"], "qualification")["status"] == "closed":
        raise Conflict("the qualification round is closed")
    outcome = _eligibility(session, {**nomination, "checked_at": now}, edition,
                           edition_rules(session, edition))
    session.execute(update(nominations).where(nominations.c.id == nomination_id).values(
        checked_at=now, **outcome))
    nomination.update(checked_at=now, **outcome)
    _publish_outcome(uow, nomination, submitted=False)
    return nomination


def review_nomination(uow, nomination_id: int, data: dict, caller: Caller,
                      now: datetime) -> dict:
    """Staff decide on a flagged nomination: keep it, or disqualify it (an announced award
    is then revoked and the next in rank moves up)."""
    session = uow.session
    nomination = nomination_row(session, nomination_id, lock=True)
    require_nomination_scope(caller, WRITE, nomination)
    open_flags = list(session.execute(select(flags.c.id).where(
        flags.c.nomination_id == nomination_id, flags.c.resolved_at.is_(None))).scalars())
    if not open_flags:
        raise Conflict(f"nomination {nomination_id} has no flag to review")
    session.execute(update(flags).where(flags.c.id.in_(open_flags)).values(
        resolved_at=now, resolved_by=caller.name, decision=data["decision"],
        note=data.get("note")))
    if data["decision"] == "disqualified":
        session.execute(update(nominations).where(nominations.c.id == nomination_id)
                        .values(status="disqualified"))
        nomination["status"] = "disqualified"
        for award in session.execute(select(awards).where(
                awards.c.nomination_id == nomination_id, awards.c.status == "announced")).all():
            revoke_and_move_up(uow, dict(award._mapping), "复核后取消资格", now)
    uow.publish("nomination_reviewed", {
        "nomination_id": nomination_id, "edition_id": nomination["edition_id"],
        "worker_id": nomination["worker_id"], "decision": data["decision"],
        "flags_resolved": open_flags}, subject=nomination_id)
    return nomination


# --- judges and scores --------------------------------------------------------------------

def _judges(session, round_id) -> list[dict]:
    return [dict(row._mapping) for row in session.execute(
        select(judges).where(judges.c.round_id == round_id).order_by(judges.c.id)).all()]


def judge_place(judge: dict) -> domain.Place:
    return domain.place_of(judge["organization_code"], judge["path"],
                           judge.get("union_code"))


def nominee_place(nomination: dict) -> domain.Place:
    return domain.place_of(nomination["enterprise_credit_code"], nomination["path"],
                           nomination["union_code"])


def register_judge(uow, round_id: int, data: dict, caller: Caller, now: datetime) -> dict:
    """A judge of a final, with the organization (or enterprise) they belong to; their
    conflicts of interest with the round's contestants are excluded at once."""
    session = uow.session
    this = round_row(session, round_id)
    require(caller, WRITE, this["path"], what=f"round {round_id}")
    domain.require_stage(this["stage"], domain.SCORED, "judging")
    if this["status"] == "closed":
        raise Conflict(f"round {round_id} is closed")
    code = data["organization_code"]
    organization = readmodel.registry.organization(session, code)
    enterprise = None if organization else readmodel.registry.enterprise(session, code)
    if organization is None and enterprise is None:
        raise InvalidInput(f"{code} is no organization or enterprise the registry knows",
                           {"organization_code": ["unknown to the registry"]})
    known = organization or enterprise
    if session.execute(select(judges.c.id).where(judges.c.round_id == round_id,
                                                 judges.c.user_name == data["user_name"])
                       ).first():
        raise Conflict(f"{data['user_name']} is a judge of round {round_id} already")
    values = {"round_id": round_id, "name": data["name"], "user_name": data["user_name"],
              "organization_code": code, "organization_name": known["name"],
              "path": list(known["path"]), "registered_at": now, "registered_by": caller.name}
    judge_id = session.execute(insert(judges).values(values).returning(judges.c.id)
                               ).scalar_one()
    judge = {"id": judge_id, **values,
             "union_code": enterprise.get("union_code") if enterprise else None}
    edition = edition_row(session, this["edition_id"])
    _exclude_conflicts(session, this, edition, judge, now)
    return judge


def _exclude_conflicts(session, this, edition, judge, now) -> None:
    depth = edition_rules(session, edition)["conflict_depth"]
    if "union_code" not in judge:
        enterprise = readmodel.registry.enterprise(session, judge["organization_code"])
        judge = {**judge, "union_code": enterprise.get("union_code") if enterprise else None}
    done = set(session.execute(select(exclusions.c.contestant_id).where(
        exclusions.c.judge_id == judge["id"])).scalars())
    rows = session.execute(select(contestants.c.id, nominations).join(
        nominations, nominations.c.id == contestants.c.nomination_id).where(
        contestants.c.round_id == this["id"])).all()
    for row in rows:
        contestant_id, nomination = row[0], dict(row._mapping)
        if contestant_id in done:
            continue
        reason = domain.conflict(judge_place(judge), nominee_place(nomination), depth)
        if reason is not None:
            session.execute(insert(exclusions).values(
                round_id=this["id"], judge_id=judge["id"], contestant_id=contestant_id,
                reason=reason, at=now))


def judge_of(session, round_id: int, caller: Caller) -> dict:
    """The caller as a judge of the round; 403 for anyone else."""
    row = session.execute(select(judges).where(judges.c.round_id == round_id,
                                               judges.c.user_name == caller.name)).first()
    if row is None or caller.role != "judge":
        raise Forbidden(f"{caller.name} is not a judge of round {round_id}",
                        {"round_id": round_id})
    return dict(row._mapping)


def _contestant(session, round_id, contestant_id) -> dict:
    row = session.execute(select(contestants).where(
        contestants.c.id == contestant_id, contestants.c.round_id == round_id)).first()
    if row is None:
        raise NotFound(f"round {round_id} has no contestant {contestant_id}")
    return dict(row._mapping)


def declare_conflict(uow, round_id: int, data: dict, caller: Caller, now: datetime) -> dict:
    """A judge declares a conflict with a contestant: no score from them counts. A score
    they had saved is set aside (``withdrawn_at``), never deleted: it and every change
    to it stay on record, and the ranking leaves it out saying why."""
    session = uow.session
    this = round_row(session, round_id)
    judge = judge_of(session, round_id, caller)
    if this["status"] == "closed":
        raise Conflict(f"round {round_id} is closed")
    contestant = _contestant(session, round_id, data["contestant_id"])
    existing = session.execute(select(exclusions).where(
        exclusions.c.judge_id == judge["id"],
        exclusions.c.contestant_id == contestant["id"])).first()
    if existing is None:
        session.execute(insert(exclusions).values(
            round_id=round_id, judge_id=judge["id"], contestant_id=contestant["id"],
            reason="declared", note=data.get("note"), at=now))
    withdrawn = session.execute(update(scores).where(
        scores.c.judge_id == judge["id"], scores.c.contestant_id == contestant["id"],
        scores.c.withdrawn_at.is_(None)).values(withdrawn_at=now)).rowcount
    return {"judge_id": judge["id"], "contestant_id": contestant["id"],
            "reason": existing.reason if existing else "declared",
            "score_withdrawn": bool(withdrawn)}


def _scoring_context(session, round_id: int, judge_name: str, contestant_id: int):
    """The round, the caller as its judge, the contestant and any exclusion between them,
    in one query: saving a score is the hot path of a live final."""
    query = (select(rounds.c.status, rounds.c.stage, editions.c.rules_version,
                    judges.c.id.label("judge_id"), judges.c.name.label("judge_name"),
                    contestants.c.id.label("contestant_id"), contestants.c.group_code,
                    exclusions.c.reason.label("excluded"))
             .select_from(rounds)
             .join(editions, editions.c.id == rounds.c.edition_id)
             .outerjoin(judges, (judges.c.round_id == rounds.c.id)
                        & (judges.c.user_name == judge_name))
             .outerjoin(contestants, (contestants.c.round_id == rounds.c.id)
                        & (contestants.c.id == contestant_id))
             .outerjoin(exclusions, (exclusions.c.judge_id == judges.c.id)
                        & (exclusions.c.contestant_id == contestants.c.id))
             .where(rounds.c.id == round_id))
    row = session.execute(query).first()
    if row is None:
        raise NotFound(f"no round {round_id}", {"id": round_id})
    return row


def save_score(uow, round_id: int, data: dict, caller: Caller, now: datetime) -> dict:
    """A judge's marks for one contestant. Saved once per ``score_id`` (the client's own
    id for this save): the same save sent again answers what was saved, changing nothing.
    Editable until the round closes; every change is kept."""
    session = uow.session
    context = _scoring_context(session, round_id, caller.name, data["contestant_id"])
    if context.judge_id is None or caller.role != "judge":
        raise Forbidden(f"{caller.name} is not a judge of round {round_id}",
                        {"round_id": round_id})
    seen = session.execute(select(score_changes, scores.c.judge_id, scores.c.contestant_id)
                           .join(scores, scores.c.id == score_changes.c.score_id)
                           .where(score_changes.c.client_id == data["score_id"])).first()
    if seen is not None:
        if seen.judge_id != context.judge_id or seen.contestant_id != data["contestant_id"]:
            raise Conflict(f"score_id {data['score_id']} was used for another score")
        return _saved(seen.contestant_id, data["score_id"], seen.version, seen.marks,
                      seen.total, seen.comment, seen.saved_at, duplicate=True)
    domain.require_stage(context.stage, domain.SCORED, "scoring")
    if context.status != "open":
        raise Conflict(f"round {round_id} is {context.status}: scores are taken while it is "
                       "open and frozen once it closes")
    if context.contestant_id is None:
        raise NotFound(f"round {round_id} has no contestant {data['contestant_id']}")
    if context.excluded is not None:
        raise Forbidden(f"judge {context.judge_name} may not score contestant "
                        f"{context.contestant_id}: {domain.CONFLICT_WORDING[context.excluded]}",
                        {"conflict": context.excluded})
    group = policy.group(rules_of(session, context.rules_version), context.group_code)
    marks = domain.checked_values(group["criteria"], data["values"])
    total = domain.weighted_total(group["criteria"], marks)
    comment = data.get("comment") or ""
    changed = session.execute(
        update(scores).where(scores.c.judge_id == context.judge_id,
                             scores.c.contestant_id == context.contestant_id)
        .values(marks=marks, total=total, comment=comment, version=scores.c.version + 1,
                updated_at=now).returning(scores.c.id, scores.c.version)).first()
    if changed is None:
        score_id, version = session.execute(insert(scores).values(
            round_id=round_id, judge_id=context.judge_id,
            contestant_id=context.contestant_id, marks=marks, total=total, comment=comment,
            version=1, updated_at=now).returning(scores.c.id, scores.c.version)).one()
    else:
        score_id, version = changed
    session.execute(insert(score_changes).values(
        score_id=score_id, client_id=data["score_id"], version=version, marks=marks,
        total=total, comment=comment, saved_at=now))
    return _saved(context.contestant_id, data["score_id"], version, marks, total, comment,
                  now, duplicate=False)


def _saved(contestant_id, score_id, version, marks, total, comment, at, duplicate) -> dict:
    return {"contestant_id": contestant_id, "score_id": score_id, "version": version,
            "values": marks, "total": total, "comment": comment, "saved_at": at,
            "duplicate": duplicate}


# --- honours ------------------------------------------------------------------------------

def record_honour(uow, data: dict, caller: Caller, now: datetime) -> dict:
    """A later honour of a worker: recorded against the same worker as her star awards."""
    session = uow.session
    nomination = session.execute(select(nominations).where(
        nominations.c.worker_id == data["worker_id"]).order_by(nominations.c.id.desc())
    ).first()
    member = readmodel.memberships.member(session, data["worker_id"])
    if nomination is None and member is None:
        raise NotFound(f"worker {data['worker_id']} is neither a nominee nor a known member")
    path = list(nomination.path if nomination is not None else member["path"])
    require(caller, WRITE, path, what=f"worker {data['worker_id']}")
    honour_id = session.execute(insert(honours).values(
        worker_id=data["worker_id"], kind=data["kind"], level=data.get("level"),
        title=data["title"], year=data["year"], note=data.get("note"), recorded_at=now,
        recorded_by=caller.name).returning(honours.c.id)).scalar_one()
    stars = list(session.execute(select(awards.c.id).where(
        awards.c.worker_id == data["worker_id"], awards.c.status != "revoked")
        .order_by(awards.c.id)).scalars())
    uow.publish("honour_recorded", {"honour_id": honour_id, "worker_id": data["worker_id"],
                                    "kind": data["kind"], "level": data.get("level"),
                                    "year": data["year"], "star_awards": stars},
                subject=data["worker_id"])
    return {"id": honour_id, **data, "recorded_at": now, "recorded_by": caller.name,
            "star_awards": stars}
