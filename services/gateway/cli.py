"""``gonghui gateway ...``: the gateway's users and tokens, from the command line.

    gonghui gateway create-user --name 南坑-staff --role staff --org longgang.bantian.nankeng
    gonghui gateway issue-token --name 南坑-staff
    gonghui gateway revoke --name 南坑-staff        (the user and all their tokens)
    gonghui gateway revoke --token ghu_...         (one token)
    gonghui gateway rotate-token --name 南坑-staff [--grace 300]   (a new token; the
                                   user's old ones work GRACE seconds more, 0: none)
    gonghui gateway list-users
    gonghui gateway password-link 南坑-staff [--base-url https://gonghui.example]
                                   (a one-time link setting their password, 72 hours)

A token (or a password link) is printed once, on stdout alone (so ``$(gonghui gateway
create-user ...)`` captures it), or with ``--json`` in an object with what was done; the
database keeps only its hash. ``create-user`` asks the registry (the
incubation service for an organization's own account) where the organization sits, as the
API does: an unknown code is refused, and the services must be running. Tokens expire
``GATEWAY_TOKEN_DAYS`` after they are issued (the expiry is printed on stderr).
"""

import os
from datetime import timedelta

import click

from services.gateway import accounts
from services.gateway.auth import ROLES, organization_account
from shared.cli import command_database, group, json_option, show
from shared.config import service_config
from shared.errors import Unavailable

RPC_TIMEOUT = 10  # seconds to wait for the registry's answer


def _run(action):
    """Run ``action(session)`` in one transaction; errors become a clean CLI failure."""
    with command_database("gateway") as db, db.unit_of_work() as uow:
        return action(uow.session)


def require_registered(org_code: str) -> None:
    """Refuse ``org_code`` unless the service owning it knows it (NotFound, as the API
    answers 404), asked over RPC as the gateway asks it."""
    from nameko.exceptions import RpcTimeout
    from nameko.standalone.rpc import ClusterRpcProxy

    import shared.web  # noqa: F401 - registers the kit's errors: NotFound arrives as such

    district = os.environ.get("GATEWAY_DISTRICT_CODE") or accounts.DEFAULT_DISTRICT_CODE
    config = {"AMQP_URI": service_config("gateway")["AMQP_URI"]}
    organization_id = organization_account(org_code)
    try:
        with ClusterRpcProxy(config, timeout=RPC_TIMEOUT) as rpc:
            if organization_id is None:
                rpc.registry.get_organization(org_code)
            else:
                rpc.incubation.get_organization(organization_id, {
                    "name": "gonghui gateway", "role": "admin",
                    "organization_code": district})
    except RpcTimeout:
        raise Unavailable(f"no answer in {RPC_TIMEOUT} s from the service that knows "
                          f"{org_code}: start the services (gonghui up) first") from None


@group()
def cli():
    """Users and bearer tokens of the HTTP gateway."""


@cli.command("create-user")
@click.option("--name", required=True, help="unique user name")
@click.option("--role", required=True, type=click.Choice(ROLES),
              help="viewer reads, staff also writes, admin also manages users")
@click.option("--org", "org_code", required=True,
              help="organization code: the user acts within its subtree")
@json_option
def create_user(name, role, org_code, as_json):
    """Create a user and print their first token (shown only this once)."""
    accounts.check_new_user(role, org_code)
    require_registered(org_code)
    lifetime = accounts.token_lifetime(os.environ)
    user, token = _run(lambda session: accounts.create_user(session, name, role, org_code,
                                                            lifetime))
    if as_json:
        show({"name": user.name, "role": user.role, "org_code": user.organization_code,
              "token": token, "expires_in_days": lifetime.days}, as_json)
        return
    click.echo(f"created {user.role} {user.name!r} for {user.organization_code}; token follows "
               f"(store it now, it is not shown again; it expires in {lifetime.days} days)",
               err=True)
    click.echo(token)


@cli.command("set-password")
@click.argument("name")
@click.password_option(help="at least 10 characters (asked twice when not given)")
@json_option
def set_password(name, password, as_json):
    """Give a user a password for the sign-in page (/signin): judges, the staff console."""
    from services.gateway import sessions
    from shared.timeutil import now_utc

    user = _run(lambda session: sessions.set_password(session, name, password, now_utc()))
    show({"name": user.name, "signs_in_at": "/signin"}, as_json)


@cli.command("password-link")
@click.argument("name")
@click.option("--base-url", default="http://127.0.0.1:8000", show_default=True,
              help="the gateway's address as the user reaches it")
@json_option
def password_link(name, base_url, as_json):
    """Print a one-time link for a user to set their password (single use, 72 hours;
    it ends any earlier link of theirs)."""
    from services.gateway import sessions
    from shared.timeutil import now_utc

    secret, expires_at = _run(lambda session: sessions.issue_password_link(
        session, accounts.find_user(session, name), "cli", now_utc()))
    link = sessions.link_url(base_url, secret)
    if as_json:
        show({"name": name, "link": link, "expires_at": expires_at}, as_json)
        return
    click.echo(f"valid once, until {expires_at.isoformat()}", err=True)
    click.echo(link)


@cli.command("issue-token")
@click.option("--name", required=True)
@json_option
def issue_token(name, as_json):
    """Print a new token for an existing user (their other tokens stay valid)."""
    lifetime = accounts.token_lifetime(os.environ)
    token = _run(lambda session: accounts.issue_token(session, accounts.find_user(session, name),
                                                      lifetime))
    if as_json:
        show({"name": name, "token": token, "expires_in_days": lifetime.days}, as_json)
        return
    click.echo(f"expires in {lifetime.days} days", err=True)
    click.echo(token)


@cli.command("rotate-token")
@click.option("--name", required=True, help="the user whose tokens are rotated")
@click.option("--grace", type=click.IntRange(0, accounts.MAX_ROTATION_GRACE_SECONDS),
              default=None, help="seconds the old tokens keep working (0: revoked at once; "
                                 "default GATEWAY_TOKEN_ROTATION_GRACE, 300)")
@json_option
def rotate_token(name, grace, as_json):
    """Print a new token for a user; their old tokens end after the grace."""
    grace = (accounts.rotation_grace(os.environ) if grace is None
             else timedelta(seconds=grace))
    rotated = _run(lambda session: accounts.rotate_user_tokens(
        session, name, grace, accounts.token_lifetime(os.environ)))
    if as_json:
        show({"name": name, "rotated": rotated["rotated"],
              "grace_seconds": int(grace.total_seconds()), "token": rotated["token"],
              "expires_at": rotated["expires_at"]}, as_json)
        return
    click.echo(f"rotated {rotated['rotated']} token(s) of {name!r}: they end within "
               f"{int(grace.total_seconds())} s; the new one expires "
               f"{rotated['expires_at'].isoformat()}", err=True)
    click.echo(rotated["token"])


@cli.command()
@click.option("--name", help="revoke this user and every token they hold")
@click.option("--token", help="revoke this one token")
@json_option
def revoke(name, token, as_json):
    """Revoke a user (with all their tokens) or a single token."""
    if bool(name) == bool(token):
        raise click.UsageError("give exactly one of --name or --token")
    if name:
        district = os.environ.get("GATEWAY_DISTRICT_CODE") or accounts.DEFAULT_DISTRICT_CODE
        count = _run(lambda session: accounts.revoke_user(session, name, district))
        show({"revoked_user": name, "tokens_revoked": count}, as_json)
    else:
        user = _run(lambda session: accounts.revoke_token(session, token))
        show({"user": user.name, "tokens_revoked": 1}, as_json)


@cli.command("list-users")
@json_option
def list_users(as_json):
    """Users with role, organization and whether they are revoked (never tokens)."""
    show(_run(accounts.list_users), as_json, empty="no users")
