"""What every ``services/<name>/cli.py`` needs: its group (``group``: every error one line
on stderr and a non-zero exit, never a traceback), its database, and one way to print
(``show``: a table for people, ``--json`` for machines).

    @group()
    def cli():
        "Organization registry: ..."

    @cli.command("stats")
    @json_option
    def stats(as_json):
        show(figures, as_json)
"""

import json
import logging
import sys
from contextlib import contextmanager
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

import click
from tabulate import tabulate

from shared.config import database_url
from shared.db import open_database
from shared.errors import ServiceError
from shared.timeutil import rfc3339

SERVICES_DIR = Path(__file__).resolve().parent.parent / "services"

log = logging.getLogger("gonghui.cli")


class OneLineErrors(click.Group):
    """A click group whose errors, usage errors included, end the command with one line
    on stderr (``Error: ...``) and a non-zero exit: 2 for a usage error as click has it,
    1 for the rest. An unexpected exception is one line too; its traceback is logged at
    DEBUG (``LOG_LEVEL=DEBUG``) for whoever has to dig."""

    def main(self, args=None, prog_name=None, complete_var=None, standalone_mode=True,
             **extra):
        try:
            result = super().main(args, prog_name, complete_var, standalone_mode=False,
                                  **extra)
        except click.exceptions.Abort:
            fail("aborted")
        except click.UsageError as exc:
            hint = f" (see {exc.ctx.command_path} --help)" if exc.ctx else ""
            fail(exc.format_message() + hint, exc.exit_code)
        except click.ClickException as exc:
            fail(exc.format_message(), exc.exit_code)
        except ServiceError as exc:
            fail(refusal(exc))
        except Exception as exc:  # noqa: BLE001 - one line, whatever it is
            log.debug("the command failed", exc_info=True)
            fail(f"{type(exc).__name__}: {exc}")
        sys.exit(result if isinstance(result, int) else 0)


def group(**kwargs):
    """``click.group`` with ``OneLineErrors``: the CLI and every service's command group."""
    return click.group(cls=OneLineErrors, **kwargs)


def fail(text: str, code: int = 1):
    click.echo(f"Error: {' '.join(str(text).split())}", err=True)
    sys.exit(code)


def refusal(exc: ServiceError) -> str:
    """What the service refused and why, on one line: its message and details."""
    if not exc.details:
        return exc.message
    return f"{exc.message}: {json.dumps(exc.details, ensure_ascii=False, default=str)}"


def json_option(command):
    """``--json``: print the command's answer as JSON (for machines) instead of a table."""
    return click.option("--json", "as_json", is_flag=True,
                        help="print JSON for machines instead of a table")(command)


def show(data, as_json: bool, columns=None, empty="nothing to show"):
    """``data`` as JSON, or as a table: a list of rows (``columns``, default the first
    row's keys) or one record (a field/value table, nested records with dotted names, and
    each list of records inside it as a table of its own)."""
    if as_json:
        click.echo(json.dumps(data, ensure_ascii=False, indent=2, default=json_default))
        return
    click.echo(table(data, columns) or empty)


def table(data, columns=None) -> str:
    if isinstance(data, list):
        if not data:
            return ""
        if not isinstance(data[0], dict):
            return "\n".join(_cell(value) for value in data)
        columns = list(columns or data[0])
        return tabulate([[_cell(row.get(column)) for column in columns] for row in data],
                        headers=columns, disable_numparse=True)
    fields, tables = [], []
    for name, value in _flatten(data):
        if isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
            tables.append(f"\n\n{name}:\n{table(value)}")
        else:
            fields.append((name, _cell(value)))
    head = tabulate(fields, headers=("field", "value"), disable_numparse=True) if fields else ""
    return head + "".join(tables)


def _flatten(record, prefix=""):
    for name, value in record.items():
        if isinstance(value, dict) and value:
            yield from _flatten(value, f"{prefix}{name}.")
        else:
            yield f"{prefix}{name}", value


def _cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, datetime):
        return rfc3339(value)
    if isinstance(value, date | Decimal | int | float | str):
        return str(value)
    if isinstance(value, list) and all(not isinstance(v, dict | list) for v in value):
        return ", ".join(_cell(v) for v in value)
    return json.dumps(value, ensure_ascii=False, default=json_default)


def service_database(name: str, run_migrations: bool = True):
    """The service's own database (``<NAME>_DATABASE_URL``), migrated to its head.

    CLI commands work on it directly; events they cause wait in the outbox until the
    service runs and publishes them.
    """
    return open_database(database_url(name), name, SERVICES_DIR / name / "migrations",
                         run_migrations=run_migrations)


@contextmanager
def command_database(name: str):
    """``with command_database("registry") as db:``: the service's database for one
    command. What the service refuses (a ``shared.errors`` error) ends the command with
    one line (its message and details) instead of a traceback; the connections close
    either way."""
    database = service_database(name)
    try:
        yield database
    except ServiceError as exc:
        raise click.ClickException(refusal(exc)) from None
    finally:
        database.engine.dispose()


def json_default(value):
    """``json.dumps(..., default=json_default)``: what JSON has no type for, as every CLI
    prints it; a timestamp as RFC 3339 with an offset, like the HTTP and RPC answers."""
    if isinstance(value, datetime):
        return rfc3339(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, set | frozenset):
        return sorted(value)
    return str(value)
