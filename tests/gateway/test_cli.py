"""``gonghui gateway ...`` (cli.py): users and tokens from the command line."""

import pytest
from click.testing import CliRunner

from services.cli import main
from tests.gateway.conftest import authenticate


def gonghui(env, *args):
    return CliRunner(env=env).invoke(main, ["gateway", *args], catch_exceptions=False)


def test_create_user_prints_a_working_token_alone_on_stdout(env):
    result = gonghui(env, "create-user", "--name", "南坑-staff", "--role", "staff",
                     "--org", "longgang.bantian.nankeng")
    assert result.exit_code == 0, result.output
    token = result.stdout.strip()
    assert token.startswith("ghu_") and "\n" not in token
    assert "not shown again" in result.stderr
    assert authenticate(env, token).organization_code == "longgang.bantian.nankeng"
    listing = gonghui(env, "list-users")
    assert listing.stdout == "南坑-staff\tstaff\tlonggang.bantian.nankeng\tactive\n"
    assert token not in listing.stdout


def test_revoke_by_name_or_by_token(env):
    first = gonghui(env, "create-user", "--name", "a", "--role", "viewer", "--org",
                    "longgang").stdout.strip()
    second = gonghui(env, "issue-token", "--name", "a").stdout.strip()
    assert gonghui(env, "revoke", "--token", first).exit_code == 0
    assert authenticate(env, second).name == "a"
    result = gonghui(env, "revoke", "--name", "a")
    assert result.stdout == "revoked user 'a' and 1 token(s)\n"
    with pytest.raises(Exception, match="invalid or revoked"):
        authenticate(env, second)


def test_rotate_token_prints_a_new_token_and_ends_the_old_ones(env):
    old = gonghui(env, "create-user", "--name", "a", "--role", "viewer", "--org",
                  "longgang").stdout.strip()
    result = gonghui(env, "rotate-token", "--name", "a", "--grace", "0")
    assert result.exit_code == 0, result.output
    new = result.stdout.strip()
    assert new.startswith("ghu_") and "rotated 1 token(s)" in result.stderr
    assert authenticate(env, new).name == "a"
    with pytest.raises(Exception, match="invalid or revoked"):
        authenticate(env, old)
    graced = gonghui(env, "rotate-token", "--name", "a").stdout.strip()  # default grace
    assert authenticate(env, new).name == authenticate(env, graced).name == "a"


def test_the_cli_does_not_revoke_the_last_district_admin(env):
    gonghui(env, "create-user", "--name", "boss", "--role", "admin", "--org", "longgang")
    result = CliRunner(env=env).invoke(main, ["gateway", "revoke", "--name", "boss"])
    assert result.exit_code != 0 and "last active admin" in result.output
    assert gonghui(env, "list-users").stdout.endswith("\tactive\n")


def test_cli_mistakes_fail_cleanly(env):
    gonghui(env, "create-user", "--name", "a", "--role", "viewer", "--org", "longgang")
    again = gonghui(env, "create-user", "--name", "a", "--role", "viewer", "--org", "x")
    assert again.exit_code == 1 and "already exists" in again.stderr
    assert gonghui(env, "create-user", "--name", "b", "--role", "god",
                   "--org", "x").exit_code == 2
    assert gonghui(env, "revoke").exit_code == 2
    missing = gonghui(env, "revoke", "--name", "nobody")
    assert missing.exit_code == 1 and "no active user" in missing.stderr

