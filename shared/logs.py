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
    # kombu/amqp chatter at INFO hides the service's own lines.
    for noisy in ("amqp", "kombu", "nameko.containers"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))
