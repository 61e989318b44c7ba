"""``gonghui``: the command line for developers and ops.

    gonghui up                 every service in its own process, restarted if it crashes
                               (what `make run` does; services/supervisor.py)
    gonghui serve registry     one service in this process
    gonghui migrate            upgrade every service database
    gonghui dlq list registry  browse parked events; `dlq replay` sends them back
    gonghui asyncapi           print the AsyncAPI document generated from the catalogue
    gonghui sample load        the sample district, through every service's operations
    gonghui figures            the seeds' figures against the running services' statistics
"""

import logging
import os
import signal
import sys
import time
from importlib import import_module
from pathlib import Path

import click

from services import SERVICES, service_class
from services.supervisor import Supervisor
from shared.cli import fail, group, json_option, show
from shared.config import database_url, http_port, service_config, stop_timeout, var_dir

ROOT = Path(__file__).resolve().parent.parent


SERVICE = click.Choice(list(SERVICES))


@group()
def main():
    """gonghui: district trade-union governance services."""


def check_broker(amqp_uri: str):
    from kombu import Connection

    try:
        with Connection(amqp_uri, connect_timeout=3) as connection:
            connection.ensure_connection(max_retries=1)
    except Exception as exc:  # noqa: BLE001 - any failure means the same advice
        raise click.ClickException(
            f"RabbitMQ is not reachable at {amqp_uri} ({exc.__class__.__name__}). "
            "Start one with `rabbitmq-server -detached` or set AMQP_URI."
        ) from None


def migrations_dir(name: str) -> Path:
    return ROOT / "services" / name / "migrations"


@main.command()
@click.argument("services", nargs=-1, type=SERVICE, metavar="[SERVICE]...")
@json_option
def migrate(services, as_json):
    """Upgrade service databases to the latest migration (all when none named)."""
    from kombu.utils.url import sanitize_url

    from shared.db import migrate as upgrade

    migrated = []
    for name in services or SERVICES:
        upgrade(database_url(name), migrations_dir(name))
        migrated.append({"service": name, "database": sanitize_url(database_url(name)),
                         "state": "migrated"})
    show(migrated, as_json)


@main.command()
@click.argument("service")
def serve(service):
    """Run one service in this process."""
    os.execvp(sys.executable, [sys.executable, "-m", "services.serve", service])


def _die_with_parent():
    """In the child, before exec: SIGTERM us if `gonghui up` dies, even by SIGKILL."""
    import ctypes

    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except OSError:
        pass  # not Linux: children may outlive a killed parent


def _optional_module(module: str):
    """A service's optional module (cli, sample), or None if the service has none."""
    try:
        return import_module(module)
    except ModuleNotFoundError as exc:
        if not module.startswith(exc.name or "\0"):
            raise  # a real missing dependency inside the module: say so
        return None


def prepare_services(say=click.echo) -> list[dict]:
    """Migrate every service database, then seed what a first run needs (sample district,
    an admin token) through the services' optional ``sample.prepare`` hooks; ``say`` each
    step as it is done, and return what was done per service."""
    from shared.consumers import declare_event_queues
    from shared.db import migrate as upgrade

    prepared = []
    for name in SERVICES:
        upgrade(database_url(name), migrations_dir(name))
        queues = declare_event_queues(service_class(name), service_config(name))
        say(f"{name}: database migrated, {len(queues)} event queues bound")
        hook = first_run_hook(name)
        steps = []
        for line in hook(database_url(name), migrations_dir(name)) if hook else ():
            say(f"{name}: {line}")
            steps.append(line)
        prepared.append({"service": name, "event_queues": len(queues), "done": steps})
    return prepared


def first_run_hook(name: str):
    """The service's ``prepare`` in ``sample.py`` (or, until every service has moved it
    there, in ``setup.py``), or None."""
    for module in ("sample", "setup"):
        found = _optional_module(f"services.{name}.{module}")
        if found is not None and hasattr(found, "prepare"):
            return found.prepare
    return None


def child_env(env) -> dict:
    """The environment of the services ``up`` starts: their databases were migrated here
    (``DATABASE_MIGRATE=0``), and every relative path means what it means here, although
    the children run from the project's folder (so that ``python -m services`` finds it)."""
    env = dict(env, DATABASE_MIGRATE="0", GONGHUI_VAR_DIR=str(var_dir(env).resolve()))
    for key, value in list(env.items()):
        path = value.removeprefix("sqlite:///")
        if (key.endswith("_DATABASE_URL") and value.startswith("sqlite:///")
                and path != ":memory:" and not Path(path).is_absolute()):
            env[key] = f"sqlite:///{Path(path).resolve()}"
    return env


@main.command()
@click.option("--only", multiple=True, help="start only these services")
def up(only):
    """Start every service in its own process, restart those that crash; Ctrl-C stops all."""
    amqp_uri = service_config("registry")["AMQP_URI"]
    check_broker(amqp_uri)
    prepare_services()
    names = [name for name in SERVICES if not only or name in only]
    supervisor = Supervisor(
        {name: [sys.executable, "-m", "services.serve", name] for name in names},
        say=click.echo, stop_timeout=stop_timeout() + 5,
        popen_kwargs={"env": child_env(os.environ), "cwd": ROOT,
                      "start_new_session": True, "preexec_fn": _die_with_parent})

    # Our own handlers: a shell may start us with SIGINT ignored, and children in their
    # own sessions get exactly one SIGTERM from here (nameko's graceful stop) rather than
    # a terminal's SIGINT and our SIGTERM racing each other.
    signal.signal(signal.SIGINT, supervisor.request_stop)
    signal.signal(signal.SIGTERM, supervisor.request_stop)
    supervisor.start()
    for name in names:
        click.echo(f"{name}: http://127.0.0.1:{http_port(name)}")
    click.echo("all services started; a service that crashes is restarted; Ctrl-C stops "
               "them all")
    raise SystemExit(supervisor.run())


@main.group()
def dlq():
    """Inspect and replay a service's dead-letter queue."""


@dlq.command("list")
@click.argument("service", type=SERVICE)
@click.option("--limit", default=100, show_default=True, type=click.IntRange(1, 10_000))
@json_option
def dlq_list(service, limit, as_json):
    """The messages parked for SERVICE and why (they stay parked); --json adds the bodies."""
    from shared.consumers import dead_letter_queue_name, list_dead_letters

    parked = list_dead_letters(service_config(service)["AMQP_URI"], service, limit)
    if as_json:
        show(parked, as_json)
    else:
        show(parked, as_json, columns=("message_id", "routing_key", "attempts", "failed_at",
                                       "error"),
             empty=f"no messages parked in {dead_letter_queue_name(service)}")


@dlq.command("replay")
@click.argument("service", type=SERVICE)
@click.argument("message_ids", nargs=-1)
@json_option
def dlq_replay(service, message_ids, as_json):
    """Send parked messages (all, or those ids) back to the queue they failed in. An id
    not parked fails the command before anything is replayed."""
    from shared.consumers import dead_letter_queue_name, list_dead_letters, replay_dead_letters

    amqp_uri = service_config(service)["AMQP_URI"]
    if message_ids:
        parked = {m["message_id"] for m in list_dead_letters(amqp_uri, service, 10_000)}
        unknown = [id_ for id_ in message_ids if id_ not in parked]
        if unknown:
            fail(f"not parked in {dead_letter_queue_name(service)}: {', '.join(unknown)}; "
                 "nothing replayed (`gonghui dlq list` shows what is)")
    count = replay_dead_letters(amqp_uri, service, message_ids)
    show({"service": service, "replayed": count}, as_json)


@main.command()
@click.option("--bundled", is_flag=True,
              help="inline every reference a tool may not follow (asyncapi.bundled.yaml)")
def asyncapi(bundled):
    """Print the AsyncAPI 3.0 document: every event in the catalogue, who publishes it and
    who consumes it through which queue."""
    from services import event_consumers
    from shared.asyncapi import render

    click.echo(render(consumers=event_consumers(), bundle=bundled), nl=False)


@main.group()
def sample():
    """The sample district (DOMAIN.md's figures), filed through the services' operations."""


@sample.command("load")
@json_option
def sample_load(as_json):
    """Migrate, load the registry's district and ask every other service for its sample
    (what `gonghui up` does on a first run); the running services load theirs from the
    registry's events. `gonghui figures --wait 300` then says when all is in."""
    check_broker(service_config("registry")["AMQP_URI"])
    show(prepare_services(say=lambda line: None), as_json)


@main.command()
@json_option
@click.option("--wait", type=float, default=0, show_default=True,
              help="seconds to keep asking until every figure agrees (samples loading)")
@click.option("--timeout", type=float, default=10, show_default=True,
              help="seconds each RPC call may take")
def figures(as_json, wait, timeout):
    """The seeds' figures: the seed's value, the running services' value, agree or not
    (exit status 1 when one disagrees). Asks the services over RPC, never a database."""
    from nameko.standalone.rpc import ClusterRpcProxy

    from services.figures import report, shown

    amqp_uri = service_config("registry")["AMQP_URI"]
    check_broker(amqp_uri)
    # The proxy closes a channel per call with the broker's confirm still in flight; py-amqp
    # warns of each ignored confirm, which says nothing about the figures.
    logging.getLogger("amqp").setLevel(logging.ERROR)
    deadline = time.monotonic() + wait
    with ClusterRpcProxy({"AMQP_URI": amqp_uri}, timeout=timeout) as rpc:
        while True:
            rows = report(rpc)
            if all(row["agrees"] is not False for row in rows) or time.monotonic() > deadline:
                break
            time.sleep(2)
    show(rows if as_json else shown(rows), as_json)
    disagree = [row for row in rows if row["agrees"] is False]
    if disagree:
        fail(f"{len(disagree)} of {len(rows)} figures disagree")


def _register_service_commands():
    # Services may add their own command groups (services/<name>/cli.py exposing `cli`).
    for name in SERVICES:
        commands = _optional_module(f"services.{name}.cli")
        if commands is not None:
            main.add_command(commands.cli, name)


_register_service_commands()

if __name__ == "__main__":
    main()
