"""``gonghui gateway ...`` (cli.py): users and tokens from the command line, against a
running registry (create-user asks it where the organization sits, as the API does)."""

import json

import pytest
from click.testing import CliRunner

from services.cli import main
from services.registry.sample import district_organizations
from services.registry.service import RegistryService
from shared.testing import call
from tests.gateway.conftest import authenticate

ADMIN = {"name": "区总工会管理员", "role": "admin", "organization_code": "longgang"}


@pytest.fixture
def env(env, container_factory, make_service_config, sqlite_url):
    """The command's environment, on the test's vhost with the sample district's tree in
    a running registry."""
    config = make_service_config(sqlite_url)
    registry = container_factory(RegistryService, config)
    registry.start()
    for organization in district_organizations():
        if organization["code"] in ("longgang", "longgang.bantian",
                                    "longgang.bantian.nankeng"):
            call(registry, "register_organization", organization, ADMIN)
    return dict(env, AMQP_URI=config["AMQP_URI"])


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
    header, rule, row = listing.stdout.splitlines()
    assert header.split()[:3] == ["name", "role", "org_code"] and set(rule) <= {"-", " "}
    assert row.split()[:3] == ["南坑-staff", "staff", "longgang.bantian.nankeng"]
    assert token not in listing.stdout
    [user] = json.loads(gonghui(env, "list-users", "--json").stdout)
    assert (user["name"], user["revoked"]) == ("南坑-staff", False)


def test_a_user_of_an_organization_the_registry_does_not_know_is_refused(env):
    result = gonghui(env, "create-user", "--name", "x", "--role", "staff",
                     "--org", "longgang.nope")
    assert result.exit_code == 1
    assert result.stderr.count("\n") == 1 and "longgang.nope" in result.stderr
    assert json.loads(gonghui(env, "list-users", "--json").stdout) == []
    officer = gonghui(env, "create-user", "--name", "y", "--role", "officer",
                      "--org", "longgang")
    assert officer.exit_code == 1 and "registering the officer" in officer.stderr


def test_revoke_by_name_or_by_token(env):
    first = gonghui(env, "create-user", "--name", "a", "--role", "viewer", "--org",
                    "longgang").stdout.strip()
    second = gonghui(env, "issue-token", "--name", "a").stdout.strip()
    assert gonghui(env, "revoke", "--token", first).exit_code == 0
    assert authenticate(env, second).name == "a"
    result = gonghui(env, "revoke", "--name", "a", "--json")
    assert json.loads(result.stdout) == {"revoked_user": "a", "tokens_revoked": 1}
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
    [boss] = json.loads(gonghui(env, "list-users", "--json").stdout)
    assert boss["revoked"] is False


def test_cli_mistakes_fail_cleanly(env):
    gonghui(env, "create-user", "--name", "a", "--role", "viewer", "--org", "longgang")
    again = gonghui(env, "create-user", "--name", "a", "--role", "viewer", "--org",
                    "longgang")
    assert again.exit_code == 1 and "already exists" in again.stderr
    assert gonghui(env, "create-user", "--name", "b", "--role", "god",
                   "--org", "x").exit_code == 2
    assert gonghui(env, "revoke").exit_code == 2
    missing = gonghui(env, "revoke", "--name", "nobody")
    assert missing.exit_code == 1 and "no active user" in missing.stderr



def test_every_user_and_token_command_answers_json_with_what_it_did(env):
    created = json.loads(gonghui(env, "create-user", "--name", "a", "--role", "viewer",
                                 "--org", "longgang", "--json").stdout)
    assert (created["name"], created["role"], created["org_code"]) == ("a", "viewer",
                                                                       "longgang")
    assert authenticate(env, created["token"]).name == "a" and created["expires_in_days"] > 0
    issued = json.loads(gonghui(env, "issue-token", "--name", "a", "--json").stdout)
    assert authenticate(env, issued["token"]).name == issued["name"] == "a"
    rotated = json.loads(gonghui(env, "rotate-token", "--name", "a", "--grace", "0",
                                 "--json").stdout)
    assert (rotated["rotated"], rotated["grace_seconds"]) == (2, 0)
    assert authenticate(env, rotated["token"]).name == "a" and rotated["expires_at"]
    password = gonghui(env, "set-password", "a", "--password", "correct horse 1", "--json")
    assert json.loads(password.stdout) == {"name": "a", "signs_in_at": "/signin"}
    assert gonghui(env, "set-password", "a", "--password", "correct horse 2").stdout \
        .splitlines()[2].split() == ["name", "a"]
    link = json.loads(gonghui(env, "password-link", "a", "--base-url", "https://g.example",
                              "--json").stdout)
    assert link["link"].startswith("https://g.example/password#") and link["expires_at"]
    revoked = gonghui(env, "revoke", "--token", rotated["token"])
    assert revoked.stdout.splitlines()[2:] == ["user            a",
                                               "tokens_revoked  1"]
