"""Rewards (奖励办法): the ledger a verified and a resolved case fills, under the policy in
force when each report came in, capped per month, approved and paid by an admin."""

import json
from datetime import timedelta

import pytest

from services.disputes import operations, policy, views
from shared.caller import Caller
from shared.errors import Conflict, Forbidden, InvalidInput
from tests.disputes.conftest import (
    BANTIAN,
    DISTRICT_ADMIN,
    KEYS,
    NANKENG,
    NANKENG_STAFF,
    ZHANGBEI,
    at,
    file_report,
    move,
    officer,
    view,
    walk,
)

T0 = at(2025, 3, 1, 2)


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


def test_a_street_admin_cannot_publish_the_district_wide_reward_policy(sqlite_database):
    street_admin = Caller("admin@bantian", "admin", BANTIAN)
    for caller in (street_admin, Caller("admin@elsewhere", "admin", "futian")):
        with sqlite_database.unit_of_work() as uow, pytest.raises(Forbidden) as error:
            operations.publish_policy(uow, "rewards", policy.default_body("rewards"), T0,
                                      caller, T0)
        assert "district" in error.value.message
    with sqlite_database.session() as session:
        assert len(views.list_policies(session, "rewards", None, 10)["items"]) == 1


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


def test_the_ledger_and_the_policy_versions_are_walked_page_by_page(sqlite_database):
    informants = [officer(sqlite_database, name=name)[0] for name in ("周一", "吴二", "郑三")]
    case_id = None
    for number, informant in enumerate(informants):
        case_id = file_report(sqlite_database, T0 + timedelta(hours=number),
                              informant=informant)["case_id"]
    move(sqlite_database, case_id, "verified", T0 + timedelta(days=1))
    body = policy.default_body("rewards")
    with sqlite_database.unit_of_work() as uow:
        for month in (4, 5):
            operations.publish_policy(uow, "rewards", body, at(2025, month, 1),
                                      DISTRICT_ADMIN, T0)
    with sqlite_database.session() as session:
        ledger = walk(lambda cursor: views.list_rewards(
            session, DISTRICT_ADMIN, {"cursor": cursor, "limit": 2}), 2)
        versions = walk(lambda cursor: views.list_policies(session, "rewards", cursor, 1), 1)
        approved = views.list_rewards(session, DISTRICT_ADMIN, {"status": "approved"})
    assert [entry["informant"] for entry in ledger] == informants
    assert [entry["id"] for entry in ledger] == sorted(entry["id"] for entry in ledger)
    assert [version["version"] for version in versions] == [1, 2, 3]
    assert approved == {"items": [], "next_cursor": None}
