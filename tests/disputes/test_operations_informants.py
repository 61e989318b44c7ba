"""Informants: pseudonyms everywhere, receipts as slow hashes, audited reveals, their own
reports and rewards."""

import json
from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select, text

from services.disputes import domain, operations, views
from services.disputes.models import identity_reveals, reports
from shared.api import disputes as contract
from shared.caller import Caller
from shared.errors import Forbidden, InvalidInput, NotFound, Unauthorized
from shared.schemas import load
from tests.disputes.conftest import (
    DISTRICT,
    DISTRICT_ADMIN,
    KEYS,
    NANKENG_STAFF,
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
        assert views.officer_by_token(session, domain.token_hash(token)).id == informant
        stored = session.execute(text("SELECT token_hash FROM informants")).scalar()
    assert stored == domain.token_hash(token) != token


def test_a_revoked_or_unknown_officer_token_is_refused(sqlite_database):
    informant, token = officer(sqlite_database)
    with sqlite_database.unit_of_work() as uow:
        operations.revoke_officer(uow, informant, NANKENG_STAFF)
    with sqlite_database.session() as session:
        for bad in (domain.token_hash(token), "not-a-token", ""):
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
                                                       officer_token_hash=domain
                                                       .token_hash(token)), 2)
    assert [mine["report"] for mine in reports] == [report["report"]
                                                    for report in reversed(filed)]
    assert [(mine["report"], mine["stage"]) for mine in rewards] == [
        (report["report"], "verified") for report in filed[:3]]
