"""Errors every service raises, each one problem type of RFC 9457 with one status.

A service raises ``NotFound("no organization has the code 'x'", {"code": "x"})``: the
message is for people, ``details`` says what the error is about. Every HTTP answer renders
it as ``application/problem+json`` (``problem()``; ``shared.web`` writes the response)::

    {"type": "/problems/not-found", "title": "Not found", "status": 404,
     "detail": "no organization has the code 'x'", "instance": "/api/v1/organizations/x",
     "code": "NOT_FOUND"}

- ``type`` is ``/problems/<code in kebab case>``, relative to the gateway, which documents
  each type there; ``code`` is the same name in capitals, for clients that switch on it.
- For ``InvalidInput`` the details are field messages in marshmallow's shape (field ->
  list of messages, nested objects and list indexes as nested dicts); they become one flat
  list ``errors: [{"field": "rule.kind", "message": "..."}]``, ``field`` being the dotted
  path ("" for the body as a whole). ``errors`` is there on every INVALID_INPUT, maybe empty.
- For every other error a ``details`` dict becomes extension members beside the standard
  ones (``retry_after``, ``allowed``, ``service``, ``credit_code``...); a name taken by a
  standard member is left out (its value is in the message anyway), but for ``errors``:
  field messages there become the same flat ``errors`` list (a 403 naming the rows of an
  import that lie outside the caller's subtree, say).

They cross RPC as themselves (registered with nameko in ``shared.web``), so the gateway
can turn a registry ``NotFound`` into a 404 without parsing strings. nameko serialises an
exception's ``args`` turning every number, boolean and ``None`` into a string, so the
details travel in ``args`` as JSON text, and arrive with their types.
"""

import json

PROBLEM_TYPES = "/problems/"  # + kebab-case code: the ``type`` of each problem
STANDARD_MEMBERS = frozenset({"type", "title", "status", "detail", "instance", "code",
                              "errors"})
_WIRE = "\x00details-json:"  # marks details carried as JSON text in ``args``


def _json(details) -> str:
    try:
        return json.dumps(details, ensure_ascii=False, default=str)
    except (TypeError, ValueError):  # a key JSON cannot have, a cycle: as nameko would
        return json.dumps(str(details), ensure_ascii=False)


def problem_type(code: str) -> str:
    """``NOT_FOUND`` -> ``/problems/not-found``."""
    return PROBLEM_TYPES + code.lower().replace("_", "-")


class ServiceError(Exception):
    code = "ERROR"
    status = 400
    title = "Error"

    def __init__(self, message, details=None):
        if isinstance(details, str) and details.startswith(_WIRE):
            details = json.loads(details[len(_WIRE):])
        super().__init__(message, _WIRE + _json(details))
        self.message = message
        self.details = details

    def __str__(self):
        return self.message

    def __repr__(self):
        return f"{type(self).__name__}({self.message!r}, {self.details!r})"

    @classmethod
    def type_uri(cls) -> str:
        return problem_type(cls.code)

    def problem(self, instance: str | None = None) -> dict:
        """The RFC 9457 problem details of this error, ready for ``json.dumps``."""
        body = {"type": self.type_uri(), "title": self.title, "status": self.status,
                "detail": self.message}
        if instance is not None:
            body["instance"] = instance
        body["code"] = self.code
        body.update(self.members())
        return body

    def members(self) -> dict:
        """Extension members: the details dict, less names the standard members take; its
        ``errors`` entry (field messages, as marshmallow gives them) as the flat list."""
        if not isinstance(self.details, dict):
            return {}
        members = {str(name): value for name, value in self.details.items()
                   if str(name) not in STANDARD_MEMBERS}
        if "errors" in self.details:
            members["errors"] = field_errors(self.details["errors"])
        return members


class InvalidInput(ServiceError):
    code = "INVALID_INPUT"
    status = 400
    title = "Invalid input"

    def members(self) -> dict:
        return {"errors": field_errors(self.details)}


class Unauthorized(ServiceError):
    code = "UNAUTHORIZED"
    status = 401
    title = "Unauthorized"


class Forbidden(ServiceError):
    code = "FORBIDDEN"
    status = 403
    title = "Forbidden"


class NotFound(ServiceError):
    code = "NOT_FOUND"
    status = 404
    title = "Not found"


class MethodNotAllowed(ServiceError):
    code = "METHOD_NOT_ALLOWED"
    status = 405
    title = "Method not allowed"


class Conflict(ServiceError):
    code = "CONFLICT"
    status = 409
    title = "Conflict"


class IdempotencyKeyReused(ServiceError):
    """An ``Idempotency-Key`` sent again with another request than the first time."""

    code = "IDEMPOTENCY_KEY_REUSED"
    status = 422
    title = "Idempotency key reused"


class RequestTimeout(ServiceError):
    """The request's head or body did not arrive in time (``HTTP_READ_TIMEOUT``)."""

    code = "REQUEST_TIMEOUT"
    status = 408
    title = "Request timeout"


class LengthRequired(ServiceError):
    code = "LENGTH_REQUIRED"
    status = 411
    title = "Length required"


class PayloadTooLarge(ServiceError):
    code = "PAYLOAD_TOO_LARGE"
    status = 413
    title = "Payload too large"


class UnsupportedMediaType(ServiceError):
    code = "UNSUPPORTED_MEDIA_TYPE"
    status = 415
    title = "Unsupported media type"


class TooManyRequests(ServiceError):
    """Details name the limit and ``retry_after``, the seconds until a request will pass
    (also sent as the ``Retry-After`` header)."""

    code = "TOO_MANY_REQUESTS"
    status = 429
    title = "Too many requests"

    def members(self) -> dict:
        members = super().members()
        seconds = self.retry_after
        if seconds is not None:
            members["retry_after"] = seconds
        return members

    @property
    def retry_after(self) -> int | None:
        try:
            return max(1, int(self.details["retry_after"]))
        except (KeyError, TypeError, ValueError):
            return None


class Internal(ServiceError):
    """Not raised on purpose: what an unexpected exception is answered as."""

    code = "INTERNAL"
    status = 500
    title = "Internal error"


class Unavailable(ServiceError):
    code = "UNAVAILABLE"
    status = 503
    title = "Service unavailable"


class DeadlineExceeded(Unavailable):
    """A request refused, or its commit refused, because its caller's deadline had passed
    (``shared.deadlines``): nothing was done. A caller answers it as a 503."""

    code = "DEADLINE_EXCEEDED"


class OutcomeUnknown(ServiceError):
    """A write whose answer did not come back in time, after it may have been done (its
    request was sent): whether it was is unknown. Retry it with the same
    ``Idempotency-Key``, which answers with the first outcome if there was one."""

    code = "OUTCOME_UNKNOWN"
    status = 504
    title = "Outcome unknown"


ALL_ERRORS = (InvalidInput, Unauthorized, Forbidden, NotFound, MethodNotAllowed, Conflict,
              IdempotencyKeyReused, RequestTimeout, LengthRequired, PayloadTooLarge,
              UnsupportedMediaType, TooManyRequests, Internal, Unavailable, OutcomeUnknown)
# Between services only: the gateway answers a DeadlineExceeded as an Unavailable (503).
RPC_ONLY_ERRORS = (DeadlineExceeded,)


def from_validation_error(exc, message="input rejected"):
    """A marshmallow ValidationError as InvalidInput, field messages in ``details``."""
    return InvalidInput(message, exc.messages)


def field_errors(messages, path=()) -> list[dict]:
    """marshmallow's nested ``messages`` as ``[{"field": "a.0.b", "message": ...}]``.

    Dict keys (field names, list indexes) make the dotted path; ``_schema`` (an error of
    the object as a whole) adds nothing to it; a list holds the messages of one field.
    """
    if messages is None:
        return []
    if isinstance(messages, dict):
        return [error for key, value in messages.items()
                for error in field_errors(value, path if key == "_schema" else
                                          (*path, str(key)))]
    if isinstance(messages, list | tuple):
        return [error for item in messages for error in field_errors(item, path)]
    return [{"field": ".".join(path), "message": str(messages)}]
