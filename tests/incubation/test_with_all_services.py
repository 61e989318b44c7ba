"""Issue 10 end to end: registry, membership, incubation and the gateway on the real broker.

The registry is the only source of places and membership the only source of members and
their service requests: incubation learns both from their events. Through the gateway's
HTTP API, a social organization applies to the hub, is admitted, incubates, is graded 3A,
wins a fund award paid in two tranches against accepted progress reports, takes a
member's legal-consultation referral (membership shows it on the request), reports its
activities (the member linked) and graduates; a 2A organization's application to the 3A
fund is refused with the rule named; both ledgers balance; bad input gets a clear 4xx.
"""

from datetime import date, timedelta
from typing import NamedTuple

import pytest
from sqlalchemy import func, select

from services.gateway.service import GatewayService
from services.incubation.models import members, places, service_requests
from services.incubation.service import IncubationService
from services.membership.service import MembershipService
from services.registry.service import RegistryService
from shared.api.registry import credit_code_check_digit
from shared.testing import call, eventually
from shared.timeutil import now_utc
from tests.conftest import gateway_tokens
from tests.gateway.conftest import Client
from tests.registry.conftest import TREE as REGISTRY_TREE

pytestmark = pytest.mark.usefixtures("rabbit_config")

DISTRICT, BANTIAN = "longgang", "longgang.bantian"
NANKENG = "longgang.bantian.nankeng"
V1 = "/api/v1"
INCUBATION = f"{V1}/incubation"
PII_KEY = "11" * 32
TREE = REGISTRY_TREE[:4]  # the district, 坂田 and 龙城 streets, 南坑


def credit_code(first17: str) -> str:
    return first17 + credit_code_check_digit(first17)


FACTORY = credit_code("91440300MA5DA0001")  # 南坑五金制品厂


def id_number(body: str) -> str:
    """GB 11643: the 18th character checks the first 17."""
    total = sum(int(digit) * (2 ** (17 - index) % 11) for index, digit in enumerate(body))
    return body + "10X98765432"[total % 11]


class District(NamedTuple):
    client: Client
    tokens: dict
    count: object  # count(table): rows in incubation's database


@pytest.fixture
def district(container_factory, make_service_config, database_factory, tmp_path):
    urls = {name: f"sqlite:///{tmp_path}/{name}.db"
            for name in ("registry", "membership", "incubation", "gateway")}
    configs = {name: make_service_config(url) for name, url in urls.items()}
    configs["membership"]["MEMBERSHIP_PII_KEY"] = PII_KEY
    classes = {"registry": RegistryService, "membership": MembershipService,
               "incubation": IncubationService, "gateway": GatewayService}
    for name in ("membership", "incubation", "gateway", "registry"):  # consumers first
        container = container_factory(classes[name], configs[name])
        container.start()
        if name == "registry":
            registry = container
    admin = {"name": "区总工会管理员", "role": "admin", "organization_code": DISTRICT}
    for organization in TREE:
        call(registry, "register_organization", organization, admin)
    call(registry, "register_enterprise", {
        "credit_code": FACTORY, "name": "南坑五金制品厂", "community_code": NANKENG,
        "headcount": 80, "union_status": "covered"}, admin)
    incubation_db = database_factory(urls["incubation"], "incubation", run_migrations=False)

    def count(table):
        with incubation_db.session() as session:
            return session.execute(select(func.count()).select_from(table)).scalar()

    eventually(lambda: count(places) == len(TREE), timeout=15)
    tokens = gateway_tokens(urls["gateway"], {"admin": ("admin", DISTRICT),
                                              "hub": ("staff", DISTRICT),
                                              "nankeng": ("staff", NANKENG)})
    client = Client(configs["gateway"]["WEB_SERVER_ADDRESS"])
    return District(client, tokens, count)


def ok(response, status=200) -> dict:
    assert response.status_code == status, response.text
    return response.json()


def refused(response, status) -> dict:
    assert response.status_code == status, response.text
    return response.json()


def test_an_organization_from_application_to_graduation_with_the_other_services(district):
    client, tokens, count = district
    hub, admin = tokens["hub"], tokens["admin"]

    # a worker of 南坑五金制品厂 joins the union (membership), and asks for legal advice
    applied = ok(client.post(f"{V1}/memberships", {
        "name": "陈七", "id_number": id_number("44030719900101123"), "phone": "13600136000",
        "enterprise_credit_code": FACTORY}, token=tokens["nankeng"]), 201)
    member = ok(client.post(f"{V1}/memberships/{applied['membership_id']}/approve",
                            token=tokens["nankeng"]))
    worker_id = member["worker_id"]
    request = ok(client.post(f"{V1}/service-requests", {
        "worker_id": worker_id, "kind": "legal_consultation",
        "summary": "工伤赔偿咨询"}, token=tokens["nankeng"]), 201)

    # the organization applies, is admitted, incubates
    organization = ok(client.post(f"{INCUBATION}/organizations", {
        "name": "龙岗区彩虹职工法律服务中心", "service_kind": "legal_aid", "home_code": NANKENG,
        "places": [BANTIAN], "contacts": [{"name": "李晓红", "phone": "0755-28900001"}]},
        token=hub), 201)
    organization_id = organization["id"]
    stage = f"{INCUBATION}/organizations/{organization_id}/stage"
    ok(client.post(stage, {"stage": "admitted", "reason": "评审通过，入驻孵化"}, token=hub))
    incubating = ok(client.post(stage, {
        "stage": "incubating", "reason": "签订孵化协议",
        "plan": {"mentor": "陈导师", "training": ["财务管理"],
                 "milestones": [{"title": "完成民政登记",
                                 "due_on": (date.today() + timedelta(days=90)).isoformat()}]}},
        token=hub))
    assert incubating["incubation_deadline"]
    ok(client.patch(f"{INCUBATION}/organizations/{organization_id}",
                    {"credit_code": credit_code("52440307MJL000001")}, token=hub))

    # graded 3A
    assessed_on = now_utc().date().isoformat()
    grade = ok(client.post(f"{INCUBATION}/organizations/{organization_id}/assessments", {
        "assessed_on": assessed_on, "evaluator": "龙岗区社会组织评估委员会",
        "assessors": [{"name": "专家组", "scores": {
            "basic_conditions": 80, "internal_governance": 74, "work_performance": 76,
            "social_evaluation": 72}}]}, token=hub), 201)
    assert (grade["grade"], grade["total"]) == ("3A", "75.10")

    # its own account
    account = ok(client.post(f"{V1}/users", {"name": "彩虹中心", "role": "staff",
                                             "org_code": organization["account_code"]},
                             token=admin), 201)["token"]

    # a fund for 3A and above; the award is paid in two tranches against accepted reports
    fund = ok(client.post(f"{INCUBATION}/funds", {
        "name": "龙岗区职工服务社会组织扶持资金", "source": "district", "owner_code": DISTRICT,
        "budget": "500000.00"}, token=hub), 201)
    call_for = ok(client.post(f"{INCUBATION}/funds/{fund['id']}/calls", {
        "title": "职工服务品牌项目资助", "opens_at": now_utc().isoformat(),
        "closes_at": (now_utc() + timedelta(days=30)).isoformat(),
        "eligibility": {"min_grade": "3A"}}, token=hub), 201)
    application = ok(client.post(f"{INCUBATION}/calls/{call_for['id']}/applications", {
        "organization_id": organization_id, "project": "外来务工人员法律援助进社区",
        "amount": "200000.00"}, token=account), 201)
    ok(client.post(f"{INCUBATION}/applications/{application['id']}/review",
                   {"score": "88.5"}, token=hub))
    award = ok(client.post(f"{INCUBATION}/applications/{application['id']}/award", {},
                           token=hub), 201)
    assert [t["amount"] for t in award["tranches"]] == ["100000.00", "100000.00"]
    early = refused(client.post(f"{INCUBATION}/awards/{award['id']}/disbursements",
                                {"tranche": 1}, token=hub), 409)
    assert early["rule"] == "tranche.report_accepted"
    for tranche in (1, 2):
        report = ok(client.post(f"{INCUBATION}/awards/{award['id']}/progress-reports", {
            "tranche": tranche, "summary": f"第{tranche}阶段：法律讲座6场"}, token=account), 201)
        refused(client.post(f"{INCUBATION}/progress-reports/{report['id']}/accept", {},
                            token=account), 403)  # not its own to accept
        ok(client.post(f"{INCUBATION}/progress-reports/{report['id']}/accept",
                       {"note": "同意拨付"}, token=hub))
        paid = ok(client.post(f"{INCUBATION}/awards/{award['id']}/disbursements",
                              {"tranche": tranche}, token=hub))
    assert paid["disbursed"] == "200000.00"

    # a 2A organization's application to the 3A fund is refused, the rule named
    weak = ok(client.post(f"{INCUBATION}/organizations", {
        "name": "龙岗区启航职工技能培训中心", "service_kind": "skills", "home_code": NANKENG,
        "credit_code": credit_code("52440307MJL000002")}, token=hub), 201)
    weak_stage = f"{INCUBATION}/organizations/{weak['id']}/stage"
    ok(client.post(weak_stage, {"stage": "admitted", "reason": "评审通过"}, token=hub))
    ok(client.post(f"{INCUBATION}/organizations/{weak['id']}/assessments", {
        "assessed_on": assessed_on, "evaluator": "龙岗区社会组织评估委员会",
        "assessors": [{"name": "专家组", "scores": {
            "basic_conditions": 65, "internal_governance": 62, "work_performance": 63,
            "social_evaluation": 60}}]}, token=hub), 201)
    refusal = refused(client.post(f"{INCUBATION}/calls/{call_for['id']}/applications", {
        "organization_id": weak["id"], "project": "技能培训", "amount": "50000.00"},
        token=hub), 409)
    assert (refusal["code"], refusal["rule"], refusal["requires"], refusal["holds"]) == (
        "CONFLICT", f"calls.{call_for['id']}.eligibility.min_grade", "3A", "2A")
    assert f"calls.{call_for['id']}.eligibility.min_grade" in refusal["detail"]

    # the member's legal-consultation request, learnt from membership, is referred to it
    def candidates():
        answer = client.get(f"{INCUBATION}/service-requests/{request['request_id']}"
                            "/candidates", token=hub)
        return answer.json() if answer.status_code == 200 else None

    found = eventually(candidates, timeout=15)
    assert [c["organization_id"] for c in found["candidates"]] == [organization_id]
    referral = ok(client.post(
        f"{INCUBATION}/service-requests/{request['request_id']}/referrals",
        {"organization_id": organization_id, "note": "请尽快联系"}, token=hub), 201)
    served = ok(client.post(f"{INCUBATION}/referrals/{referral['id']}/outcome",
                            {"outcome": "served", "note": "已安排律师面谈"}, token=account))
    assert served["status"] == "served"

    def shown_in_membership():
        shown = ok(client.get(f"{V1}/service-requests/{request['request_id']}",
                              token=tokens["nankeng"]))["referrals"]
        return shown if shown and shown[0]["status"] == "served" else None

    [shown] = eventually(shown_in_membership, timeout=15)
    assert shown == {"referral_id": referral["id"], "organization_id": organization_id,
                     "organization_name": "龙岗区彩虹职工法律服务中心", "status": "served"}
    # the notes stayed in incubation (its events carry none)

    # activities, the member linked (learnt from membership's events), then graduation
    eventually(lambda: count(members) == 1, timeout=15)
    assert count(service_requests) == 1
    for number in range(6):
        beneficiaries = [{"ref": f"NK-{number}-{n}"} for n in range(20)]
        if number == 0:
            beneficiaries.append({"worker_id": worker_id})
        ok(client.post(f"{INCUBATION}/activities", {
            "organization_id": organization_id, "kind": "legal_aid",
            "title": f"劳动法律知识讲座（第{number + 1}期）",
            "held_on": now_utc().date().isoformat(), "place_code": FACTORY, "hours": "2.5",
            "participants": 40, "beneficiaries": beneficiaries}, token=account), 201)
    ok(client.post(stage, {"stage": "assessed", "reason": "等级评估完成"}, token=hub))
    graduated = ok(client.post(stage, {"stage": "graduated", "reason": "达到出壳条件"},
                               token=hub))
    assert graduated["stage"] == "graduated"
    assert [c["to_stage"] for c in graduated["history"]] == [
        "applied", "admitted", "incubating", "assessed", "graduated"]

    figures = ok(client.get(f"{INCUBATION}/statistics?code={BANTIAN}", token=hub))
    assert figures["activities"]["activities"] == 6
    assert figures["activities"]["members"] == 1
    assert figures["activities"]["workers_reached"] == 121
    assert figures["organizations"]["by_stage"]["graduated"] == 1

    # the ledgers balance
    fund_ledger = ok(client.get(f"{INCUBATION}/funds/{fund['id']}/ledger", token=hub))
    assert (fund_ledger["balanced"], fund_ledger["agrees"]) == (True, True)
    assert fund_ledger["accounts"] == {"source": "-500000.00", "available": "300000.00",
                                       "committed": "0.00", "paid": "200000.00"}
    mine = ok(client.get(f"{INCUBATION}/organizations/{organization_id}/ledger",
                         token=account))
    assert (mine["balanced"], mine["agrees"], mine["accounts"]["received"]) == (
        True, True, "200000.00")

    # bad input gets a clear 4xx
    bad = refused(client.post(f"{INCUBATION}/activities", {
        "organization_id": organization_id, "kind": "juggling", "held_on": "yesterday"},
        token=account), 400)
    assert {"kind", "held_on", "title", "place_code"} <= {e["field"] for e in bad["errors"]}
    refused(client.get(f"{INCUBATION}/organizations/{weak['id']}", token=account), 403)
    refused(client.get(f"{INCUBATION}/awards/0", token=hub), 404)
