"""JSON logs on stdout: one object per line, fit for a container log collector."""

import logging
import sys

from pythonjsonlogger.json import JsonFormatter


def configure_logging(service: str, level="INFO", fmt="json"):
    handler = logging.StreamHandler(sys.stdout)
    if fmt == "json":
        handler.setFormatter(
            JsonFormatter(
                "%(asctime)s %(levelname)s %(name)s %(message)s",
                rename_fields={"asctime": "time", "levelname": "level", "name": "logger"},
                static_fields={"service": service},
            )
        )
    else:
        handler.setFormatter(
            logging.Formatter(f"%(asctime)s {service} %(levelname)s %(name)s: %(message)s")
        )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # kombu/amqp chatter at INFO hides the service's own lines; so does Alembic's list of
    # the plugins it sets up on every start.
    for noisy in ("amqp", "kombu", "nameko.containers", "alembic.runtime.plugins"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))
    handler.addFilter(BrokerLostWithoutTraceback())


class BrokerLostWithoutTraceback(logging.Filter):
    """kombu logs "Connection to broker lost" with a full traceback on every reconnection
    attempt, about once a second while the broker is away: the traceback says nothing the
    error's own text does not, and it buries everything else. One line, with the error."""

    def filter(self, record):
        if record.name == "kombu.mixins" and record.exc_info and record.exc_info[1]:
            error = record.exc_info[1]
            record.msg = f"{record.getMessage()} ({type(error).__name__}: {error})"
            record.args = None
            record.exc_info = record.exc_text = None
        return True
