"""Container health check: ``gonghui-healthcheck [PATH]`` exits 0 when the service running
in this container answers 200 on PATH (default ``/healthz``), 1 otherwise.

The image runs any service (the command names it), so the check finds the service from
``GONGHUI_SERVICE`` or else from the container's main process (``python -m services.serve
<name>``, PID 1 in exec form), and its port from ``shared.config`` (``<SERVICE>_HTTP_PORT``
or the default), so it follows whatever port the service was given.
"""

import os
import sys
import urllib.error
import urllib.request

from shared.config import http_port


def service_name(cmdline_path="/proc/1/cmdline") -> str:
    if os.environ.get("GONGHUI_SERVICE"):
        return os.environ["GONGHUI_SERVICE"]
    with open(cmdline_path, "rb") as file:
        args = [arg.decode() for arg in file.read().split(b"\0") if arg]
    if "services.serve" in args and args.index("services.serve") + 1 < len(args):
        return args[args.index("services.serve") + 1]
    raise SystemExit(f"cannot tell the service from {args}; set GONGHUI_SERVICE")


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    path = argv[0] if argv else "/healthz"
    url = f"http://127.0.0.1:{http_port(service_name())}{path}"
    try:
        with urllib.request.urlopen(url, timeout=3) as response:
            status = response.status
    except urllib.error.HTTPError as exc:
        status = exc.code
    except OSError as exc:  # refused, timed out: not healthy
        print(f"{url}: {exc}", file=sys.stderr)
        return 1
    if status != 200:
        print(f"{url}: HTTP {status}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
