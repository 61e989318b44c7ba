"""Funds, calls, applications, awards within the remaining budget (also under concurrent
awards), tranches against accepted progress reports, and ledgers that balance."""

from datetime import timedelta
from decimal import Decimal
from unittest import mock

import eventlet
import pytest
from sqlalchemy import func, select

from services.incubation import operations, views
from services.incubation.domain import today_in
from services.incubation.models import ledger
from shared.errors import Conflict, Forbidden, InvalidInput
from shared.timeutil import now_utc
from tests.incubation.conftest import (
    DISTRICT,
    FACTORY,
    HUB_STAFF,
    LONGCHENG_STAFF,
    graded,
    outbox,
    own_account,
    read,
    write,
)


def new_fund(db, budget="1000000.00", name="龙岗区职工服务社会组织扶持资金", owner=DISTRICT):
    return write(db, operations.create_fund, {"name": name, "source": "district",
                                              "owner_code": owner,
                                              "budget": Decimal(budget)}, HUB_STAFF)


def new_call(db, fund_id, min_grade="3A", opens=-1, closes=30, max_award=None):
    return write(db, operations.open_call, fund_id, {
        "title": "职工服务品牌项目资助", "opens_at": now_utc() + timedelta(days=opens),
        "closes_at": now_utc() + timedelta(days=closes),
        "eligibility": {"min_grade": min_grade} if min_grade else {},
        "max_award": None if max_award is None else Decimal(max_award)}, HUB_STAFF)


def apply(db, call_id, organization_id, amount="300000.00", caller=None):
    return write(db, operations.apply_to_call, call_id, {
        "organization_id": organization_id, "project": "外来务工人员法律援助进社区",
        "amount": Decimal(amount)}, caller or own_account(organization_id))


def reviewed(db, call_id, organization_id, amount="300000.00"):
    application = apply(db, call_id, organization_id, amount)
    return write(db, operations.review_application, application["id"],
                 {"score": Decimal("88.5"), "note": None}, HUB_STAFF)


def award(db, application_id, amount=None, tranches=None):
    return write(db, operations.grant_award, application_id, {
        "amount": None if amount is None else Decimal(amount),
        "tranches": None if tranches is None else [Decimal(part) for part in tranches]},
        HUB_STAFF)


def test_a_fund_is_run_by_a_union_organization_and_starts_its_ledger(db):
    fund = new_fund(db)
    assert (fund["budget"], fund["remaining"], fund["awarded"]) == (
        Decimal("1000000.00"), Decimal("1000000.00"), Decimal("0.00"))
    assert read(db, views.fund_ledger, fund["id"], HUB_STAFF) == {
        "of": "fund", "id": fund["id"], "balanced": True, "agrees": True,
        "accounts": {"source": Decimal("-1000000.00"), "available": Decimal("1000000.00"),
                     "committed": Decimal("0.00"), "paid": Decimal("0.00")}}
    with pytest.raises(InvalidInput):
        new_fund(db, name="企业资金", owner=FACTORY)
    with pytest.raises(Forbidden):
        write(db, operations.create_fund, {"name": "龙城资金", "source": "street",
                                           "owner_code": DISTRICT,
                                           "budget": Decimal("1.00")}, LONGCHENG_STAFF)
    with pytest.raises(Conflict):
        new_fund(db)


def test_a_2a_organizations_application_to_a_3a_fund_is_refused_naming_the_rule(db):
    call = new_call(db, new_fund(db)["id"])
    weak = graded(db, 65, name="二级机构")
    with pytest.raises(Conflict) as refused:
        apply(db, call["id"], weak["id"])
    assert refused.value.details == {"rule": f"calls.{call['id']}.eligibility.min_grade",
                                     "requires": "3A", "holds": "2A"}
    assert f"calls.{call['id']}.eligibility.min_grade" in str(refused.value)
    unregistered = graded(db, 85, registered=False, name="未登记机构")
    with pytest.raises(Conflict) as gate:
        apply(db, call["id"], unregistered["id"])
    assert (gate.value.details["rule"], gate.value.details["policy_version"]) == (
        "gates.fund_application.registered", 1)
    assert [kind for kind, _ in outbox(db)].count("application_submitted") == 0


def test_applications_come_within_the_window_once_and_within_the_maximum(db):
    fund = new_fund(db)
    strong = graded(db, 80)
    closed = new_call(db, fund["id"], opens=-30, closes=-1)
    with pytest.raises(Conflict) as late:
        apply(db, closed["id"], strong["id"])
    assert late.value.details["rule"] == "call.window"
    call = new_call(db, fund["id"], max_award="200000.00")
    with pytest.raises(InvalidInput):
        apply(db, call["id"], strong["id"], "200000.01")
    apply(db, call["id"], strong["id"], "200000.00")
    with pytest.raises(Conflict):
        apply(db, call["id"], strong["id"], "100000.00")
    with pytest.raises(Forbidden):  # another organization's account
        apply(db, call["id"], strong["id"], caller=own_account(strong["id"] + 1))


def test_an_award_is_paid_in_two_tranches_each_against_its_accepted_report(db):
    fund = new_fund(db)
    strong = graded(db, 80)
    call = new_call(db, fund["id"])
    application = reviewed(db, call["id"], strong["id"])
    granted = award(db, application["id"])
    assert [(t["number"], t["amount"], t["paid_at"]) for t in granted["tranches"]] == [
        (1, Decimal("150000.00"), None), (2, Decimal("150000.00"), None)]
    account = own_account(strong["id"])

    def pay(tranche):
        return write(db, operations.disburse_tranche, granted["id"], {"tranche": tranche},
                     HUB_STAFF)

    with pytest.raises(Conflict) as no_report:
        pay(1)
    assert no_report.value.details["rule"] == "tranche.report_accepted"
    first = write(db, operations.submit_progress_report, granted["id"],
                  {"tranche": 1, "summary": "已开展讲座12场"}, account)
    with pytest.raises(Conflict):
        pay(1)  # submitted, not accepted
    returned = write(db, operations.decide_progress_report, first["id"], False, "缺少照片",
                     HUB_STAFF)
    assert returned["status"] == "returned"
    again = write(db, operations.submit_progress_report, granted["id"],
                  {"tranche": 1, "summary": "已开展讲座12场，附照片"}, account)
    assert again["id"] == first["id"] and again["status"] == "submitted"
    with pytest.raises(Forbidden):  # the organization cannot accept its own report
        write(db, operations.decide_progress_report, first["id"], True, None, account)
    write(db, operations.decide_progress_report, first["id"], True, "同意拨付", HUB_STAFF)
    paid = pay(1)
    assert paid["disbursed"] == Decimal("150000.00")
    with pytest.raises(Conflict):
        pay(1)
    second = write(db, operations.submit_progress_report, granted["id"],
                   {"tranche": 2, "summary": "项目结项"}, account)
    write(db, operations.decide_progress_report, second["id"], True, None, HUB_STAFF)
    done = pay(2)
    assert done["disbursed"] == Decimal("300000.00")
    assert [t["report"]["status"] for t in done["tranches"]] == ["accepted", "accepted"]
    assert read(db, views.fund_ledger, fund["id"], HUB_STAFF)["accounts"] == {
        "source": Decimal("-1000000.00"), "available": Decimal("700000.00"),
        "committed": Decimal("0.00"), "paid": Decimal("300000.00")}
    mine = read(db, views.organization_ledger, strong["id"], account)
    assert mine["accounts"] == {"granted": Decimal("-300000.00"),
                                "receivable": Decimal("0.00"),
                                "received": Decimal("300000.00")}
    assert mine["balanced"] and mine["agrees"]
    kinds = [kind for kind, _ in outbox(db)]
    assert kinds.count("tranche_disbursed") == 2 and kinds.count("award_granted") == 1
    [returned_event] = [data for kind, data in outbox(db) if kind == "progress_report_returned"]
    assert returned_event == {"report_id": first["id"], "award_id": granted["id"],
                              "organization_id": strong["id"], "tranche": 1,
                              "status": "returned"}
    assert kinds.count("progress_report_accepted") == 2


def test_spending_counts_in_the_period_of_the_payment_not_of_the_award(db):
    fund = new_fund(db)
    strong = graded(db, 80)
    application = reviewed(db, new_call(db, fund["id"])["id"], strong["id"])
    last_year = now_utc() - timedelta(days=365)  # in the previous calendar year
    with mock.patch("services.incubation.operations.now_utc", return_value=last_year):
        granted = award(db, application["id"])
    report = write(db, operations.submit_progress_report, granted["id"],
                   {"tranche": 1, "summary": "已开展讲座12场"}, own_account(strong["id"]))
    write(db, operations.decide_progress_report, report["id"], True, None, HUB_STAFF)
    write(db, operations.disburse_tranche, granted["id"], {"tranche": 1}, HUB_STAFF)

    def funds_in(period):
        return read(db, views.statistics, DISTRICT, period, HUB_STAFF)["funds"]

    this_year = today_in(now_utc()).year
    assert funds_in(str(this_year - 1)) == {"awarded": Decimal("300000.00"),
                                            "disbursed": Decimal("0.00")}
    assert funds_in(str(this_year)) == {"awarded": Decimal("0.00"),
                                        "disbursed": Decimal("150000.00")}
    assert funds_in("all") == {"awarded": Decimal("300000.00"),
                               "disbursed": Decimal("150000.00")}


def test_tranches_are_paid_in_order(db):
    strong = graded(db, 80)
    call = new_call(db, new_fund(db)["id"])
    granted = award(db, reviewed(db, call["id"], strong["id"])["id"],
                    tranches=["100000.00", "200000.00"])
    report = write(db, operations.submit_progress_report, granted["id"],
                   {"tranche": 2, "summary": "跳过首期"}, HUB_STAFF)
    write(db, operations.decide_progress_report, report["id"], True, None, HUB_STAFF)
    with pytest.raises(Conflict) as early:
        write(db, operations.disburse_tranche, granted["id"], {"tranche": 2}, HUB_STAFF)
    assert early.value.details["rule"] == "tranche.order"


def test_an_award_is_of_a_reviewed_application_at_most_what_was_asked_in_exact_tranches(db):
    strong = graded(db, 80)
    call = new_call(db, new_fund(db)["id"])
    application = apply(db, call["id"], strong["id"])
    with pytest.raises(Conflict):
        award(db, application["id"])  # not reviewed yet
    write(db, operations.review_application, application["id"],
          {"score": Decimal("70"), "note": None}, HUB_STAFF)
    with pytest.raises(InvalidInput):
        award(db, application["id"], amount="300000.01")
    with pytest.raises(InvalidInput):
        award(db, application["id"], tranches=["100000.00", "100000.00"])
    lower = award(db, application["id"], amount="250000.00", tranches=["250000.00"])
    assert lower["amount"] == Decimal("250000.00") and len(lower["tranches"]) == 1
    with pytest.raises(Conflict):
        award(db, application["id"])
    rejected = apply(db, call["id"], graded(db, 80, name="另一家")["id"])
    write(db, operations.reject_application, rejected["id"], {"reason": "预算不足"},
          HUB_STAFF)
    with pytest.raises(Conflict):
        write(db, operations.review_application, rejected["id"],
              {"score": Decimal("90"), "note": None}, HUB_STAFF)


def test_an_award_above_what_the_fund_has_left_is_refused(db):
    fund = new_fund(db, budget="500000.00")
    call = new_call(db, fund["id"])
    first = reviewed(db, call["id"], graded(db, 80, name="甲")["id"])
    second = reviewed(db, call["id"], graded(db, 80, name="乙")["id"])
    award(db, first["id"])
    with pytest.raises(Conflict) as over:
        award(db, second["id"])
    assert over.value.details == {"rule": "fund.budget", "remaining": "200000.00"}
    assert read(db, views.application, second["id"])["status"] == "reviewed"
    award(db, second["id"], amount="200000.00")
    assert read(db, views.fund, fund["id"])["awarded"] == 50_000_000


def test_concurrent_awards_never_overspend_the_budget(db):
    """Twenty staff award at once from a budget with room for seven: seven succeed, the
    rest are refused, and the ledger still balances (row lock / conditional update)."""
    fund = new_fund(db, budget="700000.00")
    call = new_call(db, fund["id"])
    applications = [reviewed(db, call["id"], graded(db, 80, name=f"机构{n}")["id"],
                             "100000.00") for n in range(20)]
    outcomes = []

    def attempt(application_id):
        try:
            award(db, application_id)
            outcomes.append("awarded")
        except Conflict as exc:
            outcomes.append(exc.details["rule"])

    pool = eventlet.GreenPool(20)
    for application in applications:
        pool.spawn(attempt, application["id"])
    pool.waitall()
    assert sorted(outcomes) == ["awarded"] * 7 + ["fund.budget"] * 13
    row = read(db, views.fund, fund["id"])
    assert row["awarded"] == row["budget"] == 70_000_000
    fund_ledger = read(db, views.fund_ledger, fund["id"], HUB_STAFF)
    assert fund_ledger["balanced"] and fund_ledger["agrees"]
    assert fund_ledger["accounts"]["available"] == Decimal("0.00")
    with db.session() as session:
        assert session.execute(select(func.sum(ledger.c.amount))).scalar() == 0


def test_staff_outside_the_funds_subtree_see_and_decide_nothing(db):
    fund = new_fund(db)
    call = new_call(db, fund["id"])
    application = apply(db, call["id"], graded(db, 80)["id"])
    for attempt in (
            lambda: read(db, views.get_fund, fund["id"], LONGCHENG_STAFF),
            lambda: write(db, operations.review_application, application["id"],
                          {"score": Decimal("90"), "note": None}, LONGCHENG_STAFF),
            lambda: read(db, views.fund_ledger, fund["id"], own_account(1))):
        with pytest.raises(Forbidden):
            attempt()
    # an organization's account sees the call it applies to, and its application
    account = own_account(application["organization_id"])
    assert read(db, views.get_call, call["id"], account)["open"] is True
    assert read(db, views.get_application, application["id"], account)["status"] == "submitted"
    page = read(db, views.list_applications, {"call_id": call["id"], "organization_id": None,
                                              "status": None, "cursor": None, "limit": 10},
                HUB_STAFF)
    assert [item["id"] for item in page["items"]] == [application["id"]]
