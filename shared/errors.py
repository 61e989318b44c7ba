"""Errors every service raises and the gateway maps to HTTP: one code, one status each.

They cross RPC as themselves (registered with nameko in ``shared.web``), so the gateway
can turn a registry ``NotFound`` into a 404 without parsing strings. Each keeps its
constructor arguments in ``args``, which is what nameko serialises.
"""


class ServiceError(Exception):
    code = "ERROR"
    status = 400

    def __init__(self, message, details=None):
        super().__init__(message, details)
        self.message = message
        self.details = details

    def __str__(self):
        return self.message

    def to_dict(self):
        return {"error": self.code, "message": self.message, "details": self.details}


class InvalidInput(ServiceError):
    code = "INVALID_INPUT"
    status = 400


class Unauthorized(ServiceError):
    code = "UNAUTHORIZED"
    status = 401


class Forbidden(ServiceError):
    code = "FORBIDDEN"
    status = 403


class NotFound(ServiceError):
    code = "NOT_FOUND"
    status = 404


class Conflict(ServiceError):
    code = "CONFLICT"
    status = 409


class TooManyRequests(ServiceError):
    code = "TOO_MANY_REQUESTS"
    status = 429


class Unavailable(ServiceError):
    code = "UNAVAILABLE"
    status = 503


ALL_ERRORS = (InvalidInput, Unauthorized, Forbidden, NotFound, Conflict, TooManyRequests,
              Unavailable)


def from_validation_error(exc, message="input rejected"):
    """A marshmallow ValidationError as InvalidInput, field messages in ``details``."""
    return InvalidInput(message, exc.messages)
