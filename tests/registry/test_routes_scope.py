"""The registry's gateway routes (routes/registry.py) in front of the real registry, both
running on the broker, each with its own database: scope, errors and the import, end to
end over HTTP.

The tree is built through the gateway by the district admin (only the district root
itself is registered by RPC: no one's subtree contains a place above the root).
"""

import pytest

from services.gateway.service import GatewayService
from services.registry.service import RegistryService
from shared.api.registry import credit_code_check_digit
from shared.testing import call
from tests.conftest import gateway_tokens
from tests.gateway.conftest import Client
from tests.shared.problems import error_fields

V1 = "/api/v1"
DISTRICT = "longgang"
BANTIAN, LONGCHENG = "longgang.bantian", "longgang.longcheng"
NANKENG, GANGTOU = "longgang.bantian.nankeng", "longgang.bantian.gangtou"
ZHANGBEI = "longgang.longcheng.zhangbei"


def credit_code(serial: int) -> str:
    first17 = f"91440300MA5{serial:06d}"
    return first17 + credit_code_check_digit(first17)


NK_FACTORY, ZB_FACTORY = credit_code(1), credit_code(2)


def party(kind, name):
    return {"kind": kind, "name": name}


@pytest.fixture
def system(container_factory, make_service_config, tmp_path):
    registry_config = make_service_config(f"sqlite:///{tmp_path}/registry.db")
    gateway_config = make_service_config(f"sqlite:///{tmp_path}/gateway.db")
    registry = container_factory(RegistryService, registry_config)
    gateway = container_factory(GatewayService, gateway_config)
    registry.start()
    gateway.start()
    call(registry, "register_organization", {
        "code": DISTRICT, "name": "龙岗区总工会", "kind": "district_federation",
        "parent_code": None, "party_organization": party("district_committee", "中共龙岗区委")},
        {"name": "setup", "role": "admin", "organization_code": DISTRICT})

    tokens = gateway_tokens(gateway_config["DATABASE_URL"], {
        "admin": ("admin", DISTRICT), "bantian": ("staff", BANTIAN),
        "nankeng": ("staff", NANKENG), "zhangbei": ("viewer", ZHANGBEI)})

    client = Client(gateway_config["WEB_SERVER_ADDRESS"])
    admin = tokens["admin"]
    for code, name in ((BANTIAN, "坂田街道总工会"), (LONGCHENG, "龙城街道总工会")):
        created = client.post(f"{V1}/organizations", {
            "code": code, "name": name, "kind": "street_federation", "parent_code": DISTRICT,
            "party_organization": party("street_working_committee", name[:2] + "街道党工委")},
            token=admin)
        assert created.status_code == 201, created.text
    for code, parent, name in ((NANKENG, BANTIAN, "南坑社区工联会"),
                               (GANGTOU, BANTIAN, "岗头社区工联会"),
                               (ZHANGBEI, LONGCHENG, "嶂背社区工联会")):
        created = client.post(f"{V1}/organizations", {
            "code": code, "name": name, "kind": "community_federation", "parent_code": parent,
            "party_organization": party("community_party_committee", name[:2] + "社区党委"),
            "contacts": [{"name": name[:2] + "主席", "role": "主席", "phone": "0755-28000000"}]},
            token=admin)
        assert created.status_code == 201, created.text
    for serial, community, name in ((NK_FACTORY, NANKENG, "南坑电子厂"),
                                    (ZB_FACTORY, ZHANGBEI, "嶂背五金厂")):
        created = client.post(f"{V1}/enterprises", {
            "credit_code": serial, "name": name, "community_code": community,
            "headcount": 120, "union_status": "covered"}, token=admin)
        assert created.status_code == 201, created.text
    return client, tokens


def test_a_nankeng_staff_member_works_in_nankeng_but_not_in_zhangbei(system):
    client, tokens = system
    token = tokens["nankeng"]
    own = client.get(f"{V1}/enterprises/{NK_FACTORY}", token=token)
    assert own.status_code == 200
    assert own.json()["path"] == [DISTRICT, BANTIAN, NANKENG]
    assert client.patch(f"{V1}/enterprises/{NK_FACTORY}", {"headcount": 130},
                        token=token).status_code == 200
    contacts = client.get(f"{V1}/organizations/{NANKENG}/contacts", token=token)
    assert contacts.json()["contacts"][0]["name"] == "南坑主席"

    for method, path, body in [
        ("GET", f"{V1}/enterprises/{ZB_FACTORY}", None),
        ("GET", f"{V1}/organizations/{ZHANGBEI}/contacts", None),
        ("GET", f"{V1}/organizations/{ZHANGBEI}/chain", None),
        ("PATCH", f"{V1}/enterprises/{ZB_FACTORY}", {"headcount": 1}),
        ("POST", f"{V1}/enterprises/{ZB_FACTORY}/close", {"reason": "搬迁"}),
        ("PUT", f"{V1}/organizations/{ZHANGBEI}/contacts", {"contacts": []}),
        ("POST", f"{V1}/enterprises/{NK_FACTORY}/move", {"community_code": ZHANGBEI}),
        ("POST", f"{V1}/enterprises/import", [{"credit_code": ZB_FACTORY, "headcount": 1}]),
    ]:
        response = client.request(method, path, token=token, json=body)
        assert response.status_code == 403, (method, path, response.text)
    unchanged = client.get(f"{V1}/enterprises/{ZB_FACTORY}", token=tokens["admin"]).json()
    assert (unchanged["headcount"], unchanged["status"]) == (120, "active")


def test_a_bantian_street_staff_member_acts_across_its_communities(system):
    client, tokens = system
    token = tokens["bantian"]
    moved = client.post(f"{V1}/enterprises/{NK_FACTORY}/move", {"community_code": GANGTOU},
                        token=token)
    assert moved.status_code == 200, moved.text
    assert moved.json()["path"] == [DISTRICT, BANTIAN, GANGTOU]
    report = client.post(f"{V1}/enterprises/import", [
        {"credit_code": credit_code(3), "name": "岗头塑胶厂", "community_code": GANGTOU,
         "headcount": 40, "union_status": "own"},
        {"credit_code": credit_code(4), "name": "太小的厂", "community_code": NANKENG,
         "headcount": 10, "union_status": "own"},
        # a mistyped check digit is a rejected row, not a refused import
        {"credit_code": credit_code(6)[:-1] + ("0" if credit_code(6)[-1] != "0" else "1"),
         "name": "打错码的厂", "community_code": NANKENG, "headcount": 30},
    ], token=token)
    assert report.status_code == 200, report.text
    assert (report.json()["created"], report.json()["rejected"]) == (1, 2)
    assert "check digit" in report.json()["errors"][1]["reason"]
    stats = client.get(f"{V1}/organizations/{BANTIAN}/statistics").json()
    assert (stats["enterprises"], stats["workers"], stats["own_union"]) == (2, 160, 1)
    assert client.get(f"{V1}/enterprises/{ZB_FACTORY}", token=token).status_code == 403


def test_a_street_cannot_place_anything_in_another_street_through_its_own(system):
    client, tokens = system
    token = tokens["bantian"]
    evil = client.post(f"{V1}/organizations", {
        "code": "longgang.longcheng.evil2", "name": "x", "kind": "community_federation",
        "parent_code": BANTIAN, "party_organization": party("community_party_committee", "x")},
        token=token)
    assert evil.status_code == 400, evil.text
    assert "code" in error_fields(evil.json())
    taken_in = client.patch(f"{V1}/enterprises/{NK_FACTORY}", {"union_code": ZHANGBEI},
                            token=token)
    assert taken_in.status_code == 403, taken_in.text
    assert client.get(f"{V1}/enterprises/{NK_FACTORY}",
                      token=tokens["admin"]).json()["union_code"] == NANKENG
    assert client.get(f"{V1}/organizations/longgang.longcheng.evil2").status_code == 404


def test_the_registrys_rejections_reach_the_client_as_4xx_with_details(system):
    client, tokens = system
    token = tokens["admin"]
    too_small = client.post(f"{V1}/enterprises", {
        "credit_code": credit_code(5), "name": "小厂", "community_code": NANKENG,
        "headcount": 10, "union_status": "own"}, token=token)
    assert too_small.status_code == 400
    assert "union_status" in error_fields(too_small.json())
    mistyped = client.post(f"{V1}/enterprises", {
        "credit_code": credit_code(6)[:-1] + "0", "name": "错码厂",
        "community_code": NANKENG, "headcount": 30}, token=token)
    assert mistyped.status_code in (400, 409) and mistyped.json()["code"] != "INTERNAL"
    duplicate = client.post(f"{V1}/organizations", {
        "code": NANKENG, "name": "又一个", "kind": "community_federation",
        "parent_code": BANTIAN,
        "party_organization": party("community_party_committee", "党委")}, token=token)
    assert duplicate.status_code == 409
    into_itself = client.post(f"{V1}/organizations/{BANTIAN}/move",
                              {"parent_code": NANKENG}, token=token)
    assert into_itself.status_code == 400
    assert client.get(f"{V1}/organizations/longgang.nowhere").status_code == 404


def test_anyone_reads_the_public_card_but_not_the_contacts_in_it(system):
    client, tokens = system
    card = client.get(f"{V1}/organizations/{ZHANGBEI}")
    assert card.status_code == 200
    assert card.json()["tier"] == "community" and "contacts" not in card.json()
    assert "嶂背主席" not in card.text
    chain = client.get(f"{V1}/enterprises/{ZB_FACTORY}/chain", token=tokens["zhangbei"])
    assert [link["union"]["code"] for link in chain.json()["chain"]] == [
        ZHANGBEI, LONGCHENG, DISTRICT]
    assert client.post(f"{V1}/enterprises/{ZB_FACTORY}/close", {"reason": "x"},
                       token=tokens["zhangbei"]).status_code == 403  # a viewer
