"""The notifications routes of the gateway, with the real notifications service behind them.

The registry is the gateway tests' in-memory stand-in; the notifications service's read
model holds the same tree (as the registry's events would have filled it), and its cases
arrive as ``case_opened`` events on the broker. Routine cases: only the community union
is told at once, and its deadline is a day away, so nothing escalates during a test.
"""

from unittest.mock import Mock
from uuid import uuid4

import pytest
from nameko.testing.services import entrypoint_waiter, replace_dependencies

from services.gateway.service import GatewayService
from services.notifications import readmodel
from services.notifications.service import NotificationsService
from shared.testing import publish_events
from tests.conftest import gateway_tokens
from tests.gateway.conftest import PEOPLE, Client
from tests.gateway.fakes import BANTIAN, NANKENG, ZHANGBEI, FakeRegistry
from tests.notifications.conftest import MIGRATIONS, case_data, registry_event
from tests.shared.problems import error_fields, problem

pytestmark = pytest.mark.usefixtures("rabbit_config")

V1 = "/api/v1"
NK_CASE = uuid4().hex  # case ids as the disputes service makes them: 32 hex digits
ZB_CASE = uuid4().hex
UNKNOWN_CASE = uuid4().hex


def enterprise_in(registry, community, name):
    return {"credit_code": None, "name": name, "address": None, "community_code": community,
            "path": registry.organizations[community]["path"], "key_enterprise": False}


@pytest.fixture
def registry():
    """The fake registry behind a spy: ``registry.mock_calls`` lists every RPC made."""
    return Mock(wraps=FakeRegistry())


@pytest.fixture
def stack(container_factory, make_service_config, database_factory, rabbit_config, tmp_path,
          registry):
    """A gateway and a notifications service on one vhost, a routine case told to 南坑
    and one told to 嶂背; returns (client, tokens)."""
    fake = registry._mock_wraps
    url = f"sqlite:///{tmp_path}/notifications.db"
    with database_factory(url, "notifications", MIGRATIONS).unit_of_work() as uow:
        for organization in fake.organizations.values():
            readmodel.apply_organization(uow.session, *registry_event(
                "organization_registered", organization))
    notifications = container_factory(NotificationsService, make_service_config(url))
    notifications.start()
    for case_id, community, name in ((NK_CASE, NANKENG, "南坑五金厂"),
                                     (ZB_CASE, ZHANGBEI, "嶂背塑胶厂")):
        with entrypoint_waiter(notifications, "handle_case_opened", timeout=10):
            publish_events(rabbit_config["AMQP_URI"], "disputes", "case_opened", case_data(
                case_id, enterprise=enterprise_in(fake, community, name)))

    gateway_config = make_service_config(f"sqlite:///{tmp_path}/gateway.db")
    gateway = container_factory(GatewayService, gateway_config)
    replace_dependencies(gateway, registry_rpc=registry)
    gateway.start()
    tokens = gateway_tokens(gateway_config["DATABASE_URL"], PEOPLE)
    return Client(gateway_config["WEB_SERVER_ADDRESS"]), tokens


def error_of(response, status):
    assert response.status_code == status, response.text
    return problem(response)


def acknowledge(client, token, case_id, organization_code, **body):
    return client.post(f"{V1}/cases/{case_id}/acknowledgements",
                       {"organization_code": organization_code, **body}, token=token)


def acknowledged_at(client, tokens, case_id):
    view = client.get(f"{V1}/cases/{case_id}/escalation", token=tokens["district_admin"])
    assert view.status_code == 200, view.text
    return view.json()["acknowledged_at"]


CASE_READS = ("escalation", "notifications", "notifications/audit")


def test_community_staff_read_their_inbox_and_acknowledge_a_case_for_their_community(stack):
    client, tokens = stack
    staff = tokens["nankeng_staff"]
    inbox = client.get(f"{V1}/organizations/{NANKENG}/inbox", token=staff)
    assert inbox.status_code == 200, inbox.text
    assert inbox.headers["Cache-Control"] == "no-store"
    assert inbox.json()["next_cursor"] is None
    [message] = inbox.json()["items"]
    assert (message["case_id"], message["kind"], message["acknowledged_at"]) == (
        NK_CASE, "notice", None)
    assert message["received_at"].endswith("+00:00")
    assert message["message"]["recipient"]["name"] == "南坑社区工联会"

    signed = acknowledge(client, staff, NK_CASE, NANKENG)
    assert signed.status_code == 201, signed.text
    assert signed.json()["acknowledged_by"] == "nankeng_staff"  # the token's user, signed
    assert signed.json()["case_acknowledged_by"] == NANKENG
    assert signed.json()["acknowledged_at"].endswith("+00:00")
    again = acknowledge(client, staff, NK_CASE, NANKENG)
    assert again.status_code == 200 and again.json()["already_acknowledged"] is True

    pending = client.get(f"{V1}/organizations/{NANKENG}/inbox?unacknowledged=true",
                         token=staff)
    assert pending.json() == {"items": [], "next_cursor": None}
    told = client.get(f"{V1}/cases/{NK_CASE}/notifications", token=staff).json()
    [notified] = told["items"]
    assert (notified["organization_code"], notified["acknowledged_by"]) == (
        NANKENG, "nankeng_staff")
    view = client.get(f"{V1}/cases/{NK_CASE}/escalation", token=staff).json()
    assert view["open_deadlines"] == []  # acknowledging stopped the escalation
    assert (view["acknowledged_by"], view["top_tier"]) == (NANKENG, "community")
    audit = client.get(f"{V1}/cases/{NK_CASE}/notifications/audit",
                       token=tokens["bantian_staff"])  # the street sees its communities
    actions = [entry["action"] for entry in audit.json()["items"]]
    assert {"case_received", "notified", "acknowledged", "escalation_stopped"} <= set(actions)


def test_community_staff_cannot_read_or_acknowledge_for_another_community(stack):
    client, tokens = stack
    staff = tokens["nankeng_staff"]
    error_of(client.get(f"{V1}/organizations/{ZHANGBEI}/inbox", token=staff), 403)
    error_of(acknowledge(client, staff, ZB_CASE, ZHANGBEI), 403)
    for path in CASE_READS:  # another community's case: as if it did not exist
        error_of(client.get(f"{V1}/cases/{ZB_CASE}/{path}", token=staff), 404)
    assert acknowledged_at(client, tokens, ZB_CASE) is None
    # 嶂背's own staff can: the 403 above was the scope, nothing else.
    own = tokens["zhangbei_staff"]
    [message] = client.get(f"{V1}/organizations/{ZHANGBEI}/inbox", token=own).json()["items"]
    assert message["case_id"] == ZB_CASE
    assert acknowledge(client, own, ZB_CASE, ZHANGBEI).status_code == 201
    error_of(client.get(f"{V1}/cases/{NK_CASE}/notifications", token=own), 404)


def test_a_viewer_reads_but_cannot_acknowledge(stack):
    client, tokens = stack
    viewer = tokens["nankeng_viewer"]
    assert client.get(f"{V1}/organizations/{NANKENG}/inbox", token=viewer).status_code == 200
    assert client.get(f"{V1}/cases/{NK_CASE}/notifications", token=viewer).status_code == 200
    body = error_of(acknowledge(client, viewer, NK_CASE, NANKENG), 403)
    assert (body["role"], body["needs"]) == ("viewer", "write")
    assert acknowledged_at(client, tokens, NK_CASE) is None


def test_bad_input_is_a_clear_4xx_and_changes_nothing(stack):
    client, tokens = stack
    staff = tokens["nankeng_staff"]
    error_of(client.get(f"{V1}/organizations/{NANKENG}/inbox"), 401)
    assert "limit" in error_fields(error_of(client.get(
        f"{V1}/organizations/{NANKENG}/inbox?limit=abc", token=staff), 400))
    assert "recipient_kind" in error_fields(error_of(client.get(
        f"{V1}/organizations/{NANKENG}/inbox?recipient_kind=boss", token=staff), 400))
    error_of(client.get(f"{V1}/organizations/longgang.nowhere/inbox", token=staff), 404)

    url = f"{V1}/cases/{NK_CASE}/acknowledgements"
    assert "organization_code" in error_fields(error_of(client.post(url, {}, token=staff),
                                                        400))
    # who signed is the token's user: a client cannot name someone else
    assert "by" in error_fields(error_of(acknowledge(client, staff, NK_CASE, NANKENG,
                                                     by="李主席"), 400))
    assert "recipient_kind" in error_fields(error_of(acknowledge(
        client, staff, NK_CASE, NANKENG, recipient_kind="boss"), 400))
    error_of(client.post(url, data=b"not json{", token=staff,
                         headers={"Content-Type": "application/json"}), 400)
    # 坂田 is in the street's scope but was not told of a routine case: the service says so
    refused = error_of(acknowledge(client, tokens["bantian_staff"], NK_CASE, BANTIAN), 403)
    assert "not notified" in refused["detail"]
    assert acknowledged_at(client, tokens, NK_CASE) is None


def test_an_unknown_case_is_a_404(stack):
    client, tokens = stack
    admin = tokens["district_admin"]
    for case_id in (UNKNOWN_CASE, "not-a-case", "x" * 500):
        for path in CASE_READS:
            error_of(client.get(f"{V1}/cases/{case_id}/{path}", token=admin), 404)
        error_of(acknowledge(client, tokens["nankeng_staff"], case_id, NANKENG), 404)


def test_a_case_is_seen_from_its_recipient_s_subtree_and_the_root_and_refused_elsewhere(stack):
    client, tokens = stack
    for user, readable, refused in (
            ("nankeng_staff", [NK_CASE], [ZB_CASE]),
            ("nankeng_viewer", [NK_CASE], [ZB_CASE]),
            ("zhangbei_staff", [ZB_CASE], [NK_CASE]),
            ("bantian_staff", [NK_CASE], [ZB_CASE]),  # the street above 南坑, not 嶂背's
            ("district_admin", [NK_CASE, ZB_CASE], [])):
        for case_id in readable:
            for path in CASE_READS:
                answer = client.get(f"{V1}/cases/{case_id}/{path}", token=tokens[user])
                assert answer.status_code == 200, (user, case_id, path, answer.text)
                body = answer.json()
                assert body["case_id"] == case_id if path == "escalation" else body["items"]
        for case_id in refused:
            for path in CASE_READS:
                body = error_of(client.get(f"{V1}/cases/{case_id}/{path}",
                                           token=tokens[user]), 404)
                assert body["detail"] == f"no case {case_id}", (user, case_id)


def test_reading_a_case_asks_the_registry_nothing(stack, registry):
    client, tokens = stack
    # Each of these took registry calls before (one per recipient, plus the caller's own
    # organization to see whether it is the root): the street and the district are not
    # recipients, 嶂背 is refused only after looking every recipient up.
    for user, case_id, status in (("bantian_staff", NK_CASE, 200),
                                  ("district_admin", ZB_CASE, 200),
                                  ("zhangbei_staff", NK_CASE, 404),
                                  ("nankeng_staff", NK_CASE, 200)):
        for path in CASE_READS:
            answer = client.get(f"{V1}/cases/{case_id}/{path}", token=tokens[user])
            assert answer.status_code == status, (user, case_id, answer.text)
    assert registry.mock_calls == []
    # The spy does see the registry calls that remain: an inbox names its organization.
    assert client.get(f"{V1}/organizations/{NANKENG}/inbox",
                      token=tokens["nankeng_staff"]).status_code == 200
    assert [call[0] for call in registry.mock_calls] == ["get_organization"]


def test_a_case_s_lists_are_walked_by_cursor_and_a_bad_cursor_is_a_400(stack):
    client, tokens = stack
    admin = tokens["district_admin"]
    url = f"{V1}/cases/{NK_CASE}/notifications/audit"
    everything = client.get(url, token=admin).json()
    assert everything["next_cursor"] is None and len(everything["items"]) >= 3
    walked, cursor = [], None
    while True:
        page = client.get(url + (f"?limit=1&cursor={cursor}" if cursor else "?limit=1"),
                          token=admin)
        assert page.status_code == 200, page.text
        assert len(page.json()["items"]) == 1
        walked += page.json()["items"]
        cursor = page.json()["next_cursor"]
        if cursor is None:
            break
    assert walked == everything["items"]
    for path in ("notifications", "notifications/audit"):
        for query in ("cursor=garbage!", "cursor=WzEsMiwzXQ", "limit=0", "limit=501",
                      "cursor="):
            body = error_of(client.get(f"{V1}/cases/{NK_CASE}/{path}?{query}", token=admin),
                            400)
            assert {"cursor", "limit"} & set(error_fields(body)), (path, query, body)
    error_of(client.get(f"{V1}/organizations/{NANKENG}/inbox?cursor=garbage!",
                        token=tokens["nankeng_staff"]), 400)
