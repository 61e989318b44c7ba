"""Issue 12 item 3, done when: no AMQP message and no gateway log line holds an
informant's name, phone, receipt code, officer token or address in clear.

RabbitMQ's firehose (``rabbitmqctl trace_on -p VHOST``: this test's own vhost only)
copies every message published in the vhost and every delivery, the RPC requests and
the replies on the default exchange included, to ``amq.rabbitmq.trace``; a queue bound
there with ``#`` takes all of them, bodies and headers.
"""

import http.client
import json
import logging
import subprocess
from urllib.parse import urlsplit

from kombu import Connection, Exchange, Queue

from tests.disputes.conftest import NANKENG

BASE = "/api/v1/disputes"
NAME, PHONE = "林晓梅", "13722334455"
OFFICER_NAME, OFFICER_PHONE = "陈海涛", "13600998877"
CLIENT_ADDRESS = "127.0.0.7"  # a loopback address nothing else uses: findable anywhere
REPORT = {"credit_code": "91440300MA5DA0001X", "category": "unpaid_wages",
          "workers_affected": 40, "amount_owed": 300000,
          "description": "三个月未发工资", "identity": {"real_name": NAME, "phone": PHONE}}


def rabbitmqctl(*args):
    subprocess.run(["rabbitmqctl", "-q", *args], check=True, capture_output=True,
                   timeout=60)


def post(address, path, body, token=None):
    """From ``CLIENT_ADDRESS``, so that the address a message might leak is known."""
    host, port = address.split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=30,
                                            source_address=(CLIENT_ADDRESS, 0))
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    connection.request("POST", path, json.dumps(body).encode(), headers)
    response = connection.getresponse()
    answer = response.status, json.loads(response.read() or b"null")
    connection.close()
    return answer


def forms(text: str) -> list[bytes]:
    """``text`` as a message could hold it: UTF-8, or escaped in JSON."""
    return [text.encode(), json.dumps(text).strip('"').encode()]


def test_a_report_with_identity_and_an_officers_registration_cross_no_secret(
        stack, rabbit_config, caplog):
    client, tokens = stack
    address = client.base.removeprefix("http://")
    uri = rabbit_config["AMQP_URI"]
    vhost = urlsplit(uri).path[1:]
    trace = Queue("capture-all", Exchange("amq.rabbitmq.trace", type="topic",
                                          passive=True), routing_key="#")
    caplog.set_level(logging.DEBUG)
    rabbitmqctl("trace_on", "-p", vhost)
    try:
        with Connection(uri) as connection:
            trace.maybe_bind(connection)
            trace.declare()
            status, filed = post(address, f"{BASE}/reports", REPORT)
            assert status == 201, filed
            code = filed["receipt_code"]
            status, followed = post(address, f"{BASE}/receipts/status",
                                    {"receipt_code": code})
            assert (status, followed["report"]) == (200, filed["report"])
            status, issued = post(address, f"{BASE}/officers", {
                "organization_code": NANKENG, "real_name": OFFICER_NAME,
                "phone": OFFICER_PHONE}, token=tokens["nankeng_staff"])
            assert status == 201, issued
            token = issued["token"]
            status, mine = post(address, f"{BASE}/officer-reports",
                                dict(REPORT, identity=None), token=token)
            assert status == 201, mine
            captured = []
            with connection.SimpleQueue(trace) as queue:
                while True:
                    try:
                        message = queue.get(timeout=2)
                    except queue.Empty:
                        break
                    captured.append(message.body if isinstance(message.body, bytes)
                                    else message.body.encode())
                    captured.append(repr(message.headers).encode())
                    captured.append(repr(message.properties).encode())
                    message.ack()
    finally:
        rabbitmqctl("trace_off", "-p", vhost)
    # the firehose saw the RPC requests and their replies, not only events
    routing = b"".join(captured)
    assert b"submit_report" in routing and b"register_officer" in routing
    assert len(captured) >= 3 * 8
    secrets = {"name": NAME, "phone": PHONE, "officer's name": OFFICER_NAME,
               "officer's phone": OFFICER_PHONE, "receipt code": code,
               "receipt code (16 digits)": code.replace(" ", ""), "token": token,
               "address": CLIENT_ADDRESS}
    for what, secret in secrets.items():
        for form in forms(secret):
            assert not any(form in raw for raw in captured), f"the {what} crossed the broker"
            assert form.decode() not in caplog.text, f"the {what} is in the log"
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
