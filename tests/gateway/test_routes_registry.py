"""The registry's routes (routes/registry.py): who may read and change what, through the
HTTP API (fake registry behind the gateway)."""

import pytest

from tests.gateway.fakes import (
    BANTIAN,
    DISTRICT,
    NANKENG,
    NK_ENTERPRISE,
    YANGMEI,
    YUANSHAN,
    ZB_ENTERPRISE,
    ZHANGBEI,
)
from tests.shared.problems import error_fields

V1 = "/api/v1"


def new_enterprise(credit_code, community, **extra):
    return {"credit_code": credit_code, "name": "新厂", "community_code": community,
            "headcount": 30, "union_status": "covered", "union_code": community, **extra}


# --- public data ---------------------------------------------------------------------------

def test_anyone_can_read_an_organizations_card_children_and_statistics(client):
    card = client.get(f"{V1}/organizations/{NANKENG}")
    assert card.status_code == 200
    assert card.json()["name"] == "南坑社区工联会"
    assert card.json()["path"] == [DISTRICT, BANTIAN, NANKENG]
    children = client.get(f"{V1}/organizations/{BANTIAN}/children")
    assert [c["code"] for c in children.json()["items"]] == [NANKENG, YANGMEI]
    stats = client.get(f"{V1}/organizations/{BANTIAN}/statistics").json()
    assert stats["enterprises"] == 1 and stats["workers"] == 120


def test_public_cards_leave_out_the_contacts_the_registry_sends_along(client, registry):
    assert registry.get_organization(NANKENG)["contacts"]  # the registry's view has them
    card = client.get(f"{V1}/organizations/{NANKENG}")
    assert "contacts" not in card.json() and "李主席" not in card.text
    children = client.get(f"{V1}/organizations/{BANTIAN}/children")
    assert "李主席" not in children.text


@pytest.mark.parametrize("path", [
    f"{V1}/organizations/{NANKENG}/contacts",
    f"{V1}/organizations/{NANKENG}/chain",
    f"{V1}/organizations/{NANKENG}/enterprises",
    f"{V1}/enterprises/{NK_ENTERPRISE}",
    f"{V1}/enterprises/{NK_ENTERPRISE}/chain",
    f"{V1}/me",
])
def test_personal_data_and_enterprises_need_a_token(client, path):
    response = client.get(path)
    assert response.status_code == 401
    assert response.json()["code"] == "UNAUTHORIZED"




# --- 南坑 against 嶂背 --------------------------------------------------------------------

def test_a_nankeng_staff_member_reads_nankeng_data(client, tokens):
    token = tokens["nankeng_staff"]
    contacts = client.get(f"{V1}/organizations/{NANKENG}/contacts", token=token)
    assert contacts.status_code == 200
    assert contacts.json()["contacts"][0]["name"] == "李主席"
    assert client.get(f"{V1}/enterprises/{NK_ENTERPRISE}", token=token).status_code == 200
    chain = client.get(f"{V1}/enterprises/{NK_ENTERPRISE}/chain", token=token).json()
    assert [link["union"]["code"] for link in chain["chain"]] == [NANKENG, BANTIAN, DISTRICT]
    assert chain["chain"][0]["contacts"][0]["name"] == "李主席"


@pytest.mark.parametrize("path", [
    f"{V1}/organizations/{ZHANGBEI}/contacts",
    f"{V1}/organizations/{ZHANGBEI}/chain",
    f"{V1}/organizations/{ZHANGBEI}/enterprises",
    f"{V1}/organizations/{YUANSHAN}/contacts",
    f"{V1}/enterprises/{ZB_ENTERPRISE}",
    f"{V1}/enterprises/{ZB_ENTERPRISE}/chain",
])
def test_a_nankeng_staff_member_cannot_read_zhangbei_data(client, tokens, path):
    response = client.get(path, token=tokens["nankeng_staff"])
    assert response.status_code == 403
    assert response.json()["code"] == "FORBIDDEN"
    assert "王主席" not in response.text


def test_a_nankeng_staff_member_cannot_change_zhangbei_data(client, tokens, registry):
    token = tokens["nankeng_staff"]
    attempts = [
        ("PATCH", f"{V1}/organizations/{ZHANGBEI}", {"name": "改名"}),
        ("PUT", f"{V1}/organizations/{ZHANGBEI}/contacts", {"contacts": []}),
        ("POST", f"{V1}/organizations/{ZHANGBEI}/move", {"parent_code": BANTIAN}),
        ("POST", f"{V1}/organizations", {"code": "longgang.yuanshan.zhangbei.x",
                                         "name": "新", "kind": "park_federation",
                                         "parent_code": ZHANGBEI}),
        ("PATCH", f"{V1}/enterprises/{ZB_ENTERPRISE}", {"headcount": 1}),
        ("POST", f"{V1}/enterprises/{ZB_ENTERPRISE}/move", {"community_code": NANKENG}),
        ("POST", f"{V1}/enterprises/{ZB_ENTERPRISE}/close", {"reason": "搬迁"}),
        ("POST", f"{V1}/enterprises", new_enterprise("91440300MA5NEW0013", ZHANGBEI)),
        ("POST", f"{V1}/enterprises/{NK_ENTERPRISE}/move", {"community_code": ZHANGBEI}),
        ("POST", f"{V1}/enterprises/import", [new_enterprise("91440300MA5NEW0026", NANKENG),
                                              new_enterprise("91440300MA5NEW0039", ZHANGBEI)]),
    ]
    for method, path, body in attempts:
        response = client.request(method, path, token=token, json=body)
        assert response.status_code == 403, (method, path, response.text)
    assert registry.writes == []
    assert registry.enterprises[ZB_ENTERPRISE]["headcount"] == 120


def test_the_import_names_the_rows_outside_the_callers_subtree(client, tokens, registry):
    rows = [new_enterprise("91440300MA5NEW0026", NANKENG),
            new_enterprise("91440300MA5NEW0039", ZHANGBEI),
            # already registered in 嶂背: the upsert would pull it into 南坑
            {"credit_code": ZB_ENTERPRISE, "community_code": NANKENG},
            # already registered in 嶂背: the upsert would change its headcount
            {"credit_code": ZB_ENTERPRISE, "headcount": 1}]
    response = client.post(f"{V1}/enterprises/import", rows, token=tokens["nankeng_staff"])
    assert response.status_code == 403
    assert sorted(error_fields(response.json())) == ["2", "3", "4"]
    assert registry.writes == []


def test_an_import_of_unknown_communities_is_a_400_naming_the_rows(client, tokens, registry):
    rows = [new_enterprise("91440300MA5NEW0026", NANKENG),
            new_enterprise("91440300MA5NEW0039", "longgang.bantian.nowhere")]
    response = client.post(f"{V1}/enterprises/import", rows, token=tokens["bantian_staff"])
    assert response.status_code == 400
    assert error_fields(response.json()) == ["2"]
    assert registry.writes == []


def test_the_district_admin_imports_anywhere_and_updates_existing_rows(client, tokens,
                                                                       registry):
    rows = [new_enterprise("91440300MA5NEW0039", ZHANGBEI),
            {"credit_code": NK_ENTERPRISE, "headcount": 150}]
    report = client.post(f"{V1}/enterprises/import", rows, token=tokens["district_admin"])
    assert report.status_code == 200, report.text
    assert (report.json()["created"], report.json()["updated"]) == (1, 1)
    assert registry.enterprises[NK_ENTERPRISE]["headcount"] == 150


# --- a street acts within its communities -------------------------------------------------

def test_a_bantian_street_staff_member_acts_within_its_communities(client, tokens, registry):
    token = tokens["bantian_staff"]
    assert client.get(f"{V1}/organizations/{NANKENG}/contacts", token=token).status_code == 200
    assert client.patch(f"{V1}/organizations/{YANGMEI}", {"name": "杨美社区工会联合会"},
                        token=token).status_code == 200
    created = client.post(f"{V1}/enterprises", new_enterprise("91440300MA5YM0001K", YANGMEI),
                          token=token)
    assert created.status_code == 201
    assert created.json()["path"] == [DISTRICT, BANTIAN, YANGMEI]
    moved = client.post(f"{V1}/enterprises/{NK_ENTERPRISE}/move",
                        {"community_code": YANGMEI}, token=token)
    assert moved.status_code == 200 and moved.json()["community_code"] == YANGMEI
    page = client.get(f"{V1}/organizations/{BANTIAN}/enterprises?limit=1", token=token).json()
    assert len(page["items"]) == 1 and page["next_cursor"]
    report = client.post(f"{V1}/enterprises/import",
                         [new_enterprise("91440300MA5YM0002N", NANKENG)], token=token)
    assert report.status_code == 200
    assert report.json()["created"] == 1


def test_a_bantian_street_staff_member_cannot_reach_yuanshan_or_the_district(client, tokens):
    token = tokens["bantian_staff"]
    assert client.get(f"{V1}/enterprises/{ZB_ENTERPRISE}", token=token).status_code == 403
    assert client.get(f"{V1}/organizations/{DISTRICT}/contacts", token=token).status_code == 403
    assert client.post(f"{V1}/enterprises/{NK_ENTERPRISE}/move",
                       {"community_code": ZHANGBEI}, token=token).status_code == 403


def test_the_district_admin_reaches_everything(client, tokens):
    token = tokens["district_admin"]
    assert client.get(f"{V1}/enterprises/{ZB_ENTERPRISE}", token=token).status_code == 200
    moved = client.post(f"{V1}/organizations/{ZHANGBEI}/move", {"parent_code": BANTIAN},
                        token=token)
    assert moved.status_code == 200
    assert moved.json()["path"] == [DISTRICT, BANTIAN, ZHANGBEI]


# --- roles ------------------------------------------------------------------------------

def test_a_viewer_reads_but_cannot_write_in_its_own_community(client, tokens, registry):
    token = tokens["nankeng_viewer"]
    assert client.get(f"{V1}/enterprises/{NK_ENTERPRISE}", token=token).status_code == 200
    response = client.patch(f"{V1}/enterprises/{NK_ENTERPRISE}", {"headcount": 130},
                            token=token)
    assert response.status_code == 403
    assert (response.json()["role"], response.json()["needs"]) == ("viewer", "write")
    assert registry.writes == []
