"""Prometheus metrics shared by every service (one process per service, default registry).

Names follow Prometheus conventions: one ``gonghui_`` prefix, base units, ``_total`` on
counters, and labels with few values (service, entrypoint, outcome), never ids.
"""

from prometheus_client import Counter, Gauge, Histogram

ENTRYPOINT_CALLS = Counter(
    "gonghui_entrypoint_calls_total",
    "Entrypoint calls (RPC, HTTP, events, timers) by outcome",
    ["service", "entrypoint", "kind", "outcome"],
)
ENTRYPOINT_SECONDS = Histogram(
    "gonghui_entrypoint_duration_seconds",
    "Entrypoint latency",
    ["service", "entrypoint", "kind"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
HTTP_REQUESTS = Counter(
    "gonghui_http_requests_total",
    "HTTP requests by route and status class",
    ["service", "route", "status"],
)
HTTP_SLOW_CLIENTS = Counter(
    "gonghui_http_slow_clients_total",
    "Connections cut or refused to keep slow or greedy clients from holding the server: "
    "head or body not in by the read deadline, or one connection too many from a client",
    ["service", "reason"],
)
EVENTS_PUBLISHED = Counter(
    "gonghui_events_published_total", "Events confirmed by the broker", ["service"]
)
OUTBOX_PUBLISH_FAILURES = Counter(
    "gonghui_outbox_publish_failures_total",
    "Relay passes that failed (broker or database unreachable)",
    ["service"],
)
OUTBOX_PENDING = Gauge(
    "gonghui_outbox_pending_events", "Events committed but not yet published", ["service"]
)
OUTBOX_LAG = Gauge(
    "gonghui_outbox_lag_seconds", "Age of the oldest unpublished event", ["service"]
)
EVENTS_CONSUMED = Counter(
    "gonghui_events_consumed_total",
    "Events handled, by outcome (handled, duplicate, retried, dead_lettered)",
    ["service", "source", "type", "outcome"],
)
DEAD_LETTERS = Gauge(
    "gonghui_dead_letter_messages", "Messages parked in the service's dead-letter queue",
    ["service"],
)
REQUESTS_REFUSED_LATE = Counter(
    "gonghui_rpc_requests_refused_late_total",
    "RPC requests refused unrun because they arrived past their caller's deadline",
    ["service"],
)
MESSAGES_REJECTED = Counter(
    "gonghui_messages_rejected_total",
    "Messages a consumer could not use at all, parked at once: undecodable (not JSON, bad "
    "UTF-8, too deep, unknown content type or compression) or invalid (envelope, version, "
    "payload, RPC request shape)",
    ["service", "queue", "reason"],
)
