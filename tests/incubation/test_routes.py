"""The incubation API through the real gateway and the real incubation service: tokens,
roles and subtrees, an organization's own account, and a clear 4xx for bad input."""

import pytest

from services.gateway.service import GatewayService
from shared.timeutil import now_utc
from tests.conftest import gateway_tokens
from tests.gateway.conftest import Client
from tests.incubation.conftest import BANTIAN, DISTRICT, LONGCHENG, NANKENG, ZHANGBEI

V1 = "/api/v1/incubation"
PEOPLE = {"admin": ("admin", DISTRICT), "hub": ("staff", DISTRICT),
          "bantian_viewer": ("viewer", BANTIAN), "longcheng": ("staff", LONGCHENG),
          "longcheng_admin": ("admin", LONGCHENG)}


@pytest.fixture
def api(container_factory, make_service_config, running_incubation, tmp_path):
    running_incubation(f"sqlite:///{tmp_path}/incubation.db")
    config = make_service_config(f"sqlite:///{tmp_path}/gateway.db")
    gateway = container_factory(GatewayService, config)
    gateway.start()
    client = Client(config["WEB_SERVER_ADDRESS"])
    client.tokens = gateway_tokens(config["DATABASE_URL"], PEOPLE)
    return client


def organization(**extra):
    return {"name": "龙岗区彩虹职工法律服务中心", "service_kind": "legal_aid",
            "home_code": NANKENG, **extra}


def problem(response, status):
    assert response.status_code == status, response.text
    body = response.json()
    assert response.headers["Content-Type"].startswith("application/problem+json")
    assert body["status"] == status and body["detail"]
    return body


def test_staff_record_an_organization_and_viewers_of_the_subtree_read_it(api):
    created = api.post(f"{V1}/organizations", organization(), token=api.tokens["hub"])
    assert created.status_code == 201, created.text
    organization_id = created.json()["id"]
    seen = api.get(f"{V1}/organizations/{organization_id}", token=api.tokens["bantian_viewer"])
    assert seen.status_code == 200 and seen.json()["stage"] == "applied"
    listed = api.get(f"{V1}/organizations?code={BANTIAN}&limit=1",
                     token=api.tokens["bantian_viewer"])
    assert [item["id"] for item in listed.json()["items"]] == [organization_id]
    problem(api.get(f"{V1}/organizations/{organization_id}", token=api.tokens["longcheng"]),
            403)
    problem(api.post(f"{V1}/organizations", organization(name="又一家"),
                     token=api.tokens["bantian_viewer"]), 403)
    problem(api.get(f"{V1}/organizations/{organization_id}"), 401)
    assert api.get(f"{V1}/policies").status_code == 200  # policy data is public


def test_a_street_makes_an_organization_serve_only_its_own_places_over_http(api):
    zhangbei_org = organization(home_code=ZHANGBEI, places=[NANKENG])
    problem(api.post(f"{V1}/organizations", zhangbei_org, token=api.tokens["longcheng"]), 403)
    created = api.post(f"{V1}/organizations", organization(home_code=ZHANGBEI),
                       token=api.tokens["longcheng"])
    assert created.status_code == 201, created.text
    problem(api.patch(f"{V1}/organizations/{created.json()['id']}", {"places": [NANKENG]},
                      token=api.tokens["longcheng"]), 403)


def test_an_organizations_own_account_sees_and_reports_only_its_own(api):
    mine = api.post(f"{V1}/organizations", organization(), token=api.tokens["hub"]).json()
    other = api.post(f"{V1}/organizations", organization(name="别家"),
                     token=api.tokens["hub"]).json()
    api.post(f"{V1}/organizations/{mine['id']}/stage", {"stage": "admitted",
                                                        "reason": "评审通过"},
             token=api.tokens["hub"])
    problem(api.post("/api/v1/users", {"name": "彩虹账号", "role": "admin",
                                       "org_code": mine["account_code"]},
                     token=api.tokens["admin"]), 400)
    problem(api.post("/api/v1/users", {"name": "彩虹账号", "role": "staff",
                                       "org_code": mine["account_code"]},
                     token=api.tokens["longcheng_admin"]), 403)  # placed in 南坑, not 龙城
    issued = api.post("/api/v1/users", {"name": "彩虹账号", "role": "staff",
                                        "org_code": mine["account_code"]},
                      token=api.tokens["admin"])
    assert issued.status_code == 201, issued.text
    token = issued.json()["token"]
    assert api.get(f"{V1}/organizations/{mine['id']}", token=token).status_code == 200
    problem(api.get(f"{V1}/organizations/{other['id']}", token=token), 403)
    problem(api.get(f"{V1}/organizations?code={DISTRICT}", token=token), 403)
    problem(api.post(f"{V1}/organizations/{mine['id']}/stage",
                     {"stage": "incubating", "reason": "自己推进"}, token=token), 403)
    reported = api.post(f"{V1}/activities", {
        "organization_id": mine["id"], "kind": "legal_aid", "title": "劳动法律讲座",
        "held_on": now_utc().date().isoformat(), "place_code": NANKENG, "hours": "2.5",
        "participants": 30, "beneficiaries": [{"ref": "NK-1"}, {"ref": "NK-2"}]}, token=token)
    assert reported.status_code == 201, reported.text
    page = api.get(f"{V1}/activities?organization_id={mine['id']}", token=token).json()
    assert [item["beneficiaries"] for item in page["items"]] == [2]
    problem(api.get(f"{V1}/statistics?code={DISTRICT}", token=token), 403)


def test_bad_input_is_a_clear_4xx(api):
    hub = api.tokens["hub"]
    bad = problem(api.post(f"{V1}/organizations", {"name": "", "service_kind": "magic",
                                                   "home_code": "x" * 300}, token=hub), 400)
    assert {"name", "service_kind", "home_code"} <= {e["field"] for e in bad["errors"]}
    problem(api.post(f"{V1}/organizations", {"name": "x", "service_kind": "legal_aid",
                                             "home_code": "longgang.nowhere"}, token=hub), 400)
    problem(api.get(f"{V1}/organizations/0", token=hub), 404)
    problem(api.get(f"{V1}/organizations/99", token=hub), 404)
    problem(api.get(f"{V1}/statistics?code={DISTRICT}&period=last-year", token=hub), 400)
    problem(api.get(f"{V1}/statistics", token=hub), 400)
    for name, day in (("from", "0001-01-01"), ("to", "9999-12-31")):
        bad = problem(api.get(f"{V1}/statistics?code={DISTRICT}&{name}={day}", token=hub), 400)
        assert [e["field"] for e in bad["errors"]] == [name]
    problem(api.get(f"{V1}/organizations?code={DISTRICT}&cursor=garbage", token=hub), 400)
    problem(api.post(f"{V1}/activities", {"organization_id": 1, "kind": "legal_aid",
                                          "title": "讲座", "held_on": "2015-06-13",
                                          "place_code": NANKENG, "hours": "2",
                                          "participants": 1,
                                          "beneficiaries": [{"ref": "a"}, {"ref": "b"}]},
                     token=hub), 400)
    problem(api.post(f"{V1}/funds", {"name": "资金", "source": "district",
                                     "owner_code": DISTRICT, "budget": "-5"}, token=hub), 400)
    problem(api.request("DELETE", f"{V1}/funds/1", token=hub), 405)


def test_a_fund_sent_again_with_its_idempotency_key_is_created_once(api):
    hub, key = api.tokens["hub"], {"Idempotency-Key": "fund-2026-0001"}
    fund = {"name": "区扶持资金", "source": "district", "owner_code": DISTRICT,
            "budget": "1000000.00"}
    first = api.post(f"{V1}/funds", fund, token=hub, headers=key)
    again = api.post(f"{V1}/funds", fund, token=hub, headers=key)
    assert first.status_code == again.status_code == 201, again.text
    assert again.json() == first.json()
    body = problem(api.post(f"{V1}/funds", dict(fund, budget="5.00"), token=hub,
                            headers=key), 422)
    assert body["code"] == "IDEMPOTENCY_KEY_REUSED"
    # another caller's same key is another request (not a 422)
    other = api.post(f"{V1}/funds", dict(fund, name="区扶持资金二"), token=api.tokens["admin"],
                     headers=key)
    assert other.status_code == 201, other.text


def test_a_fund_call_and_a_refused_application_over_http(api):
    hub = api.tokens["hub"]
    fund = api.post(f"{V1}/funds", {"name": "区扶持资金", "source": "district",
                                    "owner_code": DISTRICT, "budget": "1000000.00"}, token=hub)
    assert fund.status_code == 201, fund.text
    call = api.post(f"{V1}/funds/{fund.json()['id']}/calls", {
        "title": "品牌项目", "opens_at": now_utc().isoformat(),
        "closes_at": "2099-01-01T00:00:00+08:00", "eligibility": {"min_grade": "3A"}},
        token=hub).json()
    created = api.post(f"{V1}/organizations", organization(), token=hub).json()
    refused = problem(api.post(f"{V1}/calls/{call['id']}/applications", {
        "organization_id": created["id"], "project": "法律援助", "amount": "100000.00"},
        token=hub), 409)
    assert refused["rule"] == "gates.fund_application.registered"
    ledger = api.get(f"{V1}/funds/{fund.json()['id']}/ledger", token=hub).json()
    assert ledger["balanced"] and ledger["accounts"]["available"] == "1000000.00"
