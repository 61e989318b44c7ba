"""Prometheus metrics (one process per service, default registry): those every service
exports, then those one service sets (``gonghui_<service>_...``), all here so that
deploy/grafana's dashboards and deploy/prometheus-rules.yml have one list to be checked
against (tests/deploy/test_dashboards.py reads them off running services).

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
HTTP_SECONDS = Histogram(
    "gonghui_http_request_duration_seconds",
    "HTTP request latency by route (the route's pattern, never a path with ids), from the "
    "request's head read to the response made, the wait for a worker included",
    ["service", "route"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
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
DB_POOL_CONNECTIONS = Gauge(
    "gonghui_db_pool_connections",
    "Connections of the service's database pool, by state (in_use, idle); read at scrape",
    ["service", "state"],
)
DB_POOL_LIMIT = Gauge(
    "gonghui_db_pool_limit",
    "Most connections the pool opens (its size plus overflow); in_use at this limit makes "
    "a unit of work wait for a connection",
    ["service"],
)


# --- set by one service ------------------------------------------------------------------

REPORTS_FILED = Counter(
    "gonghui_disputes_reports_filed_total",
    "Reports filed (a resent request counted once), by who filed (officer, anonymous) and "
    "whether it opened a case or joined an open one (opened, merged)",
    ["service", "informant", "case"],
)
CASES_OPEN = Gauge(
    "gonghui_disputes_cases_open",
    "Cases not yet resolved, closed or rejected, by grade; read at scrape",
    ["service", "grade"],
)
DEADLINE_LATENESS = Histogram(
    "gonghui_notifications_deadline_lateness_seconds",
    "How late a deadline fired after it fell due",
    ["service", "kind"],
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60),
)
DEADLINES_FIRED = Counter(
    "gonghui_notifications_deadlines_fired_total",
    "Deadlines fired, by kind (escalate, remind) and outcome (escalated, exhausted, "
    "reminded, moot)",
    ["service", "kind", "outcome"],
)
DELIVERIES = Counter(
    "gonghui_notifications_deliveries_total", "External deliveries attempted, by outcome",
    ["service", "channel", "outcome"],
)
CASES_UNACKNOWLEDGED = Gauge(
    "gonghui_notifications_cases_unacknowledged",
    "Open cases someone was told of and nobody has acknowledged, by grade; read at scrape",
    ["service", "grade"],
)
DEADLINES_OVERDUE = Gauge(
    "gonghui_notifications_deadlines_overdue",
    "Open deadlines (escalate, remind) past due; the timer fires one within a second, so "
    "any that stay mean firing is stuck; read at scrape",
    ["service", "kind"],
)


def set_by_label(gauge, service: str, label: str, counts: dict, known=()) -> None:
    """``gauge{service, <label>}`` set to ``counts`` (label value -> number), each of
    ``known`` present even at 0, and a value no longer counted dropped. No I/O here, so
    a scrape in another green thread never sees the gauge half written."""
    for family in gauge.collect():
        for sample in family.samples:
            if sample.labels["service"] == service and sample.labels[label] not in counts:
                gauge.remove(service, sample.labels[label])
    for value in {*known, *counts}:
        gauge.labels(service, value).set(counts.get(value, 0))
