"""The auth rules as plain functions: roles, scope along the organization path, tokens."""

import pytest

from services.gateway.auth import (
    MANAGE_USERS,
    READ,
    WRITE,
    User,
    bearer_token,
    hash_token,
    new_token,
    require,
    require_scope,
)
from shared.errors import Forbidden, Unauthorized

NANKENG_PATH = ["longgang", "longgang.bantian", "longgang.bantian.nankeng"]
ZHANGBEI_PATH = ["longgang", "longgang.yuanshan", "longgang.yuanshan.zhangbei"]


def user(role, org):
    return User(id=1, name="someone", role=role, organization_code=org)


@pytest.mark.parametrize("role, allowed", [
    ("viewer", {READ}),
    ("staff", {READ, WRITE}),
    ("admin", {READ, WRITE, MANAGE_USERS}),
    ("retired", set()),
])
def test_each_role_has_exactly_its_permissions(role, allowed):
    for action in (READ, WRITE, MANAGE_USERS):
        assert user(role, "longgang").can(action) == (action in allowed)


def test_a_community_user_is_in_scope_for_its_community_only():
    nankeng = user("staff", "longgang.bantian.nankeng")
    require_scope(nankeng, NANKENG_PATH)
    with pytest.raises(Forbidden):
        require_scope(nankeng, ZHANGBEI_PATH)
    with pytest.raises(Forbidden):  # its street is above it, not inside
        require_scope(nankeng, NANKENG_PATH[:2])


def test_a_street_user_is_in_scope_for_every_community_of_its_street():
    bantian = user("staff", "longgang.bantian")
    require_scope(bantian, NANKENG_PATH)
    require_scope(bantian, ["longgang", "longgang.bantian", "longgang.bantian.yangmei"])
    with pytest.raises(Forbidden):
        require_scope(bantian, ZHANGBEI_PATH)


def test_a_code_that_merely_starts_like_the_users_is_not_in_scope():
    # "longgang.bantian" must not reach "longgang.bantian2" by string prefix.
    with pytest.raises(Forbidden):
        require_scope(user("staff", "longgang.bantian"), ["longgang", "longgang.bantian2"])


def test_a_missing_path_is_never_in_scope():
    with pytest.raises(Forbidden):
        require_scope(user("admin", "longgang"), None)


def test_require_checks_the_role_before_every_path():
    with pytest.raises(Forbidden) as refused:
        require(user("viewer", "longgang"), WRITE, NANKENG_PATH)
    assert refused.value.details == {"role": "viewer", "needs": "write"}
    with pytest.raises(Forbidden):  # a move: source inside, destination outside
        require(user("staff", "longgang.bantian"), WRITE, NANKENG_PATH, ZHANGBEI_PATH)


def test_tokens_are_long_random_and_stored_only_as_their_sha256():
    first, second = new_token(), new_token()
    assert first != second
    assert first.startswith("ghu_") and len(first) >= 4 + 43  # 32 bytes, base64url
    assert len(hash_token(first)) == 64 and first not in hash_token(first)
    assert hash_token(first) == hash_token(first) != hash_token(second)


@pytest.mark.parametrize("header", [None, "", "Bearer", "Bearer   ", "Basic dXNlcjpwdw==",
                                    "Token abc", "Bearer " + "x" * 500, "Bearer 南坑"])
def test_a_missing_or_malformed_authorization_header_is_a_401(header):
    with pytest.raises(Unauthorized):
        bearer_token(header)


def test_the_bearer_scheme_is_case_insensitive():
    assert bearer_token("bearer ghu_abc") == "ghu_abc"
