"""The gateway's dependency providers: who is calling (``Auth``) and its backing services
(``BackendRpc``, an ``RpcProxy`` that answers 503 instead of hanging or crashing)."""

import time

import eventlet
from kombu.exceptions import OperationalError
from nameko.exceptions import UnknownService
from nameko.extensions import DependencyProvider
from nameko.rpc import RpcProxy
from werkzeug.wrappers import Request

from services.gateway import accounts, sessions
from services.gateway.auth import (
    User,
    bearer_token,
    client_address,
    require_permission,
    trusted_proxies,
)
from shared.errors import Unauthorized, Unavailable
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


class Auth(DependencyProvider):
    """``self.auth.user(request)`` in any route module. Needs the service's ``db``."""

    def get_dependency(self, worker_ctx):
        return Authenticator(worker_ctx)


class Backend:
    """Calls one service's RPC methods before a deadline; failures to reach it become 503.

    The deadline is the HTTP request's: ``timeout`` after the gateway received it, so the
    wait for a free worker and every call the route makes all count against one budget.
    """

    def __init__(self, proxy, service, timeout, deadline):
        self._proxy = proxy
        self._service = service
        self._timeout = timeout
        self._deadline = deadline  # time.monotonic()

    def __getattr__(self, method):
        remote = getattr(self._proxy, method)

        def call(*args, **kwargs):
            late = Unavailable(f"{self._service} did not answer within {self._timeout:g}s",
                               {"service": self._service})
            remaining = self._deadline - time.monotonic()
            if remaining <= 0:
                raise late
            try:
                with eventlet.Timeout(remaining):
                    return remote(*args, **kwargs)
            except eventlet.Timeout:
                raise late from None
            except UnknownService:
                raise Unavailable(f"{self._service} is not running",
                                  {"service": self._service}) from None
            except OperationalError:
                # Only if kombu stopped retrying (BackendRpc retries until the deadline).
                raise Unavailable(f"{self._service} is unreachable: the message broker "
                                  "is down", {"service": self._service}) from None

        return call


class BackendRpc(RpcProxy):
    """``registry_rpc = BackendRpc("registry")``; config ``GATEWAY_RPC_TIMEOUT`` (seconds).

    While the broker is away (a restart) a request is sent again and again until the
    deadline, not dropped after nameko's three quick tries: a restart shorter than the
    deadline costs the caller time, not a failure. A request the gateway answered 503
    for must not run later, so it expires in the queue at the deadline. (The service
    runs a request sent twice only once: ``shared.rpc``.)
    """

    def setup(self):
        self.timeout = float(self.container.config.get("GATEWAY_RPC_TIMEOUT",
                                                       DEFAULT_RPC_TIMEOUT))
        self.options.update(
            expiration=self.timeout,
            retry_policy={"max_retries": None, "interval_start": 0, "interval_step": 0.5,
                          "interval_max": 1})
        super().setup()

    def get_dependency(self, worker_ctx):
        request = worker_ctx.args[0] if worker_ctx.args else None
        arrived = received_at(request) if isinstance(request, Request) else None
        deadline = (arrived or time.monotonic()) + self.timeout
        return Backend(super().get_dependency(worker_ctx), self.target_service, self.timeout,
                       deadline)
