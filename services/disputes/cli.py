"""``gonghui disputes ...``: the sample statistics and the policies.

    gonghui disputes load-sample        the articles' figures (嶂背, district 2014-2015)
    gonghui disputes stats longgang.longcheng.zhangbei --year 2015
    gonghui disputes policies rewards   every version of the reward rules (奖励办法)
    gonghui disputes identity-keys      a new key pair sealing informants' identities

They work on the disputes database directly (DISPUTES_DATABASE_URL).
"""

import click

from services.disputes import sample, views
from shared import sealing
from shared.cli import command_database, group, json_option, show
from shared.paging import MAX_LIMIT


@group()
def cli():
    """Dispute early warning: sample statistics, figures, policies."""


@cli.command("load-sample")
@json_option
def load_sample(as_json):
    """Load the sample of handled disputes and visits (once), through the operations:
    now if the registry's district is in this database, else when the service runs."""
    with command_database("disputes") as db:
        with db.session() as session:
            if views.statistics(session)["disputes"]:
                raise click.ClickException("the disputes database already holds cases; "
                                           "the sample goes into an empty one only")
            ready = sample.ready(session)
        if not ready:
            show({"loaded": False, "sample": sample.request(db)}, as_json)
            return
        loaded = sample.load_sample(db)
    show({"loaded": True, **loaded}, as_json)


@cli.command("stats")
@click.argument("code", required=False)
@click.option("--year", type=int, help="one calendar year (China time)")
@json_option
def stats(code, year, as_json):
    """Statistics of a district, street or community subtree (all when no code)."""
    with command_database("disputes") as db, db.session() as session:
        show(views.statistics(session, code, year), as_json)


@cli.command("policies")
@click.argument("kind", type=click.Choice(["grading", "rewards"]))
@json_option
def policies(kind, as_json):
    """Every version of a policy, with the date it came into force."""
    versions, cursor = [], None
    with command_database("disputes") as db, db.session() as session:
        while True:
            page = views.list_policies(session, kind, cursor, MAX_LIMIT)
            versions += page["items"]
            if (cursor := page["next_cursor"]) is None:
                break
    show(versions, as_json)


@cli.command("identity-keys")
def identity_keys():
    """A new key pair sealing informants' identities (shared.sealing): the public key for
    the gateway, the private one for disputes alone (add it to the keys kept)."""
    private, public = sealing.new_pair()
    click.echo(f"# key id {sealing.Sealer(public).key_id}")
    click.echo(f"{sealing.PUBLIC_SETTING}={public}")
    click.echo(f"{sealing.PRIVATE_SETTING}={private}")
