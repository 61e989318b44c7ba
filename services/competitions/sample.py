"""The 2016 edition as a sample: 龙岗区2016年“职工之星”, 200+ street finalists.

"龙岗区2016“职工之星”共有200多名一线职工进入街道级决赛" (the seed article): the sample runs the
edition through every round on the sample district, with the dates of 2016 (坪地's
street final on 7 April, as the article tells; the awards on 27 May), all of it through
``operations``:

- 21 nominees in each of the 11 streets (231 finalists) across the five groups, plus
  six nominations from enterprises with no union (refused, the rule named) and one
  nominee who left her union after qualifying (flagged, then disqualified on review);
  刘军 of 愉升龙五金 presents in 坪地's final, 李佳文, a 90后 team leader, in 坂田's;
- seven judges per street final and nine at the district final, one of each street's
  from an enterprise of that street (its own workers are excluded from their marks);
- seeded marks, rankings, the public notice with one objection (dismissed), the awards,
  and a few honours recorded in 2017 for some of the stars.

Competitions does not consume membership's bulk-import batches (``member_batch_imported``
names their members; incubation keeps them), so it does not learn the sample district's
members one by one: the sample
records its nominees' memberships in this service's member read model itself, as
membership's events would (worker numbers from 2016000001, far from membership's own).

The registry's sample district reaches this service as events, so ``gonghui up``
(``prepare``) only asks for the sample; the running service's timer loads it once every
street of the district is in the read model (``load_if_ready``).
"""

import logging
import random
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, insert, select, update

from services.competitions import operations, readmodel, views
from services.competitions.models import (
    awards,
    editions,
    enterprises,
    organizations,
    settings,
)
from shared.caller import Caller
from shared.db import opened_database

log = logging.getLogger(__name__)

DISTRICT = "longgang"
EDITION = "2016"
SEED = 20160407
STREETS = 11
PER_STREET = {"innovation": 5, "team_management": 5, "talent": 4, "contribution": 3,
              "frontline": 4}  # 21 finalists a street
JUDGES = 7
DISTRICT_JUDGES = 9
FIRST_WORKER = 2016000001
REQUEST = "sample_requested"
READY_ENTERPRISES = 60  # with a union, in every street, before the sample loads
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何林罗郑梁谢宋唐许邓冯韩曹曾彭萧蔡潘田董袁"
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰志红建国海燕春梅文斌辉"
ADMIN = Caller("sample", "admin", DISTRICT)
JUDGE_ORGANIZATIONS = [DISTRICT, "longgang.construction", "longgang.transport",
                       "longgang.education", "longgang.health"]
COMMENTS = ["表现出色", "建议多联系沟通和表达", "成果扎实", "现场展示有感染力", ""]
STATEMENTS = {
    "innovation": "主持技术革新项目，改进工艺流程，获得实用新型专利。",
    "team_management": "带领班组推行精益管理，改进工艺、提升质量、减少浪费。",
    "talent": "业余坚持文艺创作，节目多次在社区和企业文艺汇演中获奖。",
    "contribution": "扎根龙岗多年，为企业和社区发展作出突出贡献。",
    "frontline": "长期坚守生产一线岗位，爱岗敬业，工友口碑好。",
}


def at(month, day, hour=9, minute=0) -> datetime:
    return datetime(2016, month, day, hour, minute, tzinfo=UTC) - timedelta(hours=8)


# --- asking for it ----------------------------------------------------------------------

def prepare(database_url, migrations_dir):
    """``gonghui up``: ask for the sample once (it loads when the registry's data is in)."""
    with opened_database(database_url, "competitions", migrations_dir) as db:
        if not request(db):
            yield "sample edition requested before; not asked again"
        else:
            yield ("sample requested: the 2016 edition (231 street finalists) loads once "
                   "the registry's district has arrived")


def request(db) -> bool:
    with db.unit_of_work() as uow:
        asked = uow.session.execute(select(settings.c.key).where(
            settings.c.key == REQUEST)).first()
        exists = uow.session.execute(select(editions.c.id).where(
            editions.c.id == EDITION)).first()
        if asked or exists:
            return False
        uow.session.execute(insert(settings).values(key=REQUEST, value="asked"))
        return True


def ready(session) -> bool:
    """The registry's district is in: its streets with their enterprises, and every
    organization a judge comes from (each registry event type has its own queue, so the
    industry unions may arrive after the streets; a load begun without them stopped
    part-way)."""
    judges_from = set(session.execute(select(organizations.c.code).where(
        organizations.c.code.in_(JUDGE_ORGANIZATIONS))).scalars())
    if judges_from != set(JUDGE_ORGANIZATIONS):
        return False
    streets = session.execute(select(organizations.c.code).where(
        organizations.c.parent_code == DISTRICT,
        organizations.c.kind == "street_federation")).scalars()
    streets = list(streets)
    if len(streets) < STREETS:
        return False
    for street in streets:
        count = session.execute(select(func.count()).select_from(enterprises).where(
            readmodel.registry.under(enterprises, [DISTRICT, street]),
            enterprises.c.union_status != "none", enterprises.c.status == "active")).scalar()
        if count < READY_ENTERPRISES:
            return False
    return True


def load_if_ready(db) -> dict | None:
    """Load the requested sample once the registry's district is in (one replica, once)."""
    with db.session() as session:
        asked = session.execute(select(settings.c.value).where(
            settings.c.key == REQUEST)).scalar()
        if asked != "asked" or not ready(session):
            return None
    with db.unit_of_work() as uow:
        claimed = uow.session.execute(update(settings).where(
            settings.c.key == REQUEST, settings.c.value == "asked").values(value="loading")
        ).rowcount
    if not claimed:
        return None
    try:
        summary = load(db)
    except Exception:
        # Claimed and part-written: it is not tried again (the edition exists), so say so
        # loudly rather than leave a half sample that looks loaded.
        log.exception("the 2016 sample edition stopped part-way; it will not be retried")
        raise
    with db.unit_of_work() as uow:
        uow.session.execute(update(settings).where(settings.c.key == REQUEST)
                            .values(value="loaded"))
    log.info("loaded the 2016 sample edition: %s", summary)
    return summary


# --- the edition ------------------------------------------------------------------------

def _write(db, operation, *args, **kwargs):
    with db.unit_of_work() as uow:
        return operation(uow, *args, **kwargs)


def _person(rng) -> str:
    return rng.choice(SURNAMES) + "".join(rng.choice(GIVEN) for _ in range(rng.randint(1, 2)))


def _facts(rng, group) -> dict:
    facts = {"years_on_front_line": rng.randint(3, 20), "years_in_district":
             rng.randint(10, 23), "birth_year": rng.randint(1962, 1994)}
    if group == "team_management":
        facts["team_leader"] = True
    if group == "frontline":
        facts["years_on_front_line"] = rng.randint(10, 25)
    return facts


def load(db, seed=SEED) -> dict:
    rng = random.Random(seed)
    with db.session() as session:
        streets = [dict(row._mapping) for row in session.execute(select(organizations).where(
            organizations.c.parent_code == DISTRICT,
        organizations.c.kind == "street_federation")
            .order_by(organizations.c.code))]
        places = {street["code"]: [dict(row._mapping) for row in session.execute(
            select(enterprises).where(readmodel.registry.under(enterprises, street["path"]),
                                      enterprises.c.status == "active")
            .order_by(enterprises.c.credit_code))] for street in streets}
    _write(db, operations.create_edition, {"id": EDITION, "year": 2016,
                                           "title": "龙岗区2016年“职工之星”评选",
                                           "rules_version": None}, ADMIN, at(2, 15))
    rounds = {(r["stage"], r["organization_code"]): r["id"]
              for r in _read(db, operations.edition_rounds, EDITION)}
    _write(db, operations.open_round, rounds[("nomination", DISTRICT)], ADMIN, at(2, 20))

    worker = FIRST_WORKER
    nominated, refused = [], 0
    for street in streets:
        with_union = [e for e in places[street["code"]] if e["union_status"] != "none"]
        without = [e for e in places[street["code"]] if e["union_status"] == "none"]
        for group, count in PER_STREET.items():
            for _ in range(count):
                name = _person(rng)
                if street["code"] == "longgang.pingdi" and group == "team_management" and \
                        "刘军" not in [n[1] for n in nominated]:
                    name = "刘军"
                if street["code"] == "longgang.bantian" and group == "team_management" and \
                        "李佳文" not in [n[1] for n in nominated]:
                    name = "李佳文"
                nominated.append((_nominate(db, rng, worker, name, group,
                                            rng.choice(with_union)), name))
                worker += 1
        if without and refused < 6 and rng.random() < 0.7:
            _nominate(db, rng, worker, _person(rng), "frontline", rng.choice(without))
            refused += 1
            worker += 1
    leaver = nominated[3][0]
    with db.unit_of_work() as uow:
        member = readmodel.memberships.member(uow.session, leaver["worker_id"])
        readmodel.apply_membership(uow, {
            "membership_id": member["membership_id"], "worker_id": member["worker_id"],
            "union_code": member["union_code"],
            "enterprise_credit_code": member["enterprise_credit_code"],
            "organization_path": member["path"], "status": "left", "reason": "离职"},
            at(3, 12), at(3, 12))
    _write(db, operations.close_round, rounds[("nomination", DISTRICT)], ADMIN, at(3, 15))
    _write(db, operations.open_round, rounds[("qualification", DISTRICT)], ADMIN, at(3, 16))
    _write(db, operations.review_nomination, leaver["id"],
           {"decision": "disqualified", "note": "被推荐人已离职退会"}, ADMIN, at(3, 18))
    _write(db, operations.close_round, rounds[("qualification", DISTRICT)], ADMIN, at(3, 25))

    finals = {r["organization_code"]: r["id"] for r in _read(db, operations.edition_rounds,
                                                             EDITION)
              if r["stage"] == "street_final"}
    days = iter([5, 6, 8, 9, 11, 12, 13, 14, 15, 18, 19])
    for street in streets:
        if street["code"] not in finals:
            continue
        when = at(4, 7 if street["code"] == "longgang.pingdi" else next(days), 14)
        employers = sorted({n["enterprise_credit_code"] for n, _ in nominated
                            if n["street_code"] == street["code"]})
        judges = _judges(db, rng, finals[street["code"]], street, employers,
                         JUDGES, when - timedelta(days=2))
        _score_round(db, rng, finals[street["code"]], judges, when)
    district_final = rounds[("district_final", DISTRICT)]
    judges = _judges(db, rng, district_final, None, [], DISTRICT_JUDGES, at(5, 3))
    _score_round(db, rng, district_final, judges, at(5, 6))

    notice = rounds[("public_notice", DISTRICT)]
    _write(db, operations.open_round, notice, ADMIN, at(5, 10))
    winners = [w for group in _read(db, views.public_results, EDITION, at(5, 10))["groups"]
               for w in group["winners"]]
    with db.session() as session:
        # a receipt_ref as the gateway sends it: no code reaches the service
        hashed = operations.hash_receipt(session, f"{rng.randrange(10**16):032x}")
    objection = _write(db, operations.lodge_objection,
                       {"award_id": winners[0]["award_id"],
                        "reason": "听说该职工的创新成果是团队完成的，请核实。"},
                       hashed, "sample", at(5, 12))
    _write(db, operations.decide_objection, objection["objection_id"],
           {"decision": "dismissed", "note": "经核实，该成果由本人主持完成，异议不成立。"},
           ADMIN, at(5, 14))
    _write(db, operations.close_round, notice, ADMIN, at(5, 17, 10))
    _write(db, operations.open_round, rounds[("awarded", DISTRICT)], ADMIN, at(5, 27))
    honoured = _honours(db, rng, winners)
    return {"nominations": len(nominated) + refused, "finalists": len(nominated) - 1,
            "refused": refused, "winners": len(winners), "honours": honoured}


def _read(db, view, *args):
    with db.session() as session:
        return view(session, *args)


def _nominate(db, rng, worker_id, name, group, enterprise) -> dict:
    union = enterprise["union_code"] or enterprise["community_code"]
    with db.unit_of_work() as uow:
        readmodel.apply_membership(uow, {
            "membership_id": worker_id, "worker_id": worker_id, "union_code": union,
            "enterprise_credit_code": enterprise["credit_code"],
            "organization_path": list(enterprise["path"]), "status": "active"},
            at(1, 1), at(1, 1))
    return _write(db, operations.submit_nomination, {
        "edition_id": EDITION, "group": group, "worker_id": worker_id, "name": name,
        "enterprise_credit_code": enterprise["credit_code"],
        "nominated_by": enterprise["community_code"], "statement": STATEMENTS[group],
        "attachments": [{"name": "推荐表.pdf", "media_type": "application/pdf",
                         "size": rng.randint(80_000, 900_000), "sha256": None}],
        "facts": _facts(rng, group)}, ADMIN, at(2, 20) + timedelta(minutes=worker_id % 9000))


def _judges(db, rng, round_id, street, places, count, when) -> list[Caller]:
    callers = []
    for number in range(count):
        if street is not None and number == count - 1 and places:
            organization = rng.choice(places)  # an expert from a finalist's employer
        elif street is not None and number == count - 2:
            organization = street["code"]
        else:
            organization = JUDGE_ORGANIZATIONS[number % len(JUDGE_ORGANIZATIONS)]
        user = f"judge-{round_id}-{number + 1}"
        _write(db, operations.register_judge, round_id,
               {"name": f"{_person(rng)}（评委{number + 1}）", "user_name": user,
                "organization_code": organization}, ADMIN, when)
        callers.append(Caller(user, "judge", organization))
    return callers


def _score_round(db, rng, round_id, judges, when) -> None:
    _write(db, operations.open_round, round_id, ADMIN, when)
    detail = _read(db, views.round_view, round_id, ADMIN)
    bias = [rng.gauss(0, 0.4) for _ in judges]
    excluded = {(e["contestant_id"], judge["id"]) for judge in detail["judges"]
                for e in judge["exclusions"]}
    judge_ids = [judge["id"] for judge in detail["judges"]]
    with db.session() as session:
        edition = operations.edition_row(session, EDITION)
        criteria = {g["code"]: g["criteria"] for g in
                    operations.edition_rules(session, edition)["groups"]}
    for contestant in detail["contestants"]:
        quality = rng.gauss(8.0, 0.6)
        for index, judge in enumerate(judges):
            if (contestant["id"], judge_ids[index]) in excluded:
                continue
            values = {c["code"]: max(0.0, min(10.0, round(2 * (quality + bias[index]
                                                               + rng.gauss(0, 0.3))) / 2))
                      for c in criteria[contestant["group"]]}
            _write(db, operations.save_score, round_id, {
                "contestant_id": contestant["id"],
                "score_id": f"sample-{round_id}-{contestant['id']}-{index}",
                "values": values, "comment": rng.choice(COMMENTS)},
                judge, when + timedelta(minutes=contestant["running_order"] * 8))
    _write(db, operations.close_round, round_id, ADMIN, when + timedelta(hours=8))


def _honours(db, rng, winners) -> int:
    """Some of the 2016 stars honoured later, as the article tells of earlier ones."""
    honours = [("may_day_medal", "city", "深圳市五一劳动奖章"),
               ("may_day_medal", "city", "深圳市五一劳动奖章"),
               ("peoples_congress_deputy", "city", "深圳市人大代表（工人类别）"),
               ("national_model_worker", "national", "全国劳动模范")]
    chosen = rng.sample(winners, len(honours))
    with db.session() as session:
        workers = dict(session.execute(select(awards.c.id, awards.c.worker_id)).all())
    for winner, (kind, level, title) in zip(chosen, honours, strict=True):
        year = 2020 if kind == "national_model_worker" else 2017
        _write(db, operations.record_honour, {
            "worker_id": workers[winner["award_id"]], "kind": kind, "level": level,
            "title": title, "year": year, "note": "2016年“职工之星”"}, ADMIN,
            datetime(year, 5, 1, tzinfo=UTC))
    return len(honours)
