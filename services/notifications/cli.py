"""``gonghui notifications ...``: a case's audit, an inbox, the deadline queue, the policy.

Timestamps print as RFC 3339 with an offset, as the API answers them.
"""

import json

import click

from shared.cli import command_database


def _plain(value):
    return sorted(value) if isinstance(value, set | frozenset) else str(value)


def _echo_json(value):
    click.echo(json.dumps(value, ensure_ascii=False, indent=2, default=_plain))


@click.group()
def cli():
    """Who was told of a case, escalation deadlines, inboxes."""


@cli.command()
@click.argument("case_id")
def audit(case_id):
    """Every step for one case: who was told, when, how, what escalated and why."""
    from services.notifications import views
    from shared.api.notifications import (
        AuditEntrySchema,
        CaseEscalationSchema,
        CaseNotificationSchema,
    )

    with command_database("notifications") as database:
        with database.session() as session:
            case = CaseEscalationSchema().dump(views.case_escalation(session, case_id))
            told = _every(lambda cursor: views.case_notifications(
                session, case_id, cursor=cursor, limit=500))
            entries = _every(lambda cursor: views.case_audit(
                session, case_id, cursor=cursor, limit=500))
        _echo_json({"case": case,
                    "notifications": CaseNotificationSchema(many=True).dump(told),
                    "audit": AuditEntrySchema(many=True).dump(entries)})


def _every(read_page) -> list:
    """The items of every page of a list, walked by cursor."""
    items, cursor = [], None
    while True:
        page = read_page(cursor)
        items += page["items"]
        cursor = page["next_cursor"]
        if cursor is None:
            return items


@cli.command()
@click.argument("organization_code")
@click.option("--kind", "recipient_kind", default="union", show_default=True,
              type=click.Choice(["union", "party", "leader"]))
@click.option("--open", "unacknowledged", is_flag=True, help="only cases not acknowledged")
@click.option("--limit", default=100, show_default=True, type=click.IntRange(1, 500))
@click.option("--cursor", default=None, help="next_cursor printed by the previous page")
def inbox(organization_code, recipient_kind, unacknowledged, limit, cursor):
    """An organization's inbox, oldest first, a page at a time."""
    from services.notifications import views
    from shared.timeutil import rfc3339

    with command_database("notifications") as database:
        with database.session() as session:
            page = views.inbox(session, organization_code, recipient_kind=recipient_kind,
                               unacknowledged=unacknowledged, cursor=cursor, limit=limit)
    for message in page["items"]:
        click.echo(f"{rfc3339(message['received_at'])}  {message['case_id']}  "
                   f"{message['title']}  "
                   f"{'已签收' if message['acknowledged_at'] else '未签收'}")
    if page["next_cursor"]:
        click.echo(f"more: --cursor {page['next_cursor']}")


@cli.command()
def deadlines():
    """Open deadlines: how many, how many overdue, the next one due."""
    from sqlalchemy import func, select

    from services.notifications.models import deadlines as table
    from shared.timeutil import now_utc, rfc3339

    with command_database("notifications") as database:
        now = now_utc()
        with database.session() as session:
            open_ = table.c.state == "open"
            count = session.execute(select(func.count()).where(open_)).scalar()
            overdue = session.execute(select(func.count()).where(
                open_, table.c.due_at <= now)).scalar()
            upcoming = session.execute(select(func.min(table.c.due_at)).where(open_)).scalar()
        _echo_json({"open": count, "overdue": overdue, "next_due_at": rfc3339(upcoming)})


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
