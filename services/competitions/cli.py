"""``gonghui competitions ...``: the rules, an edition's statistics, a round's ranking.

    gonghui competitions rules                 every version of the rules (JSON lines)
    gonghui competitions publish-rules r.json  a new version from a file (checked first)
    gonghui competitions stats 2016            nominations, finalists, winners, honours
    gonghui competitions ranking 14            a closed final's ranking, group by group

They work on the competitions database directly (COMPETITIONS_DATABASE_URL); events they
cause wait in its outbox until the service runs.
"""

import json

import click
from marshmallow import ValidationError

from services.competitions import operations, policy, views
from shared.caller import Caller
from shared.cli import group, json_option, service_database, show
from shared.timeutil import now_utc

DISTRICT_ADMIN = Caller("gonghui-cli", "admin", "longgang")


@group()
def cli():
    """Worker-star competitions (职工之星): rules, statistics, rankings."""


@cli.command("rules")
@json_option
def list_rules(as_json):
    """Every version of the rules document."""
    db = service_database("competitions")
    with db.session() as session:
        versions = views.rules_versions(session)
    show(versions, as_json, empty="no rules published")


@cli.command("publish-rules")
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
@click.option("--note", default=None, help="what changed")
@json_option
def publish_rules(path, note, as_json):
    """Publish the rules in PATH (JSON) as a new version (checked first)."""
    try:
        with open(path, encoding="utf-8") as handle:
            body = policy.load_rules(json.load(handle))
    except (ValueError, ValidationError) as exc:
        raise click.ClickException(f"{path}: {getattr(exc, 'messages', exc)}") from None
    db = service_database("competitions")
    with db.unit_of_work() as uow:
        published = operations.add_rules_version(uow, body, note, "gonghui-cli", now_utc())
    if as_json:
        show({"version": published["version"]}, as_json)
    else:
        click.echo(f"published rules version {published['version']}")


@cli.command("stats")
@click.argument("edition_id")
@click.option("--code", default=None, help="an organization (default: the district)")
@json_option
def stats(edition_id, code, as_json):
    """Nominations, finalists and winners by group, street and enterprise."""
    db = service_database("competitions")
    with db.session() as session:
        show(views.statistics(session, edition_id, DISTRICT_ADMIN, code), as_json)


@cli.command("ranking")
@click.argument("round_id", type=int)
@json_option
def ranking(round_id, as_json):
    """A closed final's ranking with how each total was computed."""
    db = service_database("competitions")
    with db.session() as session:
        view = views.ranking_view(session, round_id, DISTRICT_ADMIN)
    if as_json:
        show(view, as_json)
        return
    show([{"group": group["group"], "rank": entry["rank"], "name": entry["name"],
           "total": entry["total"], "computation": entry["computation"]}
          for group in view["groups"] for entry in group["entries"]], as_json,
         empty="nobody ranked")
