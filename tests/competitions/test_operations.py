"""The use cases against a real database (SQLite and PostgreSQL): nominations and
eligibility, rounds in order, judges and conflicts, blind and idempotent scores, the
ranking, results, objections that move the next one up, flags from later events, honours."""

import pytest

from services.competitions import operations, policy, readmodel, views
from shared.caller import Caller
from shared.errors import Conflict, Forbidden, InvalidInput
from tests.competitions.conftest import (
    BANTIAN,
    BANTIAN_STAFF,
    CONSTRUCTION,
    DISTRICT_ADMIN,
    DISTRICT_STAFF,
    ENTERPRISES,
    NANKENG,
    NANKENG_STAFF,
    NK_PLANT,
    NK_PLANT_UNION,
    NK_SHOP,
    NK_WORKSHOP,
    PD_FACTORY,
    PINGDI,
    PINGDI_STAFF,
    PINGDONG,
    PLANT_UNION,
    at,
    close,
    edition,
    fill,
    judge_caller,
    member_event,
    nomination_data,
    open_,
    published,
    read,
    round_id,
    write,
)

MEMBERS = [(1, NK_PLANT), (2, NK_WORKSHOP), (3, NK_SHOP), (4, PD_FACTORY), (5, NK_PLANT),
           (6, NK_WORKSHOP), (7, PD_FACTORY), (8, NK_PLANT)]


@pytest.fixture
def db(database):
    return fill(database, MEMBERS)


def nominate(db, worker_id, credit_code, by, caller=None, **kwargs):
    caller = caller or (PLANT_UNION if by == NK_PLANT_UNION else NANKENG_STAFF
                        if by == NANKENG else PINGDI_STAFF)
    return write(db, operations.submit_nomination,
                 nomination_data(worker_id, credit_code, by, **kwargs), caller, at())


def test_a_member_nominated_by_her_enterprise_union_qualifies_and_it_is_published(db):
    rounds = edition(db)
    open_(db, rounds, "nomination")
    nomination = nominate(db, 1, NK_PLANT, NK_PLANT_UNION)
    assert nomination["status"] == "qualified" and nomination["failed_rules"] == []
    assert [e["type"] for e in published(db)][-2:] == ["nomination_submitted",
                                                        "nomination_qualified"]
    event = published(db, "nomination_qualified")[0]["data"]
    assert event["organization_path"] == ["longgang", BANTIAN, NANKENG]
    assert "name" not in event  # no personal data in events


def test_a_worker_at_an_enterprise_without_a_union_is_refused_naming_the_rule(db):
    rounds = edition(db)
    open_(db, rounds, "nomination")
    refused = nominate(db, 3, NK_SHOP, NANKENG)
    assert refused["status"] == "refused"
    assert [f["rule"] for f in refused["failed_rules"]] == ["enterprise_union"]
    assert published(db, "nomination_refused")[0]["data"]["failed_rules"][0]["rule"] == \
        "enterprise_union"


def test_nominations_are_checked_for_who_may_nominate_and_one_group_per_edition(db):
    rounds = edition(db)
    with pytest.raises(Conflict, match="not open"):
        nominate(db, 1, NK_PLANT, NK_PLANT_UNION)
    open_(db, rounds, "nomination")
    with pytest.raises(Forbidden):  # 坪地's staff cannot nominate through 南坑
        nominate(db, 2, NK_WORKSHOP, NANKENG, caller=PINGDI_STAFF)
    nominate(db, 2, NK_WORKSHOP, NANKENG)
    with pytest.raises(Conflict, match="one group per nominee"):
        nominate(db, 2, NK_WORKSHOP, NANKENG, group="talent")
    with pytest.raises(InvalidInput):
        nominate(db, 5, NK_PLANT, NK_PLANT_UNION, group="cooking")
    wrong = nominate(db, 4, PD_FACTORY, PINGDONG, years_on_front_line=1)
    assert [f["rule"] for f in wrong["failed_rules"]] == ["front_line_years"]


def run_to_street_finals(db, before_nominations=None):
    rounds = edition(db)
    if before_nominations is not None:
        before_nominations()
    open_(db, rounds, "nomination")
    ids = {}
    for worker, code, by in [(1, NK_PLANT, NK_PLANT_UNION), (2, NK_WORKSHOP, NANKENG),
                             (5, NK_PLANT, NK_PLANT_UNION), (6, NK_WORKSHOP, NANKENG),
                             (4, PD_FACTORY, PINGDONG), (7, PD_FACTORY, PINGDONG)]:
        ids[worker] = nominate(db, worker, code, by)["id"]
    close(db, rounds, "nomination")
    open_(db, rounds, "qualification")
    close(db, rounds, "qualification")
    return rounds, ids


def contestants_of(db, rounds, street, caller):
    detail = read(db, views.round_view, round_id(rounds, "street_final", street), caller)
    return {c["nomination_id"]: c["id"] for c in detail["contestants"]}


def marks(level):
    return {"achievement": level, "benefit": level, "skill": level, "presentation": level,
            "teaching": level}


def score(db, rounds, street, user, contestant, level, score_id=None):
    return write(db, operations.save_score, round_id(rounds, "street_final", street),
                 {"contestant_id": contestant, "score_id": score_id or f"{user}-{contestant}-"
                  f"{level}", "values": marks(level), "comment": "好"}, judge_caller(user),
                 at(30))


def test_a_street_final_with_a_conflicted_judge_blind_idempotent_scores_and_a_ranking(db):
    rounds, ids = run_to_street_finals(db)
    final = round_id(rounds, "street_final", BANTIAN)
    with pytest.raises(Forbidden):  # 坪地's staff do not manage 坂田's final
        write(db, operations.register_judge, final, {"name": "x", "user_name": "x",
                                                     "organization_code": CONSTRUCTION},
              PINGDI_STAFF, at(29))
    for number in range(1, 6):
        write(db, operations.register_judge, final,
              {"name": f"评委{number}", "user_name": f"judge{number}",
               "organization_code": CONSTRUCTION}, BANTIAN_STAFF, at(29))
    # judge 6 works at the plant: two of the contestants are hers
    write(db, operations.register_judge, final, {"name": "厂里评委", "user_name": "judge6",
                                                 "organization_code": NK_PLANT},
          BANTIAN_STAFF, at(29))
    open_(db, rounds, "street_final", BANTIAN, caller=BANTIAN_STAFF, when=at(30))
    seats = contestants_of(db, rounds, BANTIAN, BANTIAN_STAFF)
    assert set(seats) == {ids[1], ids[2], ids[5], ids[6]}

    with pytest.raises(Forbidden, match="同属一个企业"):
        score(db, rounds, BANTIAN, "judge6", seats[ids[1]], 9)
    levels = {ids[1]: [9, 9, 8, 7, 10], ids[5]: [8, 8, 8, 8, 8], ids[2]: [6, 7, 7, 7, 9],
              ids[6]: [5, 5, 6, 5, 5]}
    for nomination, by_judge in levels.items():
        for number, level in enumerate(by_judge, start=1):
            score(db, rounds, BANTIAN, f"judge{number}", seats[nomination], level)
    score(db, rounds, BANTIAN, "judge6", seats[ids[2]], 10)
    # a resend of the same save is saved once; an edit makes version 2
    again = score(db, rounds, BANTIAN, "judge1", seats[ids[1]], 9)
    assert again["duplicate"] is True and again["version"] == 1
    edited = score(db, rounds, BANTIAN, "judge1", seats[ids[1]], 9.5, score_id="edit-0001")
    assert edited["version"] == 2 and edited["duplicate"] is False

    sheet = read(db, views.judge_sheet, final, judge_caller("judge6"))
    mine = {c["contestant_id"]: c for c in sheet["contestants"]}
    assert mine[seats[ids[1]]]["excluded"] == "same_enterprise"
    assert mine[seats[ids[2]]]["score"]["total"] == 100.0
    with pytest.raises(Conflict, match="blind"):
        read(db, views.ranking_view, final, BANTIAN_STAFF)
    with pytest.raises(Forbidden):
        read(db, views.judge_sheet, final, judge_caller("judge7"))

    close(db, rounds, "street_final", BANTIAN, caller=BANTIAN_STAFF, when=at(31))
    with pytest.raises(Conflict, match="frozen"):
        score(db, rounds, BANTIAN, "judge2", seats[ids[1]], 1, score_id="late-0001")
    ranking = read(db, views.ranking_view, final, BANTIAN_STAFF)["groups"][0]
    order = [entry["nomination_id"] for entry in ranking["entries"]]
    # trimmed means: ids[1] (9.5,9,8,7,10 -> drop 10 and 7: 88.33), ids[5] 80, ids[2]
    # (6,7,7,7,9,10 -> drop 10 and 6: 75), ids[6] (5,5,6,5,5 -> 50)
    assert order == [ids[1], ids[5], ids[2], ids[6]]
    top = ranking["entries"][0]
    assert top["total"] == pytest.approx(88.3333, abs=1e-3)
    assert "excluded for a conflict" in top["computation"]
    assert any(line["note"] == "excluded: same_enterprise" for line in top["judges"])
    closed = published(db, "round_closed")[-1]["data"]
    assert closed["groups"][0]["advancing"] == [ids[1], ids[5]]
    history = read(db, views.round_scores, final, BANTIAN_STAFF)["scores"]
    edited_row = next(s for s in history if s["contestant_id"] == seats[ids[1]] and
                      s["version"] == 2)
    assert [c["version"] for c in edited_row["changes"]] == [1, 2]


def open_street_final(db, rounds, street, staff, users) -> dict:
    """Judges ``users`` ({user name: name}) registered, the street's final opened: its
    seats {nomination id: contestant id}."""
    final = round_id(rounds, "street_final", street)
    for user_name, name in users.items():
        write(db, operations.register_judge, final,
              {"name": name, "user_name": user_name, "organization_code": CONSTRUCTION},
              staff, at(29))
    open_(db, rounds, "street_final", street, caller=staff, when=at(30))
    return contestants_of(db, rounds, street, staff)


def full_competition(db):
    """Both street finals scored and closed, the district final scored and closed."""
    rounds, ids = run_to_street_finals(db)
    for street, staff in ((BANTIAN, BANTIAN_STAFF), (PINGDI, PINGDI_STAFF)):
        seats = open_street_final(db, rounds, street, staff,
                                  {f"{street}-j{n}": f"评委{n}" for n in range(1, 4)})
        for nomination, contestant in seats.items():
            level = 10 - sorted(ids.values()).index(nomination)
            for number in range(1, 4):
                score(db, rounds, street, f"{street}-j{number}", contestant, level)
        close(db, rounds, "street_final", street, caller=staff, when=at(31))
    district = round_id(rounds, "district_final")
    for number in range(1, 4):
        write(db, operations.register_judge, district,
              {"name": f"区评委{number}", "user_name": f"d-j{number}",
               "organization_code": CONSTRUCTION}, DISTRICT_STAFF, at(40))
    open_(db, rounds, "district_final", when=at(41))
    detail = read(db, views.round_view, district, DISTRICT_STAFF)
    for contestant in detail["contestants"]:
        level = 10 - sorted(ids.values()).index(contestant["nomination_id"])
        for number in range(1, 4):
            write(db, operations.save_score, district,
                  {"contestant_id": contestant["id"], "score_id": f"d{number}-{contestant['id']}",
                   "values": marks(level), "comment": ""}, judge_caller(f"d-j{number}"), at(41))
    close(db, rounds, "district_final", when=at(42))
    return rounds, ids


def test_an_upheld_objection_revokes_the_award_and_the_next_moves_up(db):
    rounds, ids = full_competition(db)
    # street finals advance 2 each (innovation): 1 and 2 from 坂田, 4 and 7 from 坪地;
    # the district final awards 5: all four, in score order
    open_(db, rounds, "public_notice", when=at(50), objection_days=7)
    results = read(db, views.public_results, "2016", at(50))
    winners = results["groups"][0]["winners"]
    assert [w["name"] for w in winners] == ["职工1", "职工2", "职工4", "职工7"]
    assert results["notice"]["taking_objections"] is True
    first = winners[0]
    code = "1234567812345678"
    with db.session() as session:
        hashed = operations.hash_receipt(session, code)
    lodged = write(db, operations.lodge_objection, {"award_id": first["award_id"],
                                                    "reason": "该职工成果系他人完成"},
                   hashed, "10.0.0.1", at(51))
    with pytest.raises(Conflict, match="objection period"):
        close(db, rounds, "public_notice", when=at(55))
    with pytest.raises(Conflict, match="to be decided"):
        close(db, rounds, "public_notice", when=at(57, 1))
    write(db, operations.decide_objection, lodged["objection_id"],
          {"decision": "upheld", "note": "经核实属实"}, DISTRICT_STAFF, at(52))
    winners = read(db, views.public_results, "2016", at(52))["groups"][0]["winners"]
    assert [(w["name"], w["rank"]) for w in winners] == [("职工2", 1), ("职工4", 2),
                                                         ("职工7", 3)]
    with db.session() as session:
        status = views.objection_status(session, hashed)
    assert status["status"] == "upheld" and status["award"]["name"] == "职工1"
    types = [e["type"] for e in published(db)]
    assert types[-3:] == ["award_revoked", "award_granted", "objection_decided"] or \
        types[-2:] == ["award_revoked", "objection_decided"]
    close(db, rounds, "public_notice", when=at(58))
    open_(db, rounds, "awarded", when=at(60))
    final = [e["data"] for e in published(db, "award_granted") if e["data"]["status"] ==
             "final"]
    assert sorted(e["worker_id"] for e in final) == [2, 4, 7]


def test_only_the_districts_admins_publish_the_rules(db):
    body = policy.load_rules(policy.default_body())
    for caller in (DISTRICT_STAFF, Caller("admin@bantian", "admin", BANTIAN)):
        with pytest.raises(Forbidden):
            write(db, operations.publish_rules, body, None, caller, at())
    assert write(db, operations.publish_rules, body, None, DISTRICT_ADMIN, at())["version"] == 2


def test_the_next_in_rank_moves_into_the_quota_when_a_winner_goes(db):
    # rules whose innovation group has 3 winners: when one goes, the 4th moves up
    body = policy.default_body()
    body["groups"][0]["quotas"]["district_final"] = 3
    published_rules = write(db, operations.publish_rules, policy.load_rules(body), "3 winners",
                            DISTRICT_ADMIN, at())
    assert published_rules["version"] == 2
    rounds, ids = full_competition(db)
    open_(db, rounds, "public_notice", when=at(50))
    winners = read(db, views.public_results, "2016", at(52))["groups"][0]["winners"]
    assert [w["name"] for w in winners] == ["职工1", "职工2", "职工4"]
    with db.session() as session:
        hashed = operations.hash_receipt(session, "8765432187654321")
    lodged = write(db, operations.lodge_objection, {"award_id": winners[1]["award_id"],
                                                    "reason": "材料造假，请核查"},
                   hashed, None, at(51))
    write(db, operations.decide_objection, lodged["objection_id"],
          {"decision": "upheld", "note": None}, DISTRICT_STAFF, at(52))
    winners = read(db, views.public_results, "2016", at(52))["groups"][0]["winners"]
    assert [(w["name"], w["rank"], w["moved_up"]) for w in winners] == [
        ("职工1", 1, False), ("职工4", 2, False), ("职工7", 3, True)]
    moved = published(db, "award_granted")[-1]["data"]
    assert moved["worker_id"] == 7 and moved["moved_up"] is True


def test_leaving_the_union_after_qualifying_flags_the_nomination_for_review(db):
    rounds = edition(db)
    open_(db, rounds, "nomination")
    nomination = nominate(db, 1, NK_PLANT, NK_PLANT_UNION)
    with db.unit_of_work() as uow:
        readmodel.apply_membership(uow, {**member_event(1, NK_PLANT, "left"),
                                         "reason": "离职"}, at(5), at(5))
    flagged = read(db, views.nomination_view, nomination["id"], NANKENG_STAFF)
    assert flagged["flagged"] is True and flagged["status"] == "qualified"
    assert flagged["flags"][0]["reason_code"] == "member_left"
    assert "离职" in flagged["flags"][0]["reason"]
    assert published(db, "nomination_flagged")[0]["data"]["reason_code"] == "member_left"
    # an event seen twice flags once
    with db.unit_of_work() as uow:
        readmodel.apply_membership(uow, {**member_event(1, NK_PLANT, "left"),
                                         "reason": "离职"}, at(5), at(5))
    assert len(published(db, "nomination_flagged")) == 1
    kept = write(db, operations.review_nomination, nomination["id"],
                 {"decision": "kept", "note": "已重新入会"}, NANKENG_STAFF, at(6))
    assert kept["status"] == "qualified"
    assert read(db, views.nomination_view, nomination["id"], NANKENG_STAFF)["flagged"] is False


def test_a_major_case_at_the_enterprise_flags_its_nominees(db):
    rounds = edition(db)
    open_(db, rounds, "nomination")
    nomination = nominate(db, 4, PD_FACTORY, PINGDONG)
    case = {"case_id": "c" * 32, "grade": "serious", "status": "reported",
            "enterprise": {"credit_code": PD_FACTORY}, "reported_at": at(3)}
    with db.unit_of_work() as uow:
        readmodel.apply_case(uow, case, at(3), at(3))
    assert read(db, views.nomination_view, nomination["id"], PINGDI_STAFF)["flagged"] is False
    with db.unit_of_work() as uow:
        readmodel.apply_case(uow, {**case, "grade": "major"}, at(4), at(4))
    flagged = read(db, views.nomination_view, nomination["id"], PINGDI_STAFF)
    assert flagged["flags"][0]["reason_code"] == "major_dispute"
    # a later nomination at the same enterprise is refused by no_major_dispute
    later = nominate(db, 7, PD_FACTORY, PINGDONG)
    assert [f["rule"] for f in later["failed_rules"]] == ["no_major_dispute"]


def test_rounds_open_in_order_and_only_their_staff_manage_them(db):
    rounds = edition(db)
    with pytest.raises(Conflict, match="must close first"):
        open_(db, rounds, "qualification")
    with pytest.raises(Forbidden):
        open_(db, rounds, "nomination", caller=BANTIAN_STAFF)
    open_(db, rounds, "nomination")
    with pytest.raises(Conflict, match="opens once"):
        open_(db, rounds, "nomination")


def test_honours_are_recorded_against_the_worker_and_counted_for_the_stars(db):
    rounds, ids = full_competition(db)
    open_(db, rounds, "public_notice", when=at(50))
    close(db, rounds, "public_notice", when=at(58))
    open_(db, rounds, "awarded", when=at(60))
    honour = write(db, operations.record_honour,
                   {"worker_id": 4, "kind": "may_day_medal", "level": "city",
                    "title": "深圳市五一劳动奖章", "year": 2017, "note": None},
                   DISTRICT_STAFF, at(400))
    assert honour["star_awards"]
    record = read(db, views.worker_record, 4, PINGDI_STAFF)
    assert record["awards"][0]["status"] == "final"
    assert record["honours"][0]["title"] == "深圳市五一劳动奖章"
    stats = read(db, views.statistics, "2016", DISTRICT_ADMIN, None)
    assert stats["nominations"] == 6 and stats["finalists"] == 6 and stats["winners"] == 4
    assert stats["stars_later_honoured"] == 1
    assert {row["code"]: row["winners"] for row in stats["by_street"]} == {BANTIAN: 2,
                                                                           PINGDI: 2}
    bantian = read(db, views.statistics, "2016", BANTIAN_STAFF, None)
    assert bantian["nominations"] == 4
    with pytest.raises(Forbidden):
        read(db, views.statistics, "2016", BANTIAN_STAFF, PINGDI)


def test_a_conflict_declared_before_or_after_scoring_keeps_the_history_and_is_left_out(db):
    rounds, ids = run_to_street_finals(db)
    final = round_id(rounds, "street_final", BANTIAN)
    seats = open_street_final(db, rounds, BANTIAN, BANTIAN_STAFF,
                              {f"judge{n}": f"评委{n}" for n in range(1, 4)})
    first = seats[ids[1]]

    # before scoring: judge1 declares, and may then not score her
    declared = write(db, operations.declare_conflict, final,
                     {"contestant_id": first, "note": "曾是同事"}, judge_caller("judge1"),
                     at(30))
    assert declared == {"judge_id": declared["judge_id"], "contestant_id": first,
                        "reason": "declared", "score_withdrawn": False}
    with pytest.raises(Forbidden, match="自行申报回避"):
        score(db, rounds, BANTIAN, "judge1", first, 9)

    # after scoring (and an edit): judge2's score is set aside, not deleted
    for nomination, contestant in seats.items():
        for user in ("judge2", "judge3"):
            score(db, rounds, BANTIAN, user, contestant, 8 if nomination == ids[1] else 6)
    score(db, rounds, BANTIAN, "judge2", first, 10, score_id="judge2-edit")
    after = write(db, operations.declare_conflict, final, {"contestant_id": first,
                                                           "note": None},
                  judge_caller("judge2"), at(31))
    assert after["score_withdrawn"] is True
    again = write(db, operations.declare_conflict, final, {"contestant_id": first,
                                                           "note": None},
                  judge_caller("judge2"), at(31))
    assert again["reason"] == "declared" and again["score_withdrawn"] is False
    with pytest.raises(Forbidden):
        score(db, rounds, BANTIAN, "judge2", first, 9, score_id="judge2-after")
    sheet = read(db, views.judge_sheet, final, judge_caller("judge2"))
    mine = {c["contestant_id"]: c for c in sheet["contestants"]}
    assert mine[first]["excluded"] == "declared" and mine[first]["score"] is None
    detail = read(db, views.round_view, final, BANTIAN_STAFF)
    assert {c["id"]: c["scores_received"] for c in detail["contestants"]}[first] == 1

    close(db, rounds, "street_final", BANTIAN, caller=BANTIAN_STAFF, when=at(32))
    entry = next(e for e in read(db, views.ranking_view, final, BANTIAN_STAFF)[
        "groups"][0]["entries"] if e["contestant_id"] == first)
    assert entry["total"] == pytest.approx(80.0)  # judge3's alone: 8s, judge2's 10s left out
    assert "2 excluded for a conflict of interest (1 score(s) given before the " \
           "declaration set aside)" in entry["computation"]
    notes = {line["judge_name"]: line["note"] for line in entry["judges"]}
    assert notes["评委1"] == "excluded: declared"
    assert notes["评委2"] == "excluded: declared (score 100.0 set aside)"
    kept = next(s for s in read(db, views.round_scores, final, BANTIAN_STAFF)["scores"]
                if s["contestant_id"] == first and s["judge_id"] == after["judge_id"])
    assert kept["withdrawn_at"] is not None and kept["total"] == 100.0
    assert [c["total"] for c in kept["changes"]] == [80.0, 100.0]


def test_a_public_notice_ends_by_itself_once_no_objection_is_pending(db):
    rounds, ids = full_competition(db)
    open_(db, rounds, "public_notice", when=at(50))  # the rules' 7 days: until at(57)
    notice = round_id(rounds, "public_notice")
    with db.session() as session:
        hashed = operations.hash_receipt(session, "1111222233334444")
    award = read(db, views.public_results, "2016", at(50))["groups"][0]["winners"][0]
    lodged = write(db, operations.lodge_objection, {"award_id": award["award_id"],
                                                    "reason": "请核实该职工的成果"},
                   hashed, None, at(51))
    assert write(db, operations.end_public_notices, at(56, 23)) == []  # still running
    ended = read(db, views.public_results, "2016", at(57))["notice"]
    assert ended["status"] == "open" and ended["taking_objections"] is False
    with pytest.raises(Conflict, match="only while the public notice runs"):
        with db.session() as session:
            other = operations.hash_receipt(session, "5555666677778888")
        write(db, operations.lodge_objection, {"award_id": award["award_id"],
                                               "reason": "公示期后的异议"}, other, None,
              at(57))
    assert write(db, operations.end_public_notices, at(58)) == []  # an objection pending
    assert read(db, views.round_view, notice, DISTRICT_STAFF)["round"]["status"] == "open"

    write(db, operations.decide_objection, lodged["objection_id"],
          {"decision": "dismissed", "note": "查无实据"}, DISTRICT_STAFF, at(59))
    before = len(published(db))
    assert write(db, operations.end_public_notices, at(59, 1)) == ["2016"]
    events = published(db)[before:]
    assert [(e["type"], e["data"].get("stage")) for e in events[:2]] == [
        ("round_closed", "public_notice"), ("round_opened", "awarded")]
    final = [e["data"] for e in events[2:]]
    assert {e["status"] for e in final} == {"final"} and \
        sorted(e["worker_id"] for e in final) == [1, 2, 4, 7]
    assert {e["type"] for e in events[2:]} == {"award_granted"}
    results = read(db, views.public_results, "2016", at(59, 1))
    assert results["notice"]["status"] == "closed"
    assert {w["status"] for w in results["groups"][0]["winners"]} == {"final"}
    assert write(db, operations.end_public_notices, at(70)) == []  # once
    assert len(published(db)) == before + len(events)


def rules_with(**innovation) -> dict:
    """The shipped rules with the innovation group's settings changed."""
    body = policy.default_body()
    policy.group(body, "innovation").update(innovation)
    return policy.load_rules(body)


def publish(db, body, note):
    return write(db, operations.publish_rules, body, note, DISTRICT_ADMIN, at())


# Totals (level x 10) by judge for the four 坂田 finalists A B C D: judge1 is lenient
# with A and wide apart, judges 2 and 3 prefer B. The plain mean follows judge1's spread
# (A 66.67 over B 63.33); per-judge z-scores weigh the three judges alike and put B first.
SPREAD = {"judge1": (10, 3, 2.5, 2), "judge2": (5, 8, 4.5, 4), "judge3": (5, 8, 4.5, 4)}


def bantian_final_ranking(db, rounds, ids) -> dict:
    final = round_id(rounds, "street_final", BANTIAN)
    seats = open_street_final(db, rounds, BANTIAN, BANTIAN_STAFF,
                              {user: user for user in SPREAD})
    order = [seats[ids[worker]] for worker in (1, 2, 5, 6)]
    for user, levels in SPREAD.items():
        for contestant, level in zip(order, levels, strict=True):
            score(db, rounds, BANTIAN, user, contestant, level)
    close(db, rounds, "street_final", BANTIAN, caller=BANTIAN_STAFF, when=at(31))
    [group] = read(db, views.ranking_view, final, BANTIAN_STAFF)["groups"]
    letters = dict(zip(order, "ABCD", strict=True))
    group["order"] = "".join(letters[e["contestant_id"]] for e in group["entries"])
    return group


def test_the_plain_mean_ranks_by_the_averaged_totals(db):
    publish(db, rules_with(aggregation={"method": "mean"}), "plain mean")
    rounds, ids = run_to_street_finals(db)
    group = bantian_final_ranking(db, rounds, ids)
    assert group["method"] == "mean" and group["order"] == "ABCD"
    assert [e["total"] for e in group["entries"][:2]] == [pytest.approx(66.6667, abs=1e-3),
                                                          pytest.approx(63.3333, abs=1e-3)]
    assert "3 of 3 judges scored; (100.0000 + 50.0000 + 50.0000) / 3 = 66.6667" == \
        group["entries"][0]["computation"]


def test_z_scores_weigh_a_harsh_and_a_lenient_judge_alike(db):
    publish(db, rules_with(aggregation={"method": "zscore"}), "z-scores")
    rounds, ids = run_to_street_finals(db)
    group = bantian_final_ranking(db, rounds, ids)
    assert group["method"] == "zscore" and group["order"] == "BACD"
    top = group["entries"][0]
    assert top["value"] == pytest.approx(0.984, abs=1e-3)  # (-0.421 + 1.687 + 1.687) / 3
    assert "mean of each judge's z-score" in top["computation"]
    assert all("z = (" in line["note"] for line in top["judges"])
    assert closed_advancing(db) == [ids[2], ids[1]]


def closed_advancing(db) -> list:
    return published(db, "round_closed")[-1]["data"]["groups"][0]["advancing"]


def test_an_edition_keeps_the_rules_it_was_made_under(db):
    later = rules_with(aggregation={"method": "mean"})
    later["objection_days"] = 3

    def publish_later():
        assert publish(db, later, "a later version")["version"] == 2

    rounds, ids = run_to_street_finals(db, before_nominations=publish_later)
    shown = read(db, views.edition_view, "2016")
    assert shown["rules_version"] == 1 and shown["objection_days"] == 7
    assert policy.group(shown, "innovation")["aggregation"]["method"] == "trimmed_mean"
    nomination = read(db, views.nomination_view, ids[1], NANKENG_STAFF)
    assert nomination["rules_version"] == 1
    group = bantian_final_ranking(db, rounds, ids)
    assert group["method"] == "trimmed_mean"  # version 2's plain mean is not this edition's
    assert published(db, "nomination_qualified")[0]["data"]["rules_version"] == 1


def test_an_enterprise_losing_its_union_or_closing_flags_its_nominees(db):
    rounds = edition(db)
    open_(db, rounds, "nomination")
    workshop = nominate(db, 2, NK_WORKSHOP, NANKENG)
    factory = nominate(db, 4, PD_FACTORY, PINGDONG)
    plant = nominate(db, 1, NK_PLANT, NK_PLANT_UNION)
    data = {e["credit_code"]: e for e in ENTERPRISES}

    def change(code, when, **values):
        with db.unit_of_work() as uow:
            changed = readmodel.registry.apply_enterprise(uow.session,
                                                          {**data[code], **values}, when)
            if changed is not None:
                readmodel.enterprise_changed(uow, changed, when)

    change(NK_WORKSHOP, at(3), union_status="none", union_code=None)
    change(PD_FACTORY, at(4), status="closed")
    change(PD_FACTORY, at(4), status="closed")  # the same snapshot again: one flag
    change(NK_PLANT, at(5), headcount=950)  # nothing that matters to a nomination

    def flags_of(nomination, caller):
        return [(f["reason_code"], f["reason"]) for f in
                read(db, views.nomination_view, nomination["id"], caller)["flags"]]

    assert flags_of(workshop, NANKENG_STAFF) == [
        ("union_lost", "所在企业已不再有工会，也无工联会覆盖")]
    assert flags_of(factory, PINGDI_STAFF) == [("enterprise_closed", "所在企业已关闭")]
    assert flags_of(plant, NANKENG_STAFF) == []
    assert sorted(e["data"]["reason_code"] for e in published(db, "nomination_flagged")) \
        == ["enterprise_closed", "union_lost"]
    flagged = read(db, views.nominations_page, NANKENG_STAFF,
                   {"edition_id": "2016", "flagged": True, "cursor": None, "limit": 10})
    assert [n["id"] for n in flagged["items"]] == [workshop["id"]]


def test_a_disqualification_revokes_the_award_the_next_moves_up_and_counts_stay_true(db):
    publish(db, rules_with(quotas={"qualification": None, "street_final": 2,
                                   "district_final": 3}), "3 winners")
    rounds, ids = full_competition(db)
    open_(db, rounds, "public_notice", when=at(50))
    winners = read(db, views.public_results, "2016", at(50))["groups"][0]["winners"]
    assert [w["name"] for w in winners] == ["职工1", "职工2", "职工4"]
    with db.unit_of_work() as uow:  # 职工2 leaves her union during the notice
        readmodel.apply_membership(uow, {**member_event(2, NK_WORKSHOP, "left"),
                                         "reason": "离职"}, at(51), at(51))
    with pytest.raises(Conflict, match="no flag"):
        write(db, operations.review_nomination, ids[1], {"decision": "disqualified",
                                                         "note": None}, NANKENG_STAFF, at(52))
    write(db, operations.review_nomination, ids[2],
          {"decision": "disqualified", "note": "已离职退会"}, NANKENG_STAFF, at(52))
    winners = read(db, views.public_results, "2016", at(52))["groups"][0]["winners"]
    assert [(w["name"], w["rank"], w["moved_up"]) for w in winners] == [
        ("职工1", 1, False), ("职工4", 2, False), ("职工7", 3, True)]
    revoked = published(db, "award_revoked")[-1]["data"]
    assert revoked["worker_id"] == 2 and revoked["reason"] == "复核后取消资格"
    assert revoked["objection_id"] is None
    assert read(db, views.worker_record, 2, NANKENG_STAFF)["awards"][0]["status"] == \
        "revoked"

    stats = read(db, views.statistics, "2016", DISTRICT_ADMIN, None)
    assert (stats["nominations"], stats["qualified"], stats["disqualified"],
            stats["refused"], stats["winners"]) == (6, 5, 1, 0, 3)
    bantian = next(row for row in stats["by_street"] if row["code"] == BANTIAN)
    assert (bantian["nominations"], bantian["qualified"], bantian["winners"]) == (4, 3, 1)
    workshop = next(row for row in stats["by_enterprise"] if row["code"] == NK_WORKSHOP)
    assert (workshop["nominations"], workshop["qualified"]) == (2, 1)
