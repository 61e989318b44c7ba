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
from shared.cli import service_database
from shared.timeutil import now_utc, rfc3339

DISTRICT_ADMIN = Caller("gonghui-cli", "admin", "longgang")


def _print(value):
    click.echo(json.dumps(value, ensure_ascii=False, default=_default))


def _default(value):
    return rfc3339(value) if hasattr(value, "isoformat") else str(value)


@click.group()
def cli():
    """Worker-star competitions (职工之星): rules, statistics, rankings."""


@cli.command("rules")
def list_rules():
    """Every version of the rules document, one JSON line each."""
    db = service_database("competitions")
    with db.session() as session:
        for version in views.rules_versions(session):
            _print(version)


@cli.command("publish-rules")
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
@click.option("--note", default=None, help="what changed")
def publish_rules(path, note):
    """Publish the rules in PATH (JSON) as a new version (checked first)."""
    try:
        with open(path, encoding="utf-8") as handle:
            body = policy.load_rules(json.load(handle))
    except (ValueError, ValidationError) as exc:
        raise click.ClickException(f"{path}: {getattr(exc, 'messages', exc)}") from None
    db = service_database("competitions")
    with db.unit_of_work() as uow:
        published = operations.add_rules_version(uow, body, note, "gonghui-cli", now_utc())
    click.echo(f"published rules version {published['version']}")


@cli.command("stats")
@click.argument("edition_id")
@click.option("--code", default=None, help="an organization (default: the district)")
def stats(edition_id, code):
    """Nominations, finalists and winners by group, street and enterprise."""
    db = service_database("competitions")
    with db.session() as session:
        _print(views.statistics(session, edition_id, DISTRICT_ADMIN, code))


@cli.command("ranking")
@click.argument("round_id", type=int)
def ranking(round_id):
    """A closed final's ranking with how each total was computed."""
    db = service_database("competitions")
    with db.session() as session:
        for group in views.ranking_view(session, round_id, DISTRICT_ADMIN)["groups"]:
            for entry in group["entries"]:
                click.echo(f"{group['group']}\t{entry['rank']}\t{entry['name']}\t"
                           f"{entry['total']}\t{entry['computation']}")
