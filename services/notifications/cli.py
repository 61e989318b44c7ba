"""``gonghui notifications ...``: a case's audit, an inbox, the deadline queue, the policy."""

import json
from datetime import UTC, datetime
from pathlib import Path

import click

from shared.cli import json_default

MIGRATIONS = Path(__file__).parent / "migrations"


def _database():
    from shared.config import database_url
    from shared.db import open_database

    return open_database(database_url("notifications"), "notifications", MIGRATIONS)


def _echo_json(value):
    click.echo(json.dumps(value, ensure_ascii=False, indent=2, default=json_default))


@click.group()
def cli():
    """Who was told of a case, escalation deadlines, inboxes."""


@cli.command()
@click.argument("case_id")
def audit(case_id):
    """Every step for one case: who was told, when, how, what escalated and why."""
    from services.notifications import views
    from shared.errors import ServiceError

    database = _database()
    try:
        with database.session() as session:
            _echo_json({"case": views.case_view(session, case_id),
                        "audit": views.case_audit(session, case_id)})
    except ServiceError as exc:
        raise click.ClickException(str(exc)) from None
    finally:
        database.engine.dispose()


@cli.command()
@click.argument("organization_code")
@click.option("--kind", "recipient_kind", default="union", show_default=True,
              type=click.Choice(["union", "party", "leader"]))
@click.option("--open", "unacknowledged", is_flag=True, help="only cases not acknowledged")
def inbox(organization_code, recipient_kind, unacknowledged):
    """An organization's inbox, oldest first."""
    from services.notifications import views

    database = _database()
    try:
        with database.session() as session:
            for message in views.inbox(session, organization_code, recipient_kind,
                                       unacknowledged, limit=200):
                click.echo(f"{message['received_at']}  {message['case_id']}  "
                           f"{message['title']}  "
                           f"{'已签收' if message['acknowledged_at'] else '未签收'}")
    finally:
        database.engine.dispose()


@cli.command()
def deadlines():
    """Open deadlines: how many, how many overdue, the next one due."""
    from sqlalchemy import func, select

    from services.notifications.models import deadlines as table

    database = _database()
    try:
        now = datetime.now(UTC)
        with database.session() as session:
            open_ = table.c.state == "open"
            count = session.execute(select(func.count()).where(open_)).scalar()
            overdue = session.execute(select(func.count()).where(
                open_, table.c.due_at <= now)).scalar()
            upcoming = session.execute(select(func.min(table.c.due_at)).where(open_)).scalar()
        _echo_json({"open": count, "overdue": overdue, "next_due_at": upcoming})
    finally:
        database.engine.dispose()


@cli.command()
@click.argument("path", required=False, type=click.Path(exists=True, dir_okay=False))
def policy(path):
    """Check a notification policy file (default: the one shipped) and print it."""
    from dataclasses import asdict

    from services.notifications.policy import Policy
    from shared.errors import ServiceError

    try:
        loaded = Policy.load(path, known_channels=("inbox", "webhook"))
    except ServiceError as exc:
        raise click.ClickException(f"{exc}: {json.dumps(exc.details, ensure_ascii=False)}"
                                   ) from None
    _echo_json(asdict(loaded))
