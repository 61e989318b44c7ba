"""The gateway's own routes (routes/users.py): who a token belongs to, and user management
by admins within their subtree (fake registry behind the gateway)."""

from tests.gateway.fakes import NANKENG, YANGMEI

V1 = "/api/v1"


def test_an_unknown_or_revoked_token_is_refused(client, tokens):
    assert client.get(f"{V1}/me", token="ghu_" + "x" * 43).status_code == 401
    assert client.get(f"{V1}/me", headers={"Authorization": "Basic abc"}).status_code == 401
    client.delete(f"{V1}/users/nankeng_staff", token=tokens["district_admin"])
    assert client.get(f"{V1}/me", token=tokens["nankeng_staff"]).status_code == 401


def test_a_token_says_who_it_belongs_to(client, tokens):
    me = client.get(f"{V1}/me", token=tokens["nankeng_viewer"])
    assert me.json() == {"name": "nankeng_viewer", "role": "viewer", "org_code": NANKENG}


def test_only_admins_manage_users_and_only_within_their_subtree(client, tokens):
    new = {"name": "杨美-viewer", "role": "viewer", "org_code": YANGMEI}
    staff = client.post(f"{V1}/users", new, token=tokens["bantian_staff"])
    assert staff.status_code == 403
    outside = client.post(f"{V1}/users", new, token=tokens["nankeng_admin"])
    assert outside.status_code == 403
    created = client.post(f"{V1}/users", new, token=tokens["district_admin"])
    assert created.status_code == 201
    token = created.json()["token"]
    assert client.get(f"{V1}/me", token=token).json()["org_code"] == YANGMEI
    again = client.post(f"{V1}/users", new, token=tokens["district_admin"])
    assert again.status_code == 409
    assert client.delete(f"{V1}/users/zhangbei_staff",
                         token=tokens["nankeng_admin"]).status_code == 403
    revoked = client.delete(f"{V1}/users/{new['name']}", token=tokens["district_admin"])
    assert revoked.json() == {"name": new["name"], "revoked_tokens": 1}
    assert client.get(f"{V1}/me", token=token).status_code == 401
