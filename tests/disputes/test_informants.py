"""Informants: pseudonyms everywhere, receipts as slow hashes, audited reveals, rewards."""

import json
from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select, text

from services.disputes import domain, operations, policy, views
from services.disputes.models import identity_reveals, reports
from shared.api import disputes as contract
from shared.caller import Caller
from shared.errors import Conflict, Forbidden, InvalidInput, NotFound, Unauthorized
from shared.schemas import load
from tests.disputes.conftest import (
    DISTRICT,
    DISTRICT_ADMIN,
    KEYS,
    NANKENG,
    NANKENG_STAFF,
    ZHANGBEI,
    at,
    file_report,
    move,
    officer,
    published,
    report_data,
    view,
    walk,
)

T0 = at(2025, 3, 1, 2)
LONGCHENG_ADMIN = Caller("admin@longcheng", "admin", "longgang.longcheng")


def test_an_officers_name_and_phone_appear_in_no_event_view_or_statistic(database):
    informant, token = officer(database, name="王秀英", phone="13912345678")
    result = file_report(database, T0, informant=informant)
    move(database, result["case_id"], "verified", T0)
    seen = json.dumps([published(database), view(database, result["case_id"])],
                      ensure_ascii=False, default=str)
    with database.session() as session:
        seen += json.dumps(views.statistics(session, DISTRICT), ensure_ascii=False)
    assert informant in seen  # the pseudonym is how reports are credited
    assert "王秀英" not in seen and "13912345678" not in seen
    assert len(token) >= 43
    with database.session() as session:
        assert views.officer_by_token(session, token).id == informant
        stored = session.execute(text("SELECT token_hash FROM informants")).scalar()
    assert stored == domain.token_hash(token) != token


def test_a_revoked_or_unknown_officer_token_is_refused(sqlite_database):
    informant, token = officer(sqlite_database)
    with sqlite_database.unit_of_work() as uow:
        operations.revoke_officer(uow, informant, NANKENG_STAFF)
    with sqlite_database.session() as session:
        for bad in (token, "not-a-token", ""):
            with pytest.raises(Unauthorized):
                views.officer_by_token(session, bad)


def test_an_anonymous_receipt_is_kept_only_as_an_argon2_hash_and_finds_the_report(
        sqlite_database):
    code = domain.new_receipt_code()
    assert len(code) == 16 and code.isdigit()
    data = report_data()
    with sqlite_database.unit_of_work() as uow:
        informant, _ = operations.register_informant(uow.session, "anonymous", T0)
        digest = views.receipt_hash(uow.session, code)
        result = operations.submit_report(uow, data, informant, T0, digest)
    with sqlite_database.session() as session:
        stored = session.execute(select(reports.c.receipt_hash)).scalar()
        assert stored == digest and code not in stored and len(stored) == 64
        status = views.receipt_status(session, load(contract.ReceiptSchema(), {
            "receipt_code": domain.format_receipt(code)})["receipt_code"])
    assert (status["report"], status["status"], status["steps"]) == (
        result["report"], "reported", [])
    with sqlite_database.session() as session, pytest.raises(NotFound):
        wrong = f"{(int(code) + 1) % 10**16:016d}"
        views.receipt_status(session, wrong)
    with pytest.raises(InvalidInput):
        load(contract.ReceiptSchema(), {"receipt_code": "1234"})


def test_an_identity_is_revealed_only_to_an_admin_of_the_subtree_with_a_reason_and_logged(
        sqlite_database):
    informant, _ = officer(sqlite_database, name="王秀英", phone="13912345678")
    file_report(sqlite_database, T0, informant=informant)
    with sqlite_database.unit_of_work() as uow:
        for actor, reason, error in ((NANKENG_STAFF, "pay reward", Forbidden),
                                     (LONGCHENG_ADMIN, "pay reward", Forbidden),
                                     (DISTRICT_ADMIN, "", InvalidInput)):
            with pytest.raises(error):
                operations.reveal_identity(uow, informant, reason, actor, T0, KEYS)
        assert uow.session.execute(select(identity_reveals)).all() == []
        revealed = operations.reveal_identity(uow, informant, "支付奖励 #1",
                                          DISTRICT_ADMIN, T0, KEYS)
    assert revealed == {"informant": informant, "real_name": "王秀英",
                        "phone": "13912345678"}
    with sqlite_database.session() as session:
        assert views.reveals(session, informant) == [{
            "requested_by": "admin@longgang", "role": "admin", "organization_code": DISTRICT,
            "reason": "支付奖励 #1", "at": T0}]


def test_verifying_and_resolving_a_case_fills_the_ledger_with_explained_entries(database):
    first, _ = officer(database)
    second, _ = officer(database, name="李四")
    case_id = file_report(database, T0, informant=first, workers_affected=40,
                          expected_at="2025-03-20")["case_id"]
    file_report(database, T0 + timedelta(days=1), informant=second, workers_affected=40)
    move(database, case_id, "verified", T0 + timedelta(days=2))
    move(database, case_id, "handling", T0 + timedelta(days=3), handled_by_tier="community",
         joint=False)
    move(database, case_id, "resolved", T0 + timedelta(days=9), wages_recovered="80000",
         workers_covered=40)
    ledger = [(r["informant"], r["stage"], r["amount"], r["status"])
              for r in view(database, case_id)["rewards"]]
    assert ledger == [(first, "verified", "500.00", "pending"),  # 600/2 + 200 early
                      (second, "verified", "300.00", "pending"),
                      (first, "resolved", "150.00", "pending"),
                      (second, "resolved", "150.00", "pending")]
    entry = view(database, case_id)["rewards"][0]
    assert entry["explanation"] == ["verified.urgent: 600.00",
                                    "shared credit (first_reporter, 2 reports): x0.5000",
                                    "early warning (7+ days ahead): +200.00"]
    with database.session() as session:
        mine = views.informant_rewards(session, second)
    assert {r["informant"] for r in mine} == {second}


def test_the_monthly_cap_limits_what_one_informant_earns(sqlite_database):
    informant, _ = officer(sqlite_database)
    amounts = []
    for number in range(5):  # major boss-absconded: 1500 each, cap 3000 a month
        case_id = file_report(sqlite_database, T0, informant=informant,
                              credit_code=None, name=f"走逃厂{number}", address="南坑",
                              community_code=NANKENG, category="boss_absconded")["case_id"]
        case = move(sqlite_database, case_id, "verified", T0 + timedelta(days=1))
        amounts.append(case["rewards"][0]["amount"])
    assert amounts == ["1500.00", "1500.00", "0.00", "0.00", "0.00"]
    assert case["rewards"][0]["explanation"][-1] == "monthly cap 3000.00: 1500.00 cut to 0.00"
    # a new month, a new allowance
    case_id = file_report(sqlite_database, T0, informant=informant, credit_code=None,
                          name="走逃厂9", address="南坑", community_code=NANKENG,
                          category="boss_absconded")["case_id"]
    assert move(sqlite_database, case_id, "verified", at(2025, 4, 2))["rewards"][0][
        "amount"] == "1500.00"


def test_a_report_is_rewarded_under_the_policy_in_force_when_it_came_in(sqlite_database):
    body = json.loads(json.dumps(policy.default_body("rewards")))
    body["amounts"]["verified"]["serious"] = "900"
    with sqlite_database.unit_of_work() as uow:
        version = operations.publish_policy(uow, "rewards", body, at(2025, 4, 1),
                                            DISTRICT_ADMIN, T0)["version"]
    before = file_report(sqlite_database, at(2025, 3, 31))["case_id"]
    after = file_report(sqlite_database, at(2025, 4, 2), credit_code=None, name="新厂",
                        address="南坑", community_code=NANKENG)["case_id"]
    got = [move(sqlite_database, case_id, "verified", at(2025, 4, 5))["rewards"][0]
           for case_id in (before, after)]
    assert [(r["amount"], r["policy_version"]) for r in got] == [
        ("300.00", 1), ("900.00", version)]


def test_a_bad_policy_is_refused_and_only_admins_publish(sqlite_database):
    with sqlite_database.unit_of_work() as uow:
        with pytest.raises(InvalidInput) as error:
            operations.publish_policy(uow, "rewards", {"amounts": {}}, T0,
                                  DISTRICT_ADMIN, T0)
        assert "sharing" in error.value.details
        with pytest.raises(Forbidden):
            operations.publish_policy(uow, "grading",
                                  policy.default_body("grading"), T0, NANKENG_STAFF, T0)


def test_a_reward_is_approved_then_paid_only_after_an_audited_reveal(sqlite_database):
    informant, _ = officer(sqlite_database)
    case_id = file_report(sqlite_database, T0, informant=informant)["case_id"]
    reward_id = move(sqlite_database, case_id, "verified", T0)["rewards"][0]["id"]
    with sqlite_database.unit_of_work() as uow:
        with pytest.raises(Conflict):
            operations.pay_reward(uow, reward_id, DISTRICT_ADMIN, T0)  # not approved
        with pytest.raises(Forbidden):
            operations.approve_reward(uow, reward_id, NANKENG_STAFF, T0)
        approved = operations.approve_reward(uow, reward_id, DISTRICT_ADMIN, T0)
        assert approved["status"] == "approved"
    with sqlite_database.unit_of_work() as uow, pytest.raises(Conflict) as error:
        operations.pay_reward(uow, reward_id, DISTRICT_ADMIN, T0)
    assert "reveal" in error.value.message
    with sqlite_database.unit_of_work() as uow:
        operations.reveal_identity(uow, informant, "支付奖励", DISTRICT_ADMIN, T0, KEYS)
        paid = operations.pay_reward(uow, reward_id, DISTRICT_ADMIN, T0)
    assert (paid["status"], paid["amount"]) == ("paid", "300.00")
    with sqlite_database.session() as session:
        assert [r["status"] for r in views.list_rewards(session, DISTRICT_ADMIN)["items"]] == [
            "paid"]
        assert views.list_rewards(session, Caller("z", "admin", ZHANGBEI))["items"] == []


def test_an_anonymous_informant_sees_only_their_own_report_and_reward(sqlite_database):
    codes = []
    for number in range(2):
        code = domain.new_receipt_code()
        with sqlite_database.unit_of_work() as uow:
            informant, _ = operations.register_informant(uow.session, "anonymous", T0)
            result = operations.submit_report(uow, report_data(), informant,
                                          T0 + timedelta(hours=number),
                                          views.receipt_hash(uow.session, code))
        codes.append(code)
    move(sqlite_database, result["case_id"], "verified", T0 + timedelta(days=1))
    with sqlite_database.session() as session:
        statuses = [views.receipt_status(session, code) for code in codes]
    assert [v["status"] for v in statuses] == ["verified", "verified"]
    assert [len(v["rewards"]) for v in statuses] == [1, 1]
    assert statuses[0]["rewards"][0]["report"] == statuses[0]["report"]
    assert statuses[0]["rewards"][0]["amount"] == str(Decimal("150.00"))
    assert statuses[1]["rewards"][0]["report"] == statuses[1]["report"] != statuses[0]["report"]


def test_an_officer_walks_their_own_reports_newest_first_and_their_rewards(database):
    informant, token = officer(database)
    filed = [file_report(database, T0 + timedelta(minutes=number), informant=informant,
                         category=category)
             for number, category in enumerate(("unpaid_wages", "closure", "relocation",
                                                "other", "unpaid_social_insurance"))]
    for report in filed[:3]:
        move(database, report["case_id"], "verified", T0 + timedelta(days=1))
    with database.session() as session:
        reports = walk(lambda cursor: views.officer_reports(session, informant, cursor, 2), 2)
        rewards = walk(lambda cursor: views.my_rewards(session, cursor, 2,
                                                       officer_token=token), 2)
    assert [mine["report"] for mine in reports] == [report["report"]
                                                    for report in reversed(filed)]
    assert [(mine["report"], mine["stage"]) for mine in rewards] == [
        (report["report"], "verified") for report in filed[:3]]
