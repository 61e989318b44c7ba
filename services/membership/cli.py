"""``gonghui membership ...``: bulk import, join rates, recount, the sample."""

import sys

import click

from shared.cli import command_database, group, json_option, show


@group()
def cli():
    """Members, cards and join rates."""


@cli.command("import")
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
@click.option("--report", type=click.Path(dir_okay=False), default="import-errors.csv",
              show_default=True, help="per-row error report (line,field,message)")
@click.option("--batch-size", default=20_000, show_default=True)
@click.option("--writers", default=2, show_default=True,
              help="PostgreSQL connections writing batches at once")
@click.option("--initial-load", is_flag=True,
              help="into an empty PostgreSQL database: one transaction, indexes built "
                   "after the rows (fastest; member requests wait until it commits)")
@click.option("--no-progress", is_flag=True)
@json_option
def import_members(path, report, batch_size, writers, initial_load, no_progress, as_json):
    """Import members from a CSV (name,id_number,phone,enterprise_credit_code)."""
    from services.membership.domain import load_keys
    from services.membership.importer import import_file

    with command_database("membership") as database:
        result = import_file(database, load_keys(), path, report, batch_size,
                             progress=not no_progress, out=sys.stderr, checker_process=True,
                             writers=writers, initial_load=initial_load)
    if as_json:
        show({"rows": result.rows, "imported": result.imported, "rejected": result.rejected,
              "report": report if result.rejected else None}, as_json)
        return
    click.echo(f"{result.imported:,} imported, {result.rejected:,} rejected of "
               f"{result.rows:,} rows" + (f"; see {report}" if result.rejected else ""))


@cli.command("join-rate")
@click.argument("code")
@json_option
def join_rate(code, as_json):
    """Members / workers of an organization's subtree (or one enterprise)."""
    from services.membership import views

    with command_database("membership") as database:
        with database.session() as session:
            show(views.join_rate(session, code).as_dict(), as_json)


@cli.command()
@json_option
def recount(as_json):
    """Rebuild every join-rate counter from the tables (after a restore, say)."""
    from services.membership import readmodel

    with command_database("membership") as database:
        with database.unit_of_work() as uow:
            recounted = readmodel.rebuild_counters(uow.session)
    show({"organizations_recounted": recounted}, as_json)


@cli.command("load-sample")
@json_option
def load_sample(as_json):
    """Ask for the 南坑 sample; the running service loads it when the registry's data is in."""
    from services.membership import sample

    with command_database("membership") as database:
        asked = sample.request(database)
    show({"sample": "requested" if asked else "already requested or loaded"}, as_json)
