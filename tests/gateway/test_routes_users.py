"""The gateway's own routes (routes/users.py): who a token belongs to, and user management
by admins within their subtree (fake registry behind the gateway)."""

from datetime import UTC, datetime, timedelta

from services.gateway import accounts
from shared.db import open_database
from tests.conftest import gateway_tokens
from tests.gateway.fakes import DISTRICT, NANKENG, YANGMEI
from tests.shared.problems import problem

V1 = "/api/v1"


def test_an_unknown_or_revoked_token_is_refused(client, tokens):
    assert client.get(f"{V1}/me", token="ghu_" + "x" * 43).status_code == 401
    assert client.get(f"{V1}/me", headers={"Authorization": "Basic abc"}).status_code == 401
    client.delete(f"{V1}/users/nankeng_staff", token=tokens["district_admin"])
    assert client.get(f"{V1}/me", token=tokens["nankeng_staff"]).status_code == 401


def test_a_token_says_who_it_belongs_to(client, tokens):
    me = client.get(f"{V1}/me", token=tokens["nankeng_viewer"]).json()
    expires_at = datetime.fromisoformat(me.pop("token_expires_at"))
    assert me == {"name": "nankeng_viewer", "role": "viewer", "org_code": NANKENG}
    assert timedelta(days=89) < expires_at - datetime.now(UTC) <= timedelta(days=90)


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
                         token=tokens["nankeng_admin"]).status_code == 404
    revoked = client.delete(f"{V1}/users/{new['name']}", token=tokens["district_admin"])
    assert revoked.json() == {"name": new["name"], "revoked_tokens": 1}
    assert client.get(f"{V1}/me", token=token).status_code == 401


def test_a_user_outside_the_subtree_is_answered_as_one_that_does_not_exist(client, tokens):
    admin = tokens["nankeng_admin"]
    outside = client.delete(f"{V1}/users/zhangbei_staff", token=admin)
    missing = client.delete(f"{V1}/users/nobody_at_all", token=admin)
    assert (outside.status_code, missing.status_code) == (404, 404)
    assert problem(outside)["detail"].replace("zhangbei_staff", "N") == \
        problem(missing)["detail"].replace("nobody_at_all", "N")
    assert client.get(f"{V1}/me", token=tokens["zhangbei_staff"]).status_code == 200


def test_the_last_active_district_admin_cannot_be_revoked(client, tokens):
    admin = tokens["district_admin"]
    refused = client.delete(f"{V1}/users/district_admin", token=admin)
    assert refused.status_code == 409, refused.text
    assert "last active admin" in problem(refused)["detail"]
    assert client.get(f"{V1}/me", token=admin).status_code == 200
    # a street's admin is not the district's: revoking the one of 南坑 is fine
    assert client.delete(f"{V1}/users/nankeng_admin", token=admin).status_code == 200
    second = client.post(f"{V1}/users", {"name": "区管理员2", "role": "admin",
                                         "org_code": DISTRICT}, token=admin)
    assert second.status_code == 201
    assert client.delete(f"{V1}/users/district_admin",
                         token=second.json()["token"]).status_code == 200
    again = client.delete(f"{V1}/users/{second.json()['user']['name']}",
                          token=second.json()["token"])
    assert again.status_code == 409


def test_a_token_is_rotated_with_a_grace_or_at_once(client, tokens):
    old = tokens["nankeng_staff"]
    rotated = client.post(f"{V1}/me/token/rotate", {"grace_seconds": 60}, token=old)
    assert rotated.status_code == 201, rotated.text
    body = rotated.json()
    new = body["token"]
    assert client.get(f"{V1}/me", token=old).status_code == 200  # within its grace
    assert timedelta(seconds=50) < (datetime.fromisoformat(body["previous_expires_at"])
                                    - datetime.now(UTC)) <= timedelta(seconds=60)
    assert client.get(f"{V1}/me", token=new).json()["token_expires_at"] == body["expires_at"]
    at_once = client.post(f"{V1}/me/token/rotate", {"grace_seconds": 0}, token=new)
    assert at_once.status_code == 201
    assert client.get(f"{V1}/me", token=new).status_code == 401
    assert client.get(f"{V1}/me", token=at_once.json()["token"]).status_code == 200
    for grace in (-1, 3601, "300"):
        assert client.post(f"{V1}/me/token/rotate", {"grace_seconds": grace},
                           token=at_once.json()["token"]).status_code == 400


def test_an_expired_token_gets_a_401_that_says_so(client, tokens, gateway_config):
    db = open_database(gateway_config["DATABASE_URL"], "gateway", run_migrations=False)
    try:
        with db.unit_of_work() as uow:
            user = accounts.find_user(uow.session, "nankeng_viewer")
            expired = accounts.issue_token(uow.session, user, timedelta(days=90),
                                           datetime.now(UTC) - timedelta(days=91))
    finally:
        db.engine.dispose()
    for path in ("/me", f"/organizations/{NANKENG}/contacts"):
        refused = client.get(f"{V1}{path}", token=expired)
        assert refused.status_code == 401, refused.text
        assert "expired" in problem(refused)["detail"]
    assert client.post(f"{V1}/me/token/rotate", {}, token=expired).status_code == 401


def test_an_admin_lists_changes_and_resets_the_users_of_their_subtree_only(client, tokens):
    admin = tokens["nankeng_admin"]
    listed = client.get(f"{V1}/users", token=admin)
    assert listed.status_code == 200, listed.text
    names = {user["name"] for user in listed.json()["items"]}
    assert names == {"nankeng_staff", "nankeng_viewer", "nankeng_admin"}
    assert client.get(f"{V1}/users", token=tokens["nankeng_staff"]).status_code == 403
    first = client.get(f"{V1}/users?limit=2", token=admin).json()
    rest = client.get(f"{V1}/users?limit=2&cursor={first['next_cursor']}", token=admin).json()
    assert {user["name"] for user in first["items"] + rest["items"]} == names
    changed = client.patch(f"{V1}/users/nankeng_viewer", {"role": "staff"}, token=admin)
    assert changed.json() == {"name": "nankeng_viewer", "role": "staff", "org_code": NANKENG}
    for outside in ("zhangbei_staff", "bantian_staff", "nobody_at_all"):
        assert client.patch(f"{V1}/users/{outside}", {"role": "viewer"},
                            token=admin).status_code == 404
        assert client.post(f"{V1}/users/{outside}/password-link",
                           token=admin).status_code == 404
    assert client.get(f"{V1}/me", token=tokens["zhangbei_staff"]).json()["role"] == "staff"
    link = client.post(f"{V1}/users/nankeng_viewer/password-link", token=admin)
    assert link.status_code == 201, link.text
    assert link.json()["url"].startswith(f"{client.base}/password#")
    officer = client.patch(f"{V1}/users/nankeng_staff", {"role": "officer"}, token=admin)
    assert officer.status_code == 400
    made = client.post(f"{V1}/users", {"name": "信息员", "role": "officer",
                                       "org_code": NANKENG}, token=admin)
    assert made.status_code == 400 and problem(made)["errors"][0]["field"] == "role"


def test_the_last_district_admin_keeps_the_role(client, tokens):
    refused = client.patch(f"{V1}/users/district_admin", {"role": "staff"},
                           token=tokens["district_admin"])
    assert refused.status_code == 409 and "last active admin" in problem(refused)["detail"]
    assert client.get(f"{V1}/me", token=tokens["district_admin"]).json()["role"] == "admin"


def test_a_social_organizations_account_is_placed_by_incubation_or_the_list_says_503(
        client, tokens, gateway_config):
    """A social organization's own account (``so:17``) sits where incubation says its home
    is: with incubation not answering, the list is a 503 naming it (the registry calls
    placing the others run at once beside it), never a list that silently leaves it out."""
    gateway_tokens(gateway_config["DATABASE_URL"], {"hub_account": ("staff", "so:17")})
    listed = client.get(f"{V1}/users", token=tokens["district_admin"])
    assert listed.status_code == 503, listed.text
    assert "incubation" in problem(listed)["detail"]
    # a user of a registry organization is still managed meanwhile
    changed = client.patch(f"{V1}/users/nankeng_viewer", {"role": "staff"},
                           token=tokens["district_admin"])
    assert changed.status_code == 200, changed.text
