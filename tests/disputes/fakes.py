"""What the gateway sends disputes instead of informants' secrets (issue 12), for tests
that call the disputes service directly: seals, token hashes, keyed hashes."""

from services.gateway.dependencies import address_ref, receipt_ref
from services.gateway.routes.disputes import informant_secrets
from shared.api import disputes as contract
from shared.testing import call


def _secrets():
    return informant_secrets({})  # the tests' keys, from the environment


def src(address: str) -> str:
    """A client address as the gateway sends it (``source``)."""
    return address_ref({}, address)


def ref(code: str) -> str:
    """A receipt code as the gateway sends it (``receipt_ref``)."""
    return receipt_ref({}, code.replace(" ", ""))


def seal(real_name: str, phone: str | None = None) -> str:
    return _secrets().seal(real_name, phone)


def token_hash(token: str) -> str:
    return contract.officer_token_hash(token)


def register(container, officer: dict, caller) -> dict:
    """``register_officer`` as the gateway calls it: the answer with the token it made."""
    token = contract.new_officer_token()
    registered = call(container, "register_officer", {
        "organization_code": officer["organization_code"],
        "sealed_identity": seal(officer["real_name"], officer.get("phone")),
        "token_hash": token_hash(token)}, caller)
    return dict(registered, token=token)
