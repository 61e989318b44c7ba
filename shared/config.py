"""Configuration from environment variables, turned into a nameko 2.x config dict.

Every variable has a default that works on a developer machine (SQLite file per service
under ``var/``, RabbitMQ on localhost). The README's configuration table is generated
from ``SETTINGS`` below, so the two cannot drift apart.
"""

import os
from dataclasses import dataclass
from pathlib import Path

# Service name -> HTTP port for its /metrics, /healthz, /readyz (and the gateway's API).
SERVICE_PORTS = {
    "gateway": 8000,
    "registry": 8001,
    "membership": 8002,
    "disputes": 8003,
    "notifications": 8004,
    "competitions": 8005,
    "incubation": 8006,
}


@dataclass(frozen=True)
class Setting:
    env: str
    default: str
    help: str


SETTINGS = [
    Setting("AMQP_URI", "amqp://guest:guest@127.0.0.1:5672/", "RabbitMQ connection URI"),
    Setting("GONGHUI_VAR_DIR", "var", "folder for the default SQLite files"),
    Setting(
        "<SERVICE>_DATABASE_URL",
        "sqlite:///var/<service>.db",
        "SQLAlchemy URL of a service's own database, e.g. "
        "postgresql+psycopg2://user@host/registry",
    ),
    Setting("<SERVICE>_HTTP_PORT", "8000-8006", "HTTP port of a service (see SERVICE_PORTS)"),
    Setting("HTTP_HOST", "0.0.0.0", "address the HTTP servers bind to"),
    Setting("HTTP_READ_TIMEOUT", "5",
            "seconds a client has to send a request's head and body once its connection is "
            "ready for one (else 408 and closed); the body is read before a worker is taken"),
    Setting("HTTP_CONNECTIONS_PER_CLIENT", "32",
            "connections open at once per client address (through a proxy in "
            "GATEWAY_TRUSTED_PROXIES: requests per X-Forwarded-For client); past it a 429"),
    Setting("MAX_WORKERS", "10", "concurrent workers per service (also the AMQP prefetch)"),
    Setting("DATABASE_MIGRATE", "1", "run Alembic migrations when a service starts"),
    Setting("OUTBOX_BATCH_SIZE", "500", "events the relay publishes per confirmed batch"),
    Setting("OUTBOX_POLL_SECONDS", "0.5", "relay poll interval when nothing wakes it"),
    Setting("EVENT_RETRY_DELAYS", "1,5,30", "seconds between retries of a failing handler"),
    Setting("STOP_TIMEOUT_SECONDS", "15",
            "seconds a graceful stop (SIGTERM) may take before the process exits with status 1; "
            "keep it under Kubernetes' terminationGracePeriodSeconds"),
    Setting("RPC_COMMIT_MARGIN", "1",
            "seconds before its caller's deadline after which a request's unit of work is "
            "refused (rolled back): the time its answer has to get back"),
    Setting("LOG_LEVEL", "INFO", "log level"),
    Setting("LOG_FORMAT", "json", "json or text"),
    # Service-specific settings (each read by its own service only).
    Setting("GATEWAY_RPC_TIMEOUT", "10",
            "seconds from a request's arrival until the gateway stops waiting for its backing "
            "services (a 503, or a 504 for a write that may have been done); more than "
            "RPC_COMMIT_MARGIN"),
    Setting("GATEWAY_STALL_SECONDS", "30",
            "seconds with every worker busy and none finishing after which /healthz fails "
            "(wedged; a restart helps)"),
    Setting("GATEWAY_DISTRICT_CODE", "longgang",
            "code of the district federation at the tree's root"),
    Setting("GATEWAY_ADMIN_ORG", "longgang",
            "organization of the admin `gonghui up` creates first"),
    Setting("GATEWAY_TRUSTED_PROXIES", "",
            "addresses (comma-separated) of the proxies whose X-Forwarded-Proto: https "
            "makes the sign-in cookies Secure and whose X-Forwarded-For names the "
            "client for per-address limits"),
    Setting("GATEWAY_TOKEN_DAYS", "90",
            "days an API token works after it is issued; rotate it before then"),
    Setting("GATEWAY_TOKEN_ROTATION_GRACE", "300",
            "seconds a rotated token keeps working beside its successor (0: none)"),
    Setting("GATEWAY_PII_KEY", "a development key in var/gateway-pii.key",
            "64 hex digits keying the hashes of receipt codes and client addresses the "
            "gateway sends disputes instead of them; the same on every replica, never changed"),
    Setting("GATEWAY_IDENTITY_PUBLIC_KEY", "the development pair's var/disputes-identity.pub",
            "64 hex digits: the public key sealing informants' identities at the gateway"),
    Setting("DISPUTES_IDENTITY_KEYS", "the development pair's var/disputes-identity.key",
            "comma-separated private keys (64 hex digits each) opening sealed identities, "
            "in the audited reveal only"),
    Setting("MEMBERSHIP_PII_KEY", "a development key in var/membership-pii.key",
            "64 hex digits sealing members' ID numbers and phones (AES-GCM); set it in production"),
    Setting("MEMBERSHIP_RATE_LIMITS", "card_check=60/60",
            "card checks and purchase checks per gateway user: hits/seconds"),
    Setting("DISPUTES_PII_KEY", "a development key in var/disputes-pii.key",
            "64 hex digits sealing informants' real names and phones (AES-GCM); set it in "
            "production"),
    Setting("DISPUTES_RATE_LIMITS", "officer=30/3600,source=60/3600,lookup=30/3600",
            "reports per officer / per source address, receipt lookups: hits/seconds"),
    Setting("REGISTRY_SAMPLE_ENTERPRISES", "320000",
            "enterprises in the sample district the first `gonghui up` registers: the "
            "district's 320,000 market entities with 2,000,000+ workers; 6000 (the least) "
            "starts faster, without the district-scale figures"),
    Setting("NOTIFICATIONS_POLICY", "services/notifications/policies/policy.yaml",
            "who hears of a case per grade, deadlines, reminders, channels (YAML)"),
    Setting("NOTIFICATIONS_WEBHOOK_SECRET", "a development secret (with a warning)",
            "HMAC-SHA256 key signing webhooks"),
    Setting("NOTIFICATIONS_DEADLINE_POLL_SECONDS", "0.25", "how often due deadlines are fired"),
    Setting("NOTIFICATIONS_DELIVERY_POLL_SECONDS", "0.5", "how often pending webhooks are sent"),
]

# Settings a service reads from its nameko config, passed through from the environment.
PASSTHROUGH = {"gateway": ("GATEWAY_RPC_TIMEOUT", "GATEWAY_DISTRICT_CODE",
                           "GATEWAY_TRUSTED_PROXIES", "GATEWAY_TOKEN_DAYS",
                           "GATEWAY_TOKEN_ROTATION_GRACE", "GATEWAY_STALL_SECONDS")}


def var_dir(env=os.environ) -> Path:
    path = Path(env.get("GONGHUI_VAR_DIR", "var"))
    path.mkdir(parents=True, exist_ok=True)
    return path


def database_url(service: str, env=os.environ) -> str:
    key = f"{service.upper()}_DATABASE_URL"
    if env.get(key):
        return env[key]
    return f"sqlite:///{var_dir(env) / service}.db"


def http_port(service: str, env=os.environ) -> int:
    return int(env.get(f"{service.upper()}_HTTP_PORT", SERVICE_PORTS[service]))


def retry_delays(text: str) -> list[float]:
    delays = [float(part) for part in text.split(",") if part.strip()]
    if any(delay <= 0 for delay in delays):
        raise ValueError(f"EVENT_RETRY_DELAYS must be positive seconds, got {text!r}")
    return delays


def stop_timeout(env=os.environ) -> float:
    """Seconds a service process gives its graceful stop (see services/serve.py)."""
    text = env.get("STOP_TIMEOUT_SECONDS", "15")
    seconds = float(text)
    if seconds <= 0:
        raise ValueError(f"STOP_TIMEOUT_SECONDS must be positive seconds, got {text!r}")
    return seconds


def service_config(service: str, env=os.environ) -> dict:
    """The nameko config dict for one service process."""
    if service not in SERVICE_PORTS:
        raise ValueError(f"unknown service {service!r}; known: {', '.join(SERVICE_PORTS)}")
    host = env.get("HTTP_HOST", "0.0.0.0")
    passthrough = {key: env[key] for key in PASSTHROUGH.get(service, ()) if env.get(key)}
    return passthrough | {
        "SERVICE_CONTAINER_CLS": "shared.container.ServiceContainer",  # see there
        "AMQP_URI": env.get("AMQP_URI", "amqp://guest:guest@127.0.0.1:5672/"),
        "WEB_SERVER_ADDRESS": f"{host}:{http_port(service, env)}",
        "max_workers": int(env.get("MAX_WORKERS", "10")),
        "HTTP_READ_TIMEOUT": float(env.get("HTTP_READ_TIMEOUT", "5")),
        "HTTP_CONNECTIONS_PER_CLIENT": int(env.get("HTTP_CONNECTIONS_PER_CLIENT", "32")),
        "DATABASE_URL": database_url(service, env),
        "DATABASE_MIGRATE": env.get("DATABASE_MIGRATE", "1") not in ("0", "false", "no"),
        "OUTBOX_BATCH_SIZE": int(env.get("OUTBOX_BATCH_SIZE", "500")),
        "OUTBOX_POLL_SECONDS": float(env.get("OUTBOX_POLL_SECONDS", "0.5")),
        "EVENT_RETRY_DELAYS": retry_delays(env.get("EVENT_RETRY_DELAYS", "1,5,30")),
        "RPC_COMMIT_MARGIN": float(env.get("RPC_COMMIT_MARGIN", "1")),
    }
