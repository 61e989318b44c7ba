"""``gonghui registry ...``: bulk import, the sample district, statistics.

    gonghui registry import enterprises.csv --report rejected.csv
    gonghui registry load-sample
    gonghui registry stats longgang.bantian.nankeng
    gonghui registry recount            # check the kept counts against a full recount

They work on the registry database directly (REGISTRY_DATABASE_URL); events they cause
wait in the outbox until the registry service runs and publishes them.
"""

import click
from tqdm import tqdm

from services.registry import importer, operations, sample, views
from shared.caller import Caller
from shared.cli import command_database, group, json_option, show


def _operator(db) -> Caller:
    """Whom the CLI acts as: an admin at the district root (whoever reaches the registry's
    database may change all of it anyway)."""
    with db.session() as session:
        district = views.district_code(session)
    if district is None:
        raise click.ClickException("the registry has no district yet: run load-sample, or "
                                   "register the district federation first")
    return Caller("gonghui registry", "admin", district)


@group()
def cli():
    """Organization registry: import enterprises, load the sample, read statistics."""


@cli.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option("--report", type=click.Path(dir_okay=False),
              help="write rejected rows (row, credit_code, reason) to this CSV")
@click.option("--batch-size", default=importer.BATCH_SIZE, show_default=True)
@json_option
def import_command(file, report, batch_size, as_json):
    """Upsert enterprises from a CSV, JSON or JSON-lines FILE (by credit code)."""
    try:
        ignored, rows = importer.read_file(file)
    except (ValueError, UnicodeDecodeError) as exc:
        raise click.ClickException(str(exc)) from None
    if ignored:
        click.echo(f"ignoring columns: {', '.join(ignored)}", err=True)
    with command_database("registry") as db, \
            tqdm(total=importer.count_rows(file), unit="row", desc="import") as bar:
        result = importer.import_rows(db, rows, _operator(db), batch_size=batch_size,
                                      progress=bar.update)
    result.ignored_columns = ignored
    if report:
        importer.write_report(result, report)
    if as_json:
        show({"rows": result.rows, "created": result.created, "updated": result.updated,
              "unchanged": result.unchanged, "rejected": result.rejected,
              "ignored_columns": ignored, "report": report,
              "errors": [] if report else result.errors}, as_json)
        return
    click.echo(f"{result.rows} rows: {result.created} created, {result.updated} updated, "
               f"{result.unchanged} unchanged, {result.rejected} rejected")
    if report:
        click.echo(f"rejected rows written to {report}")
    else:
        for error in result.errors[:20]:
            click.echo(f"row {error['row']} {error['credit_code']}: {error['reason']}",
                       err=True)
        if result.rejected > 20:
            click.echo(f"... and {result.rejected - 20} more (use --report FILE)", err=True)


@cli.command("load-sample")
@click.option("--enterprises", default=sample.SAMPLE_ENTERPRISES, show_default=True)
@click.option("--seed", default=sample.SEED, show_default=True)
@json_option
def load_sample_command(enterprises, seed, as_json):
    """Register the Longgang-like sample district into an empty registry."""
    with command_database("registry") as db:
        with db.session() as session:
            if views.district_code(session):
                raise click.ClickException("the registry already has a district")
        with tqdm(total=enterprises, unit="row", desc="sample") as bar:
            summary = sample.load_sample(db, enterprises, seed, progress=bar.update)
    show(summary, as_json)


@cli.command("stats")
@click.argument("code")
@json_option
def stats_command(code, as_json):
    """The statistics of an organization's subtree."""
    with command_database("registry") as db:
        with db.session() as session:
            figures = views.statistics(session, code)
    show(figures, as_json)


@cli.command("recount")
@click.option("--repair", is_flag=True, help="rewrite the counts that differ")
@json_option
def recount_command(repair, as_json):
    """Compare every organization's kept counts with a full recount."""
    with command_database("registry") as db:
        with db.unit_of_work() as uow:
            stored, actual = views.stored_counts(uow.session), views.recount(uow.session)
            wrong = sorted(code for code in actual if stored.get(code) != actual[code])
            if wrong and repair:
                operations.repair_counts(uow.session)
    show({"organizations": len(actual), "differ": len(wrong),
          "repaired": len(wrong) if repair else 0,
          "differences": [{"code": code, "kept": stored.get(code), "recount": actual[code]}
                          for code in wrong]}, as_json)
    if wrong and not repair:
        raise click.ClickException(f"{len(wrong)} organizations differ; --repair fixes them")
