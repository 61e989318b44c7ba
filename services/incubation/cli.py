"""``gonghui incubation ...``: statistics, the policies in force, reminders, the sample.

    gonghui incubation stats longgang --period 2015
    gonghui incubation stats longgang --from 2015-03-01 --to 2015-06-30
    gonghui incubation policies
    gonghui incubation remind             # raise due reminders and lapse grades now
    gonghui incubation load-sample        # once the registry's places are in

They work on the incubation database directly (INCUBATION_DATABASE_URL); events they
cause wait in the outbox until the service runs and publishes them.
"""

import click

from services.incubation import operations, policy, sample, views
from services.incubation.domain import today_in
from shared.api.incubation import PolicyOut, StatisticsOut, StatisticsQuery
from shared.caller import Caller
from shared.cli import command_database, group, json_option, show
from shared.schemas import load
from shared.timeutil import now_utc


@group()
def cli():
    """Social-organization incubation: statistics, policies, reminders, the sample."""


@cli.command("stats")
@click.argument("code")
@click.option("--period", default=None,
              help="all (the default), a year (2015), a quarter (2015-Q3) or a month (2015-07)")
@click.option("--from", "first", default=None, help="first day of a range (2015-03-01)")
@click.option("--to", "last", default=None, help="last day of a range (2015-06-30)")
@json_option
def stats_command(code, period, first, last, as_json):
    """Organizations, activities and workers reached, funds, for a subtree and a period
    or a range of days."""
    asked = {"code": code, "period": period, "from": first, "to": last}
    with command_database("incubation") as db, db.session() as session:
        query = load(StatisticsQuery(), {k: v for k, v in asked.items() if v is not None},
                     "query rejected")
        figures = views.statistics(session, code, query["period"] or "all",
                                   Caller("cli", "viewer", code), query["first"],
                                   query["last"])
    show(StatisticsOut().dump(figures), as_json)


@cli.command("policies")
@json_option
def policies_command(as_json):
    """Every version of the grading and rules policies."""
    show(PolicyOut(many=True).dump(policy.summary()), as_json)


@cli.command("remind")
@json_option
def remind_command(as_json):
    """Raise the incubation-deadline reminders due and lapse expired grades, now."""
    today = today_in(now_utc())
    with command_database("incubation") as db, db.unit_of_work() as uow:
        raised = operations.remind_deadlines(uow, today)
        lapsed = operations.lapse_grades(uow, today)
    show({"reminders_raised": raised, "grades_lapsed": lapsed}, as_json)


@cli.command("load-sample")
@json_option
def load_sample_command(as_json):
    """Load the sample hub now (the registry's places must have arrived)."""
    with command_database("incubation") as db:
        sample.request(db)
        summary = sample.load_if_ready(db)
    if summary is None:
        raise click.ClickException("not loaded: it is loaded already, or the registry's "
                                   "places have not arrived yet (start the services)")
    show(summary, as_json)
