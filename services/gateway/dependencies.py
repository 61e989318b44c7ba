"""The gateway's dependency providers: who is calling (``Auth``) and its backing services
(``BackendRpc``, an ``RpcProxy`` that answers 503 or 504 instead of hanging or crashing)."""

import os
import time

import eventlet
from kombu.exceptions import OperationalError
from nameko.exceptions import UnknownService
from nameko.extensions import DependencyProvider
from nameko.rpc import MethodProxy, RpcProxy
from werkzeug.wrappers import Request

from services.gateway import accounts, sessions
from services.gateway.api import SAFE_METHODS
from services.gateway.auth import (
    User,
    bearer_token,
    client_address,
    require_permission,
    trusted_proxies,
)
from shared import deadlines, idempotency, pii, receipts
from shared.errors import DeadlineExceeded, OutcomeUnknown, Unauthorized, Unavailable
from shared.rpc import ReplyListener
from shared.timeutil import now_utc
from shared.web import received_at

DEFAULT_RPC_TIMEOUT = 10.0


class Authenticator:
    """What a worker gets as ``self.auth``."""

    def __init__(self, worker_ctx):
        self._worker_ctx = worker_ctx

    def user(self, request, action: str | None = None) -> User:
        """The caller, from ``Authorization: Bearer <token>`` (401 when missing or invalid),
        whose role must allow ``action`` (``auth.READ``, ``WRITE``...; 403) if given.
        Without the header, a signed-in page's session cookie (``sessions``), which must
        bring its CSRF token along on anything but a read."""
        # The service's `db` is injected before the method body runs, which is when this is
        # called; reaching it through the service keeps one engine per service.
        db = self._worker_ctx.service.db
        cookie = request.cookies.get(sessions.SESSION_COOKIE)
        if cookie and not request.headers.get("Authorization"):
            with db.session() as session:
                user, csrf_token = sessions.session_user(session, cookie, now_utc())
            sessions.require_csrf(request, csrf_token)
        else:
            token = bearer_token(request.headers.get("Authorization"))
            with db.session() as session:
                user = accounts.authenticate(session, token)
        return user if action is None else require_permission(user, action)

    def client_address(self, request) -> str | None:
        """The client's address for per-address limits (``auth.client_address``)."""
        return client_address(request, trusted_proxies(self._worker_ctx.container.config))

    def idempotency(self, request, scope: str) -> dict | None:
        """The request's ``Idempotency-Key`` as the owning service keeps it
        (``shared.idempotency``: keyed hashes of the key within ``scope`` and of the
        request), or None without one. ``scope``: the caller, ``user:<name>``,
        ``officer:<token hash>`` or ``idempotency.ANONYMOUS``."""
        key = idempotency.header_key(request.headers, idempotency.ANONYMOUS_MIN_LENGTH
                                     if scope == idempotency.ANONYMOUS else 8)
        if key is None:
            return None
        return idempotency.make_ref(gateway_keys(self._worker_ctx.container.config)
                                    .lookup_hash, scope, key, request.method, request.path,
                                    request.get_data())

    def session(self, request):
        """(user, CSRF token) of the signed-in browser, or None."""
        cookie = request.cookies.get(sessions.SESSION_COOKIE)
        if not cookie:
            return None
        with self._worker_ctx.service.db.session() as session:
            try:
                return sessions.session_user(session, cookie, now_utc())
            except Unauthorized:
                return None


_KEYS = {}


def gateway_keys(config) -> pii.Keys:
    """``GATEWAY_PII_KEY``'s keys, read once per process and setting: they key the hashes
    that stand for receipt codes, client addresses and idempotency keys on the wire."""
    setting = tuple(config.get(name) or os.environ.get(name)
                    for name in (pii.setting_name("gateway"), "GONGHUI_VAR_DIR"))
    if setting not in _KEYS:
        _KEYS[setting] = pii.load_keys("gateway", config)
    return _KEYS[setting]


def receipt_code(config, idempotency_ref: dict | None, purpose: str) -> str:
    """A fresh receipt code for an anonymous submission; for one sent with an
    ``Idempotency-Key``, one made from the key (a secret of its sender's, keyed with ours),
    the request it came with and the ``purpose`` (the route: ``disputes.report``,
    ``competitions.objection``), so that a retry with the key shows the code again, to its
    sender alone; the same key used for a report and an objection gives two unrelated
    codes, and so does the key sent with another request once its answer expired (a new
    request: ``shared.idempotency``)."""
    if idempotency_ref is None:
        return receipts.new_code()
    return receipts.code_from(gateway_keys(config).lookup_hash(
        f"receipt-for-key:{purpose}\x00{idempotency_ref['key']}"
        f"\x00{idempotency_ref['fingerprint']}"))


def receipt_ref(config, code: str) -> str:
    """What crosses the broker instead of a receipt code (its 16 digits): a keyed hash
    the owning service stores (Argon2id of it) and looks up by."""
    return gateway_keys(config).lookup_hash(f"receipt:{code}")


def address_ref(config, address: str | None) -> str | None:
    """What crosses the broker instead of the client's address (``auth.client_address``):
    a keyed hash, for the services' per-address rate limits."""
    return gateway_keys(config).lookup_hash(f"source:{address}") if address else None


class Auth(DependencyProvider):
    """``self.auth.user(request)`` in any route module. Needs the service's ``db``."""

    def get_dependency(self, worker_ctx):
        return Authenticator(worker_ctx)


class Backend:
    """Calls one service's RPC methods before a deadline; what the caller is then told:

    - the answer, or the service's own error (404, 409...);
    - 503 (``Unavailable``) when the call was not done and never will be: the deadline
      passed before it could be sent, no such service is running, or the service
      refused it as past its deadline (``shared.deadlines``). Also for a safe method
      (GET) whose answer did not come in time: a read changed nothing;
    - 504 (``OutcomeUnknown``) for a write sent whose answer did not come in time: it
      may have been done (committed, and the answer lost). Retried with the same
      ``Idempotency-Key`` it answers with the first outcome.

    The deadline is the HTTP request's: ``timeout`` after the gateway received it, so the
    wait for a free worker and every call the route makes all count against one budget.
    Each request goes out with that deadline (``nameko.deadline``) and a broker expiry of
    the time left until it, so it never runs after the gateway stopped waiting.
    """

    def __init__(self, worker_ctx, proxy, timeout, deadline, writes):
        self._worker_ctx = worker_ctx
        self._proxy = proxy  # the BackendRpc
        self._service = proxy.target_service
        self._timeout = timeout
        self._deadline = deadline  # time.monotonic()
        self._writes = writes  # the HTTP method may change something

    def __getattr__(self, method):
        def call(*args, **kwargs):
            service = {"service": self._service}
            late = f"{self._service} did not answer within {self._timeout:g}s"
            remaining = self._deadline - time.monotonic()
            if remaining <= 0:
                raise Unavailable(f"{late}; the request was not sent", service)
            sent = False
            try:
                with eventlet.Timeout(remaining):
                    sent = True  # from here on the request may reach the service
                    reply = self._method(method, remaining).call_async(*args, **kwargs)
                    return reply.result()
            except eventlet.Timeout:
                if self._writes and sent:
                    raise OutcomeUnknown(
                        f"{late}: what was asked may have been done; send it again with "
                        "the same Idempotency-Key to learn the outcome", service) from None
                raise Unavailable(f"{late}; nothing was done", service) from None
            except DeadlineExceeded:
                raise Unavailable(f"{late}; the request was refused unrun", service) \
                    from None
            except UnknownService:
                raise Unavailable(f"{self._service} is not running",
                                  service) from None
            except OperationalError:
                # Only if kombu stopped retrying (BackendRpc retries until the deadline).
                if self._writes:
                    raise OutcomeUnknown(f"{self._service} is unreachable: the message "
                                         "broker is down, and the request may have "
                                         "reached it", service) from None
                raise Unavailable(f"{self._service} is unreachable: the message broker "
                                  "is down", service) from None

        return call

    def _method(self, method, remaining):
        """nameko's proxy for ``method``, publishing with an expiry of ``remaining``."""
        options = dict(self._proxy.options, expiration=remaining)
        return MethodProxy(self._worker_ctx, self._service, method,
                           self._proxy.rpc_reply_listener, **options)


def at_once(call, items, most=20) -> list:
    """``[call(item) for item in items]``, up to ``most`` calls in flight at a time (a
    green thread each), in order; the first failure is raised. A page asking backends
    for many things waits for the slowest call, not their sum, within its one deadline."""
    items = list(items)
    return list(eventlet.GreenPool(max(1, min(len(items), most))).imap(call, items))


class BackendRpc(RpcProxy):
    """``registry_rpc = BackendRpc("registry")``; config ``GATEWAY_RPC_TIMEOUT`` (seconds).
    A reply that cannot be read is parked, not dropped (``shared.rpc.ReplyListener``).

    While the broker is away (a restart) a request is sent again and again until the
    deadline, not dropped after nameko's three quick tries: a restart shorter than the
    deadline costs the caller time, not a failure. A request the gateway gave up on must
    not run later: it carries its deadline and expires in the queue then (``Backend``).
    (The service runs a request sent twice only once: ``shared.rpc``.)
    """

    rpc_reply_listener = ReplyListener()

    def setup(self):
        self.timeout = float(self.container.config.get("GATEWAY_RPC_TIMEOUT",
                                                       DEFAULT_RPC_TIMEOUT))
        self.options.update(
            retry_policy={"max_retries": None, "interval_start": 0, "interval_step": 0.5,
                          "interval_max": 1})
        super().setup()

    def get_dependency(self, worker_ctx):
        request = worker_ctx.args[0] if worker_ctx.args else None
        is_http = isinstance(request, Request)
        arrived = received_at(request) if is_http else None
        deadline = (arrived or time.monotonic()) + self.timeout
        deadlines.set_deadline(worker_ctx, time.time() + deadline - time.monotonic())
        writes = not is_http or request.method not in SAFE_METHODS
        return Backend(worker_ctx, self, self.timeout, deadline, writes)
