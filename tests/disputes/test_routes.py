"""The disputes routes of the gateway, with the real disputes service behind them.

The registry is the gateway tests' in-memory stand-in (the form only lists its streets
and communities); the disputes service's read model is filled as events would fill it.
"""

import re

import eventlet
import requests
from sqlalchemy import func, select

from services.disputes.models import cases, informants, reports
from services.disputes.service import DisputesService
from shared.db import open_database
from shared.rpc import rpc
from tests.disputes.conftest import FACTORY, NANKENG, make_stack, walk
from tests.shared.problems import error_fields, problem

BASE = "/api/v1/disputes"
REPORT = {"credit_code": FACTORY, "category": "unpaid_wages", "workers_affected": 45,
          "amount_owed": 420000, "description": "三个月未发工资"}
def error_of(response, status):
    assert response.status_code == status, response.text
    return problem(response)


def test_an_anonymous_report_gets_its_receipt_once_and_follows_the_case(stack, tmp_path):
    client, tokens = stack
    response = client.post(f"{BASE}/reports", REPORT)
    assert response.status_code == 201, response.text
    # filed under the gateway's id for this HTTP request: a second delivery files nothing
    database = open_database(f"sqlite:///{tmp_path}/disputes.db", "disputes",
                             run_migrations=False)
    with database.session() as session:
        [request_id] = session.execute(select(reports.c.request_id)).scalars().all()
    database.engine.dispose()
    assert re.fullmatch(r"[0-9a-f]{32}", request_id)
    assert response.headers["Cache-Control"] == "no-store"
    receipt = response.json()
    assert set(receipt) == {"report", "received_at", "receipt_code"}  # no case id
    status = client.post(f"{BASE}/receipts/status", {"receipt_code": receipt["receipt_code"]})
    assert (status.json()["report"], status.json()["status"]) == (receipt["report"],
                                                                  "reported")
    error_of(client.post(f"{BASE}/receipts/status", {"receipt_code": "1" * 16}), 404)
    error_of(client.post(f"{BASE}/receipts/status", {"receipt_code": "12"}), 400)


def test_an_officer_registered_by_staff_reports_with_their_own_token(stack):
    client, tokens = stack
    issued = client.post(f"{BASE}/officers", {"organization_code": NANKENG,
                                              "real_name": "王秀英", "phone": "13912345678"},
                         token=tokens["nankeng_staff"])
    assert issued.status_code == 201, issued.text
    officer_token = issued.json()["token"]
    assert officer_token.startswith("ghi_")
    filed = client.post(f"{BASE}/officer-reports", REPORT, token=officer_token)
    assert filed.status_code == 201 and "receipt_code" not in filed.json()
    [mine] = client.get(f"{BASE}/my/reports", token=officer_token).json()["items"]
    assert (mine["report"], mine["status"]) == (filed.json()["report"], "reported")
    error_of(client.post(f"{BASE}/officer-reports", REPORT, token=tokens["nankeng_staff"]),
             401)  # a staff token is not an officer token
    error_of(client.post(f"{BASE}/officer-reports", REPORT), 401)
    error_of(client.post(f"{BASE}/officers", {"organization_code": NANKENG,
                                              "real_name": "x"},
                         token=tokens["zhangbei_staff"]), 403)


def test_an_officer_resending_with_the_same_idempotency_key_files_once(stack):
    client, tokens = stack

    def officer(name):
        return client.post(f"{BASE}/officers", {"organization_code": NANKENG,
                                                "real_name": name},
                           token=tokens["nankeng_staff"]).json()["token"]

    first, second = officer("周一"), officer("吴二")
    key = {"Idempotency-Key": "phone-7f3a-0001"}
    filed = client.post(f"{BASE}/officer-reports", REPORT, token=first, headers=key)
    resent = client.post(f"{BASE}/officer-reports", REPORT, token=first, headers=key)
    assert filed.status_code == resent.status_code == 201, resent.text
    assert resent.json() == filed.json()
    assert len(client.get(f"{BASE}/my/reports", token=first).json()["items"]) == 1
    # the key is the officer's own: another officer's same key is another report
    other = client.post(f"{BASE}/officer-reports", REPORT, token=second, headers=key)
    assert other.status_code == 201
    assert other.json()["report"] != filed.json()["report"]
    # without a key every post is a report of its own
    again = client.post(f"{BASE}/officer-reports", REPORT, token=first)
    assert again.json()["report"] != filed.json()["report"]
    body = error_of(client.post(f"{BASE}/officer-reports", REPORT, token=first,
                                headers={"Idempotency-Key": "short"}), 400)
    assert "Idempotency-Key" in error_fields(body)


def test_the_same_key_with_another_report_is_a_422_and_files_nothing(stack):
    client, tokens = stack
    officer = client.post(f"{BASE}/officers", {"organization_code": NANKENG,
                                               "real_name": "郑三"},
                          token=tokens["nankeng_staff"]).json()["token"]
    key = {"Idempotency-Key": "phone-7f3a-0002"}
    assert client.post(f"{BASE}/officer-reports", REPORT, token=officer,
                       headers=key).status_code == 201
    body = error_of(client.post(f"{BASE}/officer-reports", dict(REPORT, workers_affected=46),
                                token=officer, headers=key), 422)
    assert body["code"] == "IDEMPOTENCY_KEY_REUSED"
    assert len(client.get(f"{BASE}/my/reports", token=officer).json()["items"]) == 1


def test_an_anonymous_retry_with_its_key_gets_its_receipt_code_again(stack):
    client, _ = stack
    key = {"Idempotency-Key": "3f9c2a7e-5b1d-4c8e-9a6f-0e2d4b8c1a7f"}
    filed = client.post(f"{BASE}/reports", REPORT, headers=key)
    resent = client.post(f"{BASE}/reports", REPORT, headers=key)
    assert filed.status_code == resent.status_code == 201, resent.text
    assert resent.json() == filed.json() and "receipt_code" in filed.json()
    status = client.post(f"{BASE}/receipts/status",
                         {"receipt_code": filed.json()["receipt_code"]}).json()
    assert status["report"] == filed.json()["report"]
    # anonymous callers share one scope: their keys must be long enough not to meet
    error_of(client.post(f"{BASE}/reports", REPORT, headers={"Idempotency-Key": "a" * 31}),
             400)


def test_an_anonymous_key_sent_again_after_its_answer_expired_is_answered_not_refused(
        stack, tmp_path):
    """A day later (the key's answer gone, another network: no resubmission match), the
    same request with the same key is the report it filed, receipt code and all; the key
    with another report files that one under a code of its own. Neither is a 409."""
    from datetime import UTC, datetime

    from sqlalchemy import update

    from shared.idempotency import idempotency_keys

    client, _ = stack
    key = {"Idempotency-Key": "5d2c9e1a-3b7f-4e6a-8c0d-2f4a6b8c0e1d"}
    filed = client.post(f"{BASE}/reports", REPORT, headers=key)
    assert filed.status_code == 201, filed.text
    database = open_database(f"sqlite:///{tmp_path}/disputes.db", "disputes",
                             run_migrations=False)

    def a_day_later():
        with database.unit_of_work() as uow:
            uow.session.execute(update(idempotency_keys).values(
                expires_at=datetime(2020, 1, 1, tzinfo=UTC)))
            uow.session.execute(update(reports).values(resubmission_hash=None))

    a_day_later()
    again = client.post(f"{BASE}/reports", REPORT, headers=key)
    assert again.status_code == 201, again.text
    assert again.json() == filed.json()
    a_day_later()
    other = client.post(f"{BASE}/reports", dict(REPORT, description="另一件事：宿舍停水三天"),
                        headers=key)
    assert other.status_code == 201, other.text
    assert other.json()["report"] != filed.json()["report"]
    assert other.json()["receipt_code"] != filed.json()["receipt_code"]
    with database.session() as session:
        assert session.execute(select(func.count()).select_from(reports)).scalar() == 2
    database.engine.dispose()


class LateAnsweringDisputes(DisputesService):
    """Files the report, and its answer comes too late (a reply lost, as in a broker cut
    between commit and reply)."""

    answered = []

    @rpc
    def submit_report(self, *args, **kwargs):
        answer = super().submit_report(*args, **kwargs)
        if not self.answered:
            self.answered.append(answer)
            eventlet.sleep(LATE_TIMEOUT + 1)
        return answer


LATE_TIMEOUT = 2


def test_a_report_whose_answer_was_lost_is_a_504_and_its_retry_gets_the_first_answer(
        container_factory, make_service_config, database_factory, tmp_path):
    client, _ = make_stack(container_factory, make_service_config, database_factory,
                           tmp_path, service=LateAnsweringDisputes,
                           GATEWAY_RPC_TIMEOUT=LATE_TIMEOUT)
    LateAnsweringDisputes.answered.clear()
    key = {"Idempotency-Key": "9b1e4c2a-7d3f-4a5b-8c6e-1f2a3b4c5d6e"}
    lost = client.post(f"{BASE}/reports", REPORT, headers=key)
    assert lost.status_code == 504, lost.text  # filed, but the gateway cannot know it
    assert problem(lost)["code"] == "OUTCOME_UNKNOWN"
    retried = client.post(f"{BASE}/reports", REPORT, headers=key)
    assert retried.status_code == 201, retried.text
    [first] = LateAnsweringDisputes.answered
    assert retried.json()["report"] == first["report"]  # the report filed the first time
    status = client.post(f"{BASE}/receipts/status",
                         {"receipt_code": retried.json()["receipt_code"]})
    assert status.json()["report"] == first["report"]
    database = open_database(f"sqlite:///{tmp_path}/disputes.db", "disputes",
                             run_migrations=False)
    with database.session() as session:
        assert session.execute(select(func.count()).select_from(reports)).scalar() == 1
    database.engine.dispose()


def test_the_same_anonymous_report_sent_again_soon_is_recognised_without_its_receipt(
        stack, tmp_path):
    client, tokens = stack
    first = client.post(f"{BASE}/reports", REPORT)
    assert first.status_code == 201 and "receipt_code" in first.json()
    again = client.post(f"{BASE}/reports", REPORT)  # a double tap, no key
    assert again.status_code == 200, again.text
    assert again.json() == {"already_received": True, "enterprise": "南坑五金制品厂"}
    other = client.post(f"{BASE}/reports", dict(REPORT, workers_affected=46))
    assert other.status_code == 201  # another report
    database = open_database(f"sqlite:///{tmp_path}/disputes.db", "disputes",
                             run_migrations=False)
    with database.session() as session:
        hashes = session.execute(select(reports.c.resubmission_hash)).scalars().all()
        [count] = session.execute(select(cases.c.reports_count)).scalars().all()
    database.engine.dispose()
    assert count == 2  # the resubmission is no report of the case
    assert len(set(hashes)) == 2 and all(re.fullmatch(r"[0-9a-f]{32}", h) for h in hashes)


def test_staff_move_a_case_within_their_subtree_and_nobody_else_can(stack):
    client, tokens = stack
    client.post(f"{BASE}/reports", REPORT)
    [case] = client.get(f"{BASE}/cases", token=tokens["bantian_viewer"]).json()["items"]
    assert client.get(f"{BASE}/cases", token=tokens["zhangbei_staff"]).json() == {
        "items": [], "next_cursor": None}
    # another community's case is one that does not exist, to read or to move
    error_of(client.get(f"{BASE}/cases/{case['id']}", token=tokens["zhangbei_staff"]), 404)
    error_of(client.post(f"{BASE}/cases/{case['id']}/transitions", {"status": "verified"},
                         token=tokens["zhangbei_staff"]), 404)
    url = f"{BASE}/cases/{case['id']}/transitions"
    error_of(client.post(url, {"status": "verified"}, token=tokens["bantian_viewer"]), 403)
    error_of(client.post(url, {"status": "closed", "note": "x"},
                         token=tokens["nankeng_staff"]), 409)
    error_of(client.post(url, {"status": "handling", "handled_by_tier": "community",
                               "joint": False}, token=tokens["nankeng_staff"]), 409)
    moved = client.post(url, {"status": "verified", "note": "属实"},
                        token=tokens["nankeng_staff"])
    assert moved.status_code == 200, moved.text
    assert moved.json()["status"] == "verified"
    details = error_fields(error_of(client.post(url, {"status": "handling", "joint": True},
                                                token=tokens["nankeng_staff"]), 400))
    assert {"handled_by_tier", "departments"} <= set(details)
    [reward] = client.get(f"{BASE}/rewards", token=tokens["district_admin"]).json()["items"]
    approved = client.post(f"{BASE}/rewards/{reward['id']}/approve",
                           token=tokens["district_admin"])
    assert approved.json()["status"] == "approved"
    error_of(client.post(f"{BASE}/rewards/{reward['id']}/pay",
                         token=tokens["nankeng_staff"]), 403)
    figures = client.get(f"{BASE}/statistics?code={NANKENG}", token=tokens["nankeng_staff"])
    assert figures.status_code == 200 and figures.json()["code"] == NANKENG
    error_of(client.get(f"{BASE}/statistics?code={NANKENG}",
                        token=tokens["zhangbei_staff"]), 403)
    error_of(client.get(f"{BASE}/statistics?year=nineteen", token=tokens["nankeng_staff"]),
             400)


def test_bad_reports_are_a_400_naming_the_field_and_floods_a_429(stack):
    client, _ = stack
    details = error_fields(error_of(client.post(f"{BASE}/reports", dict(
        REPORT, workers_affected=-1, category="ufo")), 400))
    assert set(details) == {"workers_affected", "category"}
    details = error_fields(error_of(client.post(f"{BASE}/reports", dict(
        REPORT, amount_owed="1.001")), 400))  # the fen rule: the gateway checks the contract
    assert "amount_owed" in details
    error_of(client.post(f"{BASE}/reports", dict(REPORT, credit_code="91440300MA5DXXXX9X")),
             404)
    for number in range(4):  # four reports (the same one again would be a resubmission)
        assert client.post(f"{BASE}/reports", dict(
            REPORT, description=f"第{number}次: 三个月未发工资")).status_code == 201
    flooded = error_of(client.post(f"{BASE}/reports", REPORT), 429)
    assert flooded["scope"] == "source"
    assert int(flooded["retry_after"]) > 3500


def test_the_report_form_is_served_in_chinese_without_caching_or_referrer(stack):
    client, _ = stack
    page = client.get("/disputes/report")
    assert page.status_code == 200
    assert page.headers["Content-Type"].startswith("text/html")
    assert page.headers["Cache-Control"] == "no-store"
    assert page.headers["Referrer-Policy"] == "no-referrer"
    assert "frame-ancestors 'none'" in page.headers["Content-Security-Policy"]
    assert 'data-district="longgang"' in page.text and "劳资纠纷隐患报告" in page.text
    policies = client.get(f"{BASE}/policies/rewards").json()["items"]
    assert policies[0]["version"] == 1 and "monthly_cap" in policies[0]["body"]
    error_of(client.get(f"{BASE}/policies/other"), 404)


def test_an_admin_reveals_an_officers_sealed_identity_through_the_gateway(stack):
    client, tokens = stack
    issued = client.post(f"{BASE}/officers", {"organization_code": NANKENG,
                                              "real_name": "王秀英", "phone": "13912345678"},
                         token=tokens["nankeng_staff"]).json()
    request = {"informant": issued["informant"], "reason": "支付奖励 #7"}
    error_of(client.post(f"{BASE}/identity-reveals", request,
                         token=tokens["nankeng_staff"]), 403)
    revealed = client.post(f"{BASE}/identity-reveals", request,
                           token=tokens["district_admin"])
    assert revealed.status_code == 200, revealed.text
    assert (revealed.json()["real_name"], revealed.json()["phone"]) == ("王秀英",
                                                                         "13912345678")


def test_only_the_districts_admins_publish_the_reward_policy_over_http(stack):
    client, tokens = stack
    body = client.get(f"{BASE}/policies/rewards").json()["items"][0]["body"]
    new = {"kind": "rewards", "body": body, "effective_from": "2027-01-01T00:00:00+08:00"}
    refused = error_of(client.post(f"{BASE}/policies", new, token=tokens["bantian_admin"]),
                       403)
    assert "district" in refused["detail"]
    assert len(client.get(f"{BASE}/policies/rewards").json()["items"]) == 1
    published = client.post(f"{BASE}/policies", new, token=tokens["district_admin"])
    assert published.status_code == 201, published.text


def test_every_list_is_a_page_walked_by_its_cursor_and_a_bad_cursor_is_a_400(stack):
    client, tokens = stack
    filed = [client.post(f"{BASE}/reports", dict(REPORT, category=category)).json()
             for category in ("unpaid_wages", "closure", "relocation")]
    assert all("report" in receipt for receipt in filed)

    def cases(cursor):
        query = f"?limit=2&cursor={cursor}" if cursor else "?limit=2"
        response = client.get(f"{BASE}/cases{query}", token=tokens["bantian_viewer"])
        assert response.status_code == 200, response.text
        return response.json()

    listed = walk(cases, 2)
    assert len({case["id"] for case in listed}) == 3
    assert [case["opened_at"] for case in listed] == sorted(
        (case["opened_at"] for case in listed), reverse=True)
    assert all(case["opened_at"].endswith("+00:00") for case in listed)
    for query in ("cursor=bm90LW91cnM", "limit=0", "limit=501", "offset=10"):
        error_of(client.get(f"{BASE}/cases?{query}", token=tokens["bantian_viewer"]), 400)
    for name, day in (("opened_to", "9999-12-31"), ("opened_from", "0001-01-01")):
        bad = error_of(client.get(f"{BASE}/cases?{name}={day}",
                                  token=tokens["bantian_viewer"]), 400)
        assert error_fields(bad) == [name]
    ledger = client.get(f"{BASE}/rewards?status=pending&limit=1",
                        token=tokens["district_admin"]).json()
    assert ledger == {"items": [], "next_cursor": None}
    policies = client.get(f"{BASE}/policies/grading?limit=1").json()
    assert [version["version"] for version in policies["items"]] == [1]
    assert policies["next_cursor"] is None


def test_an_account_name_taken_at_the_same_moment_is_a_409_and_leaves_no_live_officer(
        stack, tmp_path, monkeypatch):
    from services.gateway import accounts

    client, tokens = stack
    officer = {"organization_code": NANKENG, "real_name": "王秀英", "user_name": "信息员-甲"}
    assert client.post(f"{BASE}/officers", officer, token=tokens["nankeng_staff"]
                       ).status_code == 201
    # another request took the name after this one's check: the account cannot be made
    monkeypatch.setattr(accounts, "name_taken", lambda session, name: False)
    raced = client.post(f"{BASE}/officers", dict(officer, real_name="李四"),
                        token=tokens["nankeng_staff"])
    error_of(raced, 409)
    database = open_database(f"sqlite:///{tmp_path}/disputes.db", "disputes",
                             run_migrations=False)
    with database.session() as session:
        officers = session.execute(select(informants.c.active).where(
            informants.c.kind == "officer").order_by(informants.c.created_at)).scalars().all()
    database.engine.dispose()
    assert officers == [True, False]  # the second one's token was never shown: revoked


def test_an_officer_with_an_account_reports_signed_in_with_no_token(stack):
    from tests.gateway.test_sessions import set_password_by_link, sign_in

    client, tokens = stack
    issued = client.post(f"{BASE}/officers", {
        "organization_code": NANKENG, "real_name": "王秀英", "user_name": "信息员-王秀英"},
        token=tokens["nankeng_staff"])
    assert issued.status_code == 201, issued.text
    body = issued.json()
    assert body["user"] == {"name": "信息员-王秀英", "role": "officer", "org_code": NANKENG}
    taken = client.post(f"{BASE}/officers", {
        "organization_code": NANKENG, "real_name": "李四", "user_name": "信息员-王秀英"},
        token=tokens["nankeng_staff"])
    error_of(taken, 409)
    browser = requests.Session()
    password = "信息员的密码-2016"
    assert set_password_by_link(browser, client.base, body["password_link"]["url"],
                                password).status_code == 200
    assert sign_in(browser, client.base, "信息员-王秀英", password, "/").status_code == 303
    csrf = browser.get(f"{client.base}/api/v1/session").json()["csrf_token"]
    unprotected = browser.post(f"{client.base}{BASE}/officer-reports", json=REPORT)
    error_of(unprotected, 401)
    filed = browser.post(f"{client.base}{BASE}/officer-reports", json=REPORT,
                         headers={"X-CSRF-Token": csrf})
    assert filed.status_code == 201, filed.text
    [mine] = browser.get(f"{client.base}{BASE}/my/reports").json()["items"]
    assert mine["report"] == filed.json()["report"]
    # the account reports as the officer the token names: the token sees the same report
    [by_token] = client.get(f"{BASE}/my/reports", token=body["token"]).json()["items"]
    assert by_token["report"] == mine["report"]
    assert browser.get(f"{client.base}{BASE}/my/rewards").json()["items"] == []
    # disabling the account (an admin of the street above) stops the officer's token too
    disabled = client.delete(f"/api/v1/users/{body['user']['name']}",
                             token=tokens["bantian_admin"])
    assert disabled.status_code == 200, disabled.text
    error_of(client.get(f"{BASE}/my/reports", token=body["token"]), 401)
    error_of(browser.get(f"{client.base}{BASE}/my/reports"), 401)
