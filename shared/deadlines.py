"""A request's deadline travels with it, so that work its caller gave up on never happens.

The caller (the gateway) stops waiting at an absolute time, its deadline. It sends that
time with every RPC request as the header ``nameko.deadline`` (seconds since the epoch:
the clocks of the hosts are assumed to agree, as NTP keeps them, to well under the
margin below) and publishes the request with a broker expiry of the time left, so a
request still queued when the caller gives up is dropped by the broker. Then:

- a service refuses a request that reaches it past its deadline without running it
  (``shared.rpc``: ``DeadlineExceeded``, which tells a caller still listening that
  nothing was done);
- a unit of work refuses to commit later than ``margin`` seconds before the deadline
  (``shared.db``: rolled back, no events): what commits in time has ``margin`` seconds
  for its answer to get back before the caller stops waiting;
- so when the caller's wait ends without an answer, the request either never ran, or
  ran and did not commit, or committed and its answer was lost (a broker cut between
  commit and reply): the caller cannot tell the last case from the others, and says so
  (the gateway's 504, "outcome unknown", to be retried with the same
  ``Idempotency-Key``), unless nothing it asked for writes anything.

nameko copies a worker's ``context_data`` into the headers of every request the worker
sends, and a request's ``nameko.*`` headers into the context of the worker it starts: a
service that calls another passes the deadline on without doing anything.

    deadlines.set_deadline(worker_ctx, time.time() + 10)     # the gateway
    deadlines.deadline_of(worker_ctx.data)                   # 1733150000.25, or None
"""

import time

from shared.errors import DeadlineExceeded

CONTEXT_KEY = "deadline"  # nameko sends it as the header "nameko.deadline"
HEADER = f"nameko.{CONTEXT_KEY}"
COMMIT_MARGIN = 1.0  # seconds, RPC_COMMIT_MARGIN: kept for the answer after a commit


def set_deadline(worker_ctx, at: float) -> None:
    """Every request ``worker_ctx`` sends from now on carries ``at`` (epoch seconds)."""
    worker_ctx.data[CONTEXT_KEY] = at


def deadline_of(context: dict | None) -> float | None:
    """The deadline in a worker's context data (or a message's headers, ``HEADER``)."""
    if not context:
        return None
    value = context.get(CONTEXT_KEY, context.get(HEADER))
    try:
        deadline = float(value)
    except (TypeError, ValueError):
        return None  # none, or not a time: no deadline rather than a refusal
    return deadline if deadline == deadline else None  # NaN is no time either


def time_left(deadline: float | None) -> float | None:
    """Seconds until ``deadline`` (negative once past it), or None without one."""
    return None if deadline is None else deadline - time.time()


def refuse_if_past(deadline: float | None, what: str) -> None:
    """``DeadlineExceeded`` if ``deadline`` has passed (``what``: what is refused)."""
    left = time_left(deadline)
    if left is not None and left <= 0:
        raise DeadlineExceeded(f"{what}: its caller's deadline passed {-left:.3f}s ago; "
                               "nothing was done", {"late_seconds": round(-left, 3)})


def refuse_commit_if_late(deadline: float | None, margin: float) -> None:
    """``DeadlineExceeded`` if less than ``margin`` seconds are left before ``deadline``:
    a commit then might not have its answer back before the caller stops waiting."""
    if deadline is not None:
        refuse_if_past(deadline - margin, "commit refused")
