"""Run one service in this process: ``python -m services.serve registry``.

This is the container command (exec form, so SIGTERM reaches nameko's runner, which
stops the service gracefully). eventlet must patch the standard library before anything
else imports it, hence the first lines.
"""

import services  # noqa: F401, I001  (first: it silences eventlet's import banner)
import eventlet  # noqa: E402

eventlet.monkey_patch()

import os  # noqa: E402
import sys  # noqa: E402

from nameko.cli.run import run  # noqa: E402

from services import service_class  # noqa: E402
from shared.config import service_config  # noqa: E402
from shared.logs import configure_logging  # noqa: E402


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 1:
        raise SystemExit("usage: python -m services.serve <service>")
    name = argv[0]
    configure_logging(name, os.environ.get("LOG_LEVEL", "INFO"),
                      os.environ.get("LOG_FORMAT", "json"))
    run([service_class(name)], service_config(name))


if __name__ == "__main__":
    main()
