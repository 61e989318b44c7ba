"""Runs every benchmark in bench/ in turn (``make bench``), collects their figures.

    .venv/bin/python bench/run_all.py [--only outbox_relay,registry_import] [--skip ...]
        [--timeout 3600] [--table-only]

Each ``bench/<name>.py`` prints human-readable lines and ends with one JSON line; this
script shows their output as it comes, writes every JSON line, with the command and
how long it took, to ``bench/out/latest.json``, then prints a Markdown table of all
figures, ready for the README. ``broker_outage`` runs last: it stops the local broker.
With ``--only`` or ``--skip`` the figures of the benchmarks not run are kept from the
last run. ``--table-only`` prints the table of latest.json without running anything.
"""

import argparse
import json
import os
import platform
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

BENCH = Path(__file__).resolve().parent
OUT = BENCH / "out" / "latest.json"
LAST = ("broker_outage",)  # disturbs everyone on the broker: after everything else


def scripts():
    names = sorted(path.stem for path in BENCH.glob("*.py")
                   if not path.name.startswith("_") and path.stem != "run_all")
    return [name for name in names if name not in LAST] + [n for n in LAST if n in names]


def names(text):
    return [name.strip() for name in text.split(",") if name.strip()] if text else []


def run(name, timeout):
    """Runs one benchmark, echoing its output; returns its record for latest.json."""
    command = [sys.executable, str(BENCH / f"{name}.py")]
    print(f"\n## {name}: {' '.join(command)}", flush=True)
    started = time.perf_counter()
    load_before = round(os.getloadavg()[0], 2)
    figures, lines = None, []
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True, cwd=BENCH.parent)
    timed_out = []
    watchdog = threading.Timer(timeout, lambda: (timed_out.append(True), process.kill()))
    watchdog.start()
    try:
        for line in process.stdout:
            lines.append(line.rstrip("\n"))
            print(line, end="", flush=True)
        returncode = process.wait()
    finally:
        watchdog.cancel()
    if timed_out:
        returncode = "timeout"
    for line in reversed(lines):
        if line.startswith("{"):
            try:
                figures = json.loads(line)
                break
            except json.JSONDecodeError:
                continue
    # The machine is shared: a busy one (load above its 2 cores) explains slow figures.
    return {"command": " ".join(["python", f"bench/{name}.py"]), "returncode": returncode,
            "seconds": round(time.perf_counter() - started, 1),
            "load_average_1m": {"before": load_before, "after": round(os.getloadavg()[0], 2)},
            "figures": figures}


def scalar(value):
    return value is None or isinstance(value, str | int | float | bool)


def text(value):
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:,.4g}" if abs(value) < 1000 else f"{value:,.0f}"
    if value is None:
        return "-"
    return str(value)


def rows(prefix, value):
    """(figure, value) pairs: nested dicts flattened; a small dict of scalars is one cell."""
    if isinstance(value, dict):
        if value and all(scalar(v) for v in value.values()) and len(value) <= 8 and prefix:
            yield prefix, ", ".join(f"{k} {text(v)}" for k, v in value.items())
            return
        for key, item in value.items():
            yield from rows(f"{prefix} / {key}" if prefix else key, item)
    elif isinstance(value, list):
        yield prefix, ", ".join(text(item) if scalar(item) else json.dumps(item, ensure_ascii=False)
                                for item in value)
    else:
        yield prefix, text(value)


def table(results) -> str:
    lines = ["| benchmark | figure | value |", "|---|---|---|"]
    for name, record in results.items():
        figures = record.get("figures")
        if figures is None:
            lines.append(f"| {name} | (no figures: exit {record.get('returncode')}) | |")
            continue
        figures = {k: v for k, v in figures.items() if k != "benchmark"}
        for figure, value in rows("", figures):
            lines.append(f"| {name} | {figure} | {value.replace('|', '/')} |")
        load = record.get("load_average_1m")
        if load:
            lines.append(f"| {name} | run: {record['seconds']:,} s, load average (1 min) "
                         f"before / after | {load['before']} / {load['after']} |")
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--only", type=names, default=[])
    parser.add_argument("--skip", type=names, default=[])
    parser.add_argument("--timeout", type=float, default=3600, help="seconds per benchmark")
    parser.add_argument("--table-only", action="store_true")
    args = parser.parse_args()
    if args.table_only:
        print(table(json.loads(OUT.read_text())["results"]))
        return
    chosen = [name for name in scripts()
              if (not args.only or name in args.only) and name not in args.skip]
    unknown = set(args.only) - set(scripts())
    if unknown:
        raise SystemExit(f"no such benchmark: {', '.join(sorted(unknown))}; "
                         f"known: {', '.join(scripts())}")
    record = {
        "started": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                    "load_average_at_start": [round(x, 2) for x in os.getloadavg()]},
        "results": {},
    }
    if (args.only or args.skip) and OUT.exists():
        # a partial run updates the figures it measures and keeps the others
        record["results"] = json.loads(OUT.read_text()).get("results", {})
    for name in chosen:
        record["results"][name] = {
            "started": datetime.now(UTC).isoformat(timespec="seconds"), **run(name, args.timeout)}
        OUT.parent.mkdir(parents=True, exist_ok=True)
        OUT.write_text(json.dumps(record, ensure_ascii=False, indent=2))  # after each one
    print(f"\nFigures written to {OUT.relative_to(BENCH.parent)}\n")
    print(table(record["results"]))
    failed = [name for name in chosen if record["results"][name]["returncode"] != 0]
    if failed:
        raise SystemExit(f"benchmarks that failed: {', '.join(failed)}")


if __name__ == "__main__":
    main()
