"""Issue 12 item 3, done when: no AMQP message and no gateway log line holds an
informant's name, phone, receipt code, officer token or address in clear.

The kit's ``firehose`` (RabbitMQ's, on this test's vhost only) captures every message
published and every delivery, RPC requests and replies included, bodies and headers.
"""

import json
import logging

from shared.testing import post_from
from tests.disputes.conftest import NANKENG

BASE = "/api/v1/disputes"
NAME, PHONE = "林晓梅", "13722334455"
OFFICER_NAME, OFFICER_PHONE = "陈海涛", "13600998877"
CLIENT_ADDRESS = "127.0.0.7"  # a loopback address nothing else uses: findable anywhere
REPORT = {"credit_code": "91440300MA5DA0001X", "category": "unpaid_wages",
          "workers_affected": 40, "amount_owed": 300000,
          "description": "三个月未发工资", "identity": {"real_name": NAME, "phone": PHONE}}


def test_a_report_with_identity_and_an_officers_registration_cross_no_secret(
        stack, firehose, caplog):
    client, tokens = stack

    def post(path, body, token=None):
        return post_from(CLIENT_ADDRESS, client.base, path, body,
                         {"Authorization": f"Bearer {token}"} if token else None)

    caplog.set_level(logging.DEBUG)
    status, filed = post(f"{BASE}/reports", REPORT)
    assert status == 201, filed
    code = filed["receipt_code"]
    status, followed = post(f"{BASE}/receipts/status", {"receipt_code": code})
    assert (status, followed["report"]) == (200, filed["report"])
    status, issued = post(f"{BASE}/officers", {
        "organization_code": NANKENG, "real_name": OFFICER_NAME,
        "phone": OFFICER_PHONE}, token=tokens["nankeng_staff"])
    assert status == 201, issued
    token = issued["token"]
    status, mine = post(f"{BASE}/officer-reports", dict(REPORT, identity=None), token=token)
    assert status == 201, mine
    captured = firehose.take()
    # the firehose saw the RPC requests and their replies, not only events
    routing = b"".join(captured)
    assert b"submit_report" in routing and b"register_officer" in routing
    assert len(captured) >= 3 * 8
    secrets = {"name": NAME, "phone": PHONE, "officer's name": OFFICER_NAME,
               "officer's phone": OFFICER_PHONE, "receipt code": code,
               "receipt code (16 digits)": code.replace(" ", ""), "token": token,
               "address": CLIENT_ADDRESS}
    for what, secret in secrets.items():
        assert not firehose.holds(secret), f"the {what} crossed the broker"
        assert secret not in caplog.text, f"the {what} is in the log"
        assert json.dumps(secret).strip('"') not in caplog.text, f"the {what} is in the log"
    # the public form's routes are counted, not logged per request (with their time)
    assert f"{BASE}/reports" not in caplog.text
    assert f"{BASE}/receipts/status" not in caplog.text
    assert f"{BASE}/officers" in caplog.text  # other routes still are: the log works

    # and the audited reveal opens what the gateway sealed
    revealed = client.post(f"{BASE}/identity-reveals",
                           {"informant": issued["informant"], "reason": "支付奖励 #1"},
                           token=tokens["district_admin"])
    assert revealed.status_code == 200, revealed.text
    assert (revealed.json()["real_name"], revealed.json()["phone"]) == (OFFICER_NAME,
                                                                         OFFICER_PHONE)
