"""Issue 9's "Done when", on the real broker: registry, membership, disputes,
competitions and the gateway, each with its own database; everything through HTTP.

A 南坑 member nominated by her enterprise's union qualifies; a member at an enterprise
with no union and no federation cover is refused naming the rule; a judge from the
nominee's enterprise cannot score her; the trimmed-mean ranking is right; leaving the
union after qualifying flags the nomination (and a major case flags another); an upheld
objection moves the next contestant up, and no AMQP message of it holds its receipt code
or the objector's address; a plain AMQP client following asyncapi.yaml
reads every step as an event that validates against the document; bad input gets a
clear 4xx.
"""

import json

import pika
import pytest
import yaml

from services.competitions import policy
from services.competitions.service import CompetitionsService
from services.disputes.service import DisputesService
from services.gateway.service import GatewayService
from services.membership.domain import id_check_digit
from services.membership.service import MembershipService
from services.registry.sample import credit_code
from services.registry.service import RegistryService
from shared.testing import Firehose, call, eventually, post_from
from tests.conftest import gateway_tokens
from tests.contracts.test_pika_subscriber import (
    ROOT,
    connection_parameters,
    payload_validator,
)
from tests.gateway.conftest import Client

pytestmark = pytest.mark.usefixtures("rabbit_config")

DISTRICT, BANTIAN = "longgang", "longgang.bantian"
NANKENG, CONSTRUCTION = "longgang.bantian.nankeng", "longgang.construction"
PLANT, WORKSHOP, FACTORY, SHOP = (credit_code(n) for n in (11, 12, 13, 14))
PLANT_UNION = f"{NANKENG}.{PLANT.lower()}"  # the registry's code for its own union
BASE = "/api/v1/competitions"
QUEUE = "done-when.competitions"
OBJECTOR = "127.0.0.9"  # a loopback address nothing else uses: findable anywhere


def organization(code, name, kind, parent=None, party=None):
    return {"code": code, "name": name, "kind": kind, "parent_code": parent,
            "party_organization": party and {"name": party[0], "kind": party[1]}}


TREE = [
    organization(DISTRICT, "龙岗区总工会", "district_federation", None,
                 ("中共深圳市龙岗区委", "district_committee")),
    organization(BANTIAN, "坂田街道总工会", "street_federation", DISTRICT,
                 ("坂田街道党工委", "street_working_committee")),
    organization(NANKENG, "南坑社区工联会", "community_federation", BANTIAN,
                 ("南坑社区综合党委", "community_party_committee")),
    organization(CONSTRUCTION, "龙岗区建筑业工会", "industry_union", DISTRICT),
]
ENTERPRISES = [
    (PLANT, "南坑电子科技有限公司", 900, "own"), (WORKSHOP, "南坑五金制品厂", 40, "covered"),
    (FACTORY, "南坑塑胶厂", 60, "covered"), (SHOP, "南坑小卖部", 6, "none"),
]
# worker -> enterprise; A is "her": the 南坑 member her enterprise's union nominates
WORKERS = {"A": PLANT, "B": WORKSHOP, "C": FACTORY, "D": SHOP, "E": PLANT}
USERS = {"admin": ("admin", DISTRICT), "district": ("staff", DISTRICT),
         "bantian": ("staff", BANTIAN), "nankeng": ("staff", NANKENG),
         "plant": ("staff", PLANT_UNION),
         **{f"judge{n}": ("judge", CONSTRUCTION) for n in range(1, 6)},
         "judge6": ("judge", PLANT),
         **{f"d{n}": ("judge", CONSTRUCTION) for n in range(1, 4)}}


@pytest.fixture
def contract():
    return yaml.safe_load((ROOT / "asyncapi.yaml").read_text(encoding="utf-8"))


@pytest.fixture
def subscriber(rabbit_config, contract):
    """A plain AMQP client: one queue bound to every competitions channel of the
    document, as each channel's AMQP binding says."""
    connection = pika.BlockingConnection(connection_parameters(contract, rabbit_config))
    channel = connection.channel()
    channel.queue_declare(QUEUE, durable=True, auto_delete=False, exclusive=False)
    channels = {}
    for doc in contract["channels"].values():
        binding = doc["bindings"]["amqp"]
        if binding["is"] != "routingKey" or binding["exchange"]["name"] != "competitions.events":
            continue  # a consumer's queue, or another source's events
        exchange = binding["exchange"]
        channel.exchange_declare(exchange["name"], exchange_type=exchange["type"],
                                 durable=exchange["durable"],
                                 auto_delete=exchange["autoDelete"])
        channel.queue_bind(QUEUE, exchange["name"], routing_key=doc["address"])
        channels[doc["address"]] = doc
    yield channel, channels
    connection.close()


def received(channel) -> list:
    messages = []
    while True:
        method, _, body = channel.basic_get(QUEUE, auto_ack=True)
        if method is None:
            return messages
        messages.append((method.routing_key, json.loads(body)))


@pytest.fixture
def district(container_factory, make_service_config, database_factory, tmp_path):
    urls = {name: f"sqlite:///{tmp_path}/{name}.db" for name in
            ("registry", "membership", "disputes", "competitions", "gateway")}
    configs = {
        "registry": make_service_config(urls["registry"]),
        "membership": make_service_config(urls["membership"], MEMBERSHIP_PII_KEY="ab" * 32),
        "disputes": make_service_config(urls["disputes"], DISPUTES_PII_KEY="cd" * 32),
        "competitions": make_service_config(urls["competitions"]),
        "gateway": make_service_config(urls["gateway"]),
    }
    classes = {"registry": RegistryService, "membership": MembershipService,
               "disputes": DisputesService, "competitions": CompetitionsService,
               "gateway": GatewayService}
    for name in ("membership", "disputes", "competitions", "gateway", "registry"):
        container = container_factory(classes[name], configs[name])
        container.start()
        if name == "registry":
            registry = container
    admin = {"name": "district-admin", "role": "admin", "organization_code": DISTRICT}
    for organization in TREE:
        call(registry, "register_organization", organization, admin)
    for code, name, headcount, union in ENTERPRISES:
        call(registry, "register_enterprise", {
            "credit_code": code, "name": name, "community_code": NANKENG,
            "headcount": headcount, "union_status": union}, admin)
    competitions_db = database_factory(urls["competitions"], "competitions",
                                       run_migrations=False)
    eventually(lambda: competitions_db.engine.connect().exec_driver_sql(
        "SELECT count(*) FROM enterprises").scalar() == 4, timeout=20)
    eventually(lambda: competitions_db.engine.connect().exec_driver_sql(
        f"SELECT count(*) FROM organizations WHERE code = '{PLANT_UNION}'").scalar() == 1,
        timeout=20)
    tokens = gateway_tokens(urls["gateway"], USERS)
    return Client(configs["gateway"]["WEB_SERVER_ADDRESS"]), tokens, competitions_db


def ok(response, status=200):
    assert response.status_code == status, response.text
    return response.json()


def id_number(n: int) -> str:
    body = f"44030719900101{n:03d}"
    return body + id_check_digit(body)


def rules_with_quotas() -> dict:
    body = policy.default_body()
    innovation = policy.group(body, "innovation")
    innovation["quotas"] = {"qualification": None, "street_final": 4, "district_final": 2}
    return body


def marks(level: float) -> dict:
    return {code: level for code in ("achievement", "benefit", "skill", "presentation",
                                     "teaching")}


def test_a_competition_from_nomination_to_an_upheld_objection_across_the_services(
        district, subscriber, contract, rabbit_config):
    client, tokens, _ = district
    channel, channels = subscriber

    # members: entered by 南坑's staff in membership, approved; competitions hears of it
    members = {}
    for n, (person, code) in enumerate(WORKERS.items(), start=1):
        entered = ok(client.post("/api/v1/memberships", {
            "name": f"职工{person}", "id_number": id_number(n), "phone": None,
            "enterprise_credit_code": code}, token=tokens["nankeng"]), 201)
        ok(client.post(f"/api/v1/memberships/{entered['membership_id']}/approve", {},
                       token=tokens["nankeng"]))
        members[person] = entered

    # an edition under rules whose innovation group sends 4 on and makes 2 winners;
    # the rules are the district's admins' to publish, not its staff's
    assert client.post(f"{BASE}/rules", {"body": rules_with_quotas(), "note": "测试"},
                       token=tokens["district"]).status_code == 403
    rules = ok(client.post(f"{BASE}/rules", {"body": rules_with_quotas(), "note": "测试"},
                           token=tokens["admin"]), 201)
    assert rules["version"] == 2
    edition = ok(client.post(f"{BASE}/editions", {"year": 2016, "title": "2016职工之星"},
                             token=tokens["admin"]), 201)
    rounds = {(r["stage"], r["organization_code"]): r["id"] for r in edition["rounds"]}
    ok(client.post(f"{BASE}/rounds/{rounds['nomination', DISTRICT]}/open", {},
                   token=tokens["district"]))

    def nominate(person, by, token):
        return client.post(f"{BASE}/nominations", {
            "edition_id": "2016", "group": "innovation",
            "worker_id": members[person]["worker_id"], "name": f"职工{person}",
            "enterprise_credit_code": WORKERS[person], "nominated_by": by,
            "statement": "改进工艺，带徒传艺", "facts": {"years_on_front_line": 6}},
            token=token)

    eventually(lambda: nominate("A", PLANT_UNION, tokens["plant"]).status_code == 201,
               timeout=20)  # once membership's approval has reached competitions
    her = ok(client.get(f"{BASE}/nominations?edition_id=2016", token=tokens["plant"]))
    [her] = her["items"]
    assert her["status"] == "qualified" and her["failed_rules"] == []
    refused = ok(nominate("D", NANKENG, tokens["nankeng"]), 201)
    assert refused["status"] == "refused"
    assert [f["rule"] for f in refused["failed_rules"]] == ["enterprise_union"]
    ids = {"A": her["id"], "D": refused["id"]}
    for person, by in (("B", NANKENG), ("C", NANKENG), ("E", PLANT_UNION)):
        ids[person] = ok(nominate(person, by, tokens["nankeng"]), 201)["id"]

    # bad input: a clear 4xx naming what is wrong
    bad = client.post(f"{BASE}/nominations", {"edition_id": "2016", "worker_id": -3},
                      token=tokens["nankeng"])
    assert bad.status_code == 400
    assert {"group", "worker_id", "name"} <= set(json.dumps(bad.json()).replace('"', " ")
                                                 .split())
    assert nominate("B", NANKENG, tokens["nankeng"]).status_code == 409  # one per edition
    assert client.get(f"{BASE}/editions/2099", token=tokens["admin"]).status_code == 404
    assert client.post(f"{BASE}/nominations", {"edition_id": "2016"}).status_code == 401

    ok(client.post(f"{BASE}/rounds/{rounds['nomination', DISTRICT]}/close", {},
                   token=tokens["district"]))
    ok(client.post(f"{BASE}/rounds/{rounds['qualification', DISTRICT]}/open", {},
                   token=tokens["district"]))
    ok(client.post(f"{BASE}/rounds/{rounds['qualification', DISTRICT]}/close", {},
                   token=tokens["district"]))

    # leaving the union after qualifying flags the nomination
    ok(client.post(f"/api/v1/memberships/{members['E']['membership_id']}/leave",
                   {"reason": "离职"}, token=tokens["nankeng"]))

    def flags_of(person):
        return ok(client.get(f"{BASE}/nominations/{ids[person]}", token=tokens["nankeng"]))

    eventually(lambda: flags_of("E")["flagged"], timeout=20)
    assert flags_of("E")["flags"][0]["reason_code"] == "member_left"
    ok(client.post(f"{BASE}/nominations/{ids['E']}/review",
                   {"decision": "disqualified", "note": "已离职"}, token=tokens["nankeng"]))
    # a case graded major (老板走逃) at C's enterprise flags C; staff keep her
    ok(client.post("/api/v1/disputes/reports", {
        "credit_code": FACTORY, "category": "boss_absconded", "workers_affected": 12,
        "amount_owed": "90000.00", "description": "老板失联，拖欠工资"}), 201)
    eventually(lambda: flags_of("C")["flagged"], timeout=20)
    assert flags_of("C")["flags"][0]["reason_code"] == "major_dispute"
    ok(client.post(f"{BASE}/nominations/{ids['C']}/review",
                   {"decision": "kept", "note": "纠纷与本人无关"}, token=tokens["nankeng"]))

    # 坂田's street final: five judges from the construction union, one from her plant
    final = rounds["street_final", BANTIAN]
    for n in range(1, 7):
        ok(client.post(f"{BASE}/rounds/{final}/judges", {
            "name": f"评委{n}", "user_name": f"judge{n}",
            "organization_code": PLANT if n == 6 else CONSTRUCTION},
            token=tokens["bantian"]), 201)
    assert client.post(f"{BASE}/rounds/{final}/open", {},
                       token=tokens["nankeng"]).status_code == 403  # 坂田's, not 南坑's
    ok(client.post(f"{BASE}/rounds/{final}/open", {}, token=tokens["bantian"]))
    seats = {c["nomination_id"]: c["id"] for c in ok(client.get(
        f"{BASE}/rounds/{final}", token=tokens["bantian"]))["contestants"]}
    person_of = {nomination: person for person, nomination in ids.items()}
    assert sorted(person_of[n] for n in seats) == ["A", "B", "C", "E"]

    def score(judge, person, level, score_id=None, round_id=final):
        return client.post(f"{BASE}/rounds/{round_id}/scores", {
            "contestant_id": seats[ids[person]] if round_id == final else person,
            "score_id": score_id or f"save-{judge}-{person}-{round_id}",
            "values": marks(level), "comment": "好"}, token=tokens[judge])

    refused_score = score("judge6", "A", 9)
    assert refused_score.status_code == 403 and "同属一个企业" in refused_score.text
    table = {"A": [9, 8, 8, 7, 10, None], "B": [8, 8, 9, 7, 8, 6], "C": [7, 7, 7, 7, 7, 10]}
    for person, levels in table.items():
        for n, level in enumerate(levels, start=1):
            if level is not None:
                ok(score(f"judge{n}", person, level))
    again = ok(score("judge1", "A", 9))  # a resend of the same save
    assert again["duplicate"] is True and again["version"] == 1
    sheet = ok(client.get(f"{BASE}/rounds/{final}/sheet", token=tokens["judge6"]))
    assert {c["contestant_id"]: c["excluded"] for c in sheet["contestants"]}[
        seats[ids["A"]]] == "same_enterprise"
    assert score("judge1", "A", 11, "too-high-1").status_code == 400
    assert client.get(f"{BASE}/rounds/{final}/ranking",
                      token=tokens["bantian"]).status_code == 409  # blind until closed
    ok(client.post(f"{BASE}/rounds/{final}/close", {}, token=tokens["bantian"]))
    assert score("judge2", "B", 1, "late-save-1").status_code == 409  # frozen

    ranking = ok(client.get(f"{BASE}/rounds/{final}/ranking", token=tokens["bantian"]))
    entries = ranking["groups"][0]["entries"]
    # trimmed mean: A drops 10 and 7 of five (judge 6 excluded): 83.33; B drops 9 and 6 of
    # six: 77.5; C drops 10 and one 7: 70; E (disqualified) has no score
    assert [(person_of[e["nomination_id"]], e["total"]) for e in entries] == [
        ("A", pytest.approx(83.3333, abs=1e-3)), ("B", 77.5), ("C", 70.0), ("E", None)]
    assert "1 excluded for a conflict of interest" in entries[0]["computation"]

    # the district final: A, B and C go on; E, disqualified, does not
    district_final = rounds["district_final", DISTRICT]
    for n in range(1, 4):
        ok(client.post(f"{BASE}/rounds/{district_final}/judges", {
            "name": f"区评委{n}", "user_name": f"d{n}", "organization_code": CONSTRUCTION},
            token=tokens["district"]), 201)
    ok(client.post(f"{BASE}/rounds/{district_final}/open", {}, token=tokens["district"]))
    seats_d = {c["nomination_id"]: c["id"] for c in ok(client.get(
        f"{BASE}/rounds/{district_final}", token=tokens["district"]))["contestants"]}
    assert sorted(person_of[n] for n in seats_d) == ["A", "B", "C"]
    for person, level in (("A", 9), ("B", 8), ("C", 7)):
        for n in range(1, 4):
            ok(score(f"d{n}", seats_d[ids[person]], level, round_id=district_final))
    ok(client.post(f"{BASE}/rounds/{district_final}/close", {}, token=tokens["district"]))

    # results: the public notice; an upheld objection moves the next one up
    ok(client.post(f"{BASE}/rounds/{rounds['public_notice', DISTRICT]}/open",
                   {"objection_days": 7}, token=tokens["district"]))
    results = ok(client.get(f"{BASE}/editions/2016/results"))
    winners = next(g for g in results["groups"] if g["code"] == "innovation")["winners"]
    assert [(w["name"], w["rank"]) for w in winners] == [("职工A", 1), ("职工B", 2)]
    objection = {"award_id": winners[0]["award_id"], "reason": "创新成果并非本人完成"}
    key = {"Idempotency-Key": "0d4f7a2c9e1b4c6d8f3a5b7c9e2d4f6a"}
    # issue 12: neither the receipt code nor the objector's address crosses the broker
    with Firehose(rabbit_config["AMQP_URI"]) as firehose:
        status, lodged = post_from(OBJECTOR, client.base, f"{BASE}/objections", objection,
                                   key)
        assert status == 201, lodged
        # sent again with its key (no answer seen): the same objection, its code again
        assert post_from(OBJECTOR, client.base, f"{BASE}/objections", objection,
                         key) == (201, lodged)
        receipt = lodged["receipt_code"]
        assert len(receipt.replace(" ", "")) == 16
        assert post_from(OBJECTOR, client.base, f"{BASE}/objections/status",
                         {"receipt_code": receipt.replace(" ", "")})[1]["status"] == "lodged"
        captured = firehose.take()
    assert b"lodge_objection" in b"".join(captured)  # the RPC requests were seen
    assert b"objection_status" in b"".join(captured)
    for what, secret in {"receipt code": receipt, "its 16 digits": receipt.replace(" ", ""),
                         "address": OBJECTOR, "key": key["Idempotency-Key"]}.items():
        assert not firehose.holds(secret), f"the objection's {what} crossed the broker"
    assert client.post(f"{BASE}/objections", {"award_id": 0, "reason": "x"}).status_code == 400
    error = client.post(f"{BASE}/objections/status", {"receipt_code": "1234 5678 9012 345x"})
    assert error.status_code == 400, error.text
    status = ok(client.post(f"{BASE}/objections/status", {"receipt_code": receipt}))
    assert status["status"] == "lodged"
    ok(client.post(f"{BASE}/objections/{lodged['objection_id']}/decision",
                   {"decision": "upheld", "note": "经核实属实"}, token=tokens["district"]))
    winners = next(g for g in ok(client.get(f"{BASE}/editions/2016/results"))["groups"]
                   if g["code"] == "innovation")["winners"]
    assert [(w["name"], w["rank"], w["moved_up"]) for w in winners] == [
        ("职工B", 1, False), ("职工C", 2, True)]
    assert ok(client.post(f"{BASE}/objections/status",
                          {"receipt_code": receipt}))["status"] == "upheld"

    # every step was an event a plain AMQP client read, valid against asyncapi.yaml
    expected = {"nomination_submitted", "nomination_qualified", "nomination_refused",
                "nomination_flagged", "nomination_reviewed", "round_opened",
                "round_closed", "results_published", "award_granted", "award_revoked",
                "objection_lodged", "objection_decided"}
    seen = []
    eventually(lambda: expected <= {key for key, _ in seen.extend(received(channel)) or
                                    seen}, timeout=20)
    for routing_key, envelope in seen:
        validator = payload_validator(contract, channels[routing_key])
        assert [e.message for e in validator.iter_errors(envelope)] == [], routing_key
        assert envelope["type"] == routing_key
    granted = [e["data"] for key, e in seen if key == "award_granted"]
    assert [(g["worker_id"], g["moved_up"]) for g in granted][-1] == (
        members["C"]["worker_id"], True)
