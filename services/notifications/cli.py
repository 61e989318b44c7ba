"""``gonghui notifications ...``: a case's audit, an inbox, the deadline queue, the policy.

Timestamps print as RFC 3339 with an offset, as the API answers them.
"""

import click

from shared.cli import command_database, group, json_option, refusal, show


@group()
def cli():
    """Who was told of a case, escalation deadlines, inboxes."""


@cli.command()
@click.argument("case_id")
@json_option
def audit(case_id, as_json):
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
        show({"case": case,
              "notifications": CaseNotificationSchema(many=True).dump(told),
              "audit": AuditEntrySchema(many=True).dump(entries)}, as_json)


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
@json_option
def inbox(organization_code, recipient_kind, unacknowledged, limit, cursor, as_json):
    """An organization's inbox, oldest first, a page at a time."""
    from services.notifications import views
    from shared.api.notifications import InboxMessagePageSchema

    with command_database("notifications") as database:
        with database.session() as session:
            page = views.inbox(session, organization_code, recipient_kind=recipient_kind,
                               unacknowledged=unacknowledged, cursor=cursor, limit=limit)
    if as_json:
        show(InboxMessagePageSchema().dump(page), as_json)
        return
    show([{"received_at": message["received_at"], "case_id": message["case_id"],
           "title": message["title"],
           "state": "已签收" if message["acknowledged_at"] else "未签收"}
          for message in page["items"]], as_json, empty="no messages")
    if page["next_cursor"]:
        click.echo(f"more: --cursor {page['next_cursor']}")


@cli.command()
@json_option
def deadlines(as_json):
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
        show({"open": count, "overdue": overdue, "next_due_at": rfc3339(upcoming)}, as_json)


@cli.command()
@click.argument("path", required=False, type=click.Path(exists=True, dir_okay=False))
@json_option
def policy(path, as_json):
    """Check a notification policy file (default: the one shipped) and print it."""
    from dataclasses import asdict

    from services.notifications.policy import Policy
    from shared.errors import ServiceError

    try:
        loaded = Policy.load(path, known_channels=("inbox", "webhook"))
    except ServiceError as exc:
        raise click.ClickException(refusal(exc)) from None
    show(asdict(loaded), as_json)
