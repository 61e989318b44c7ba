"""How a notification reaches a recipient: the channel interface and its two channels.

A channel either delivers inside the unit of work that decided to notify (the inbox: a
row in this database, delivered when the transaction commits; it is written with the
use case's other rows, ``operations.Batch``) or sends to the outside
world after commit (webhooks; SMS or e-mail would be the same shape), from a delivery
record that is retried until it succeeds or the policy's retries run out.

Adding a channel: subclass ``Channel``, give it a ``name``, implement ``addresses`` and
``send`` (or ``deliver_in`` when ``transactional``), add it to the channels
``dependencies.NotifierProvider`` builds, and name it in the policy's ``channels``.

Webhooks are signed so a receiver can check a message came from us and is fresh:

    X-Gonghui-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>." + body)>
    X-Gonghui-Delivery: <delivery id>   (the same on every retry: receivers deduplicate)

``verify_signature`` is the receiver's side of it.
"""

import hashlib
import hmac
import json
import time
from abc import ABC, abstractmethod

import requests

from services.notifications.models import inbox_messages

SIGNATURE_HEADER = "X-Gonghui-Signature"
DELIVERY_HEADER = "X-Gonghui-Delivery"


class DeliveryFailed(Exception):
    """The channel could not deliver; the message is retried per the policy."""


class Channel(ABC):
    name: str = ""
    transactional = False  # True: delivered in the deciding transaction (no retries)

    @abstractmethod
    def addresses(self, recipient) -> list[str]:
        """Where this recipient is reached on this channel; empty: not reachable here."""

    def deliver_in(self, batch, recipient, message: dict, notification_id: str, now):
        """Add the delivery to ``batch`` (``batch.add(table, row)``), committed with the
        unit of work the batch is written into."""
        raise NotImplementedError(f"{self.name} is not a transactional channel")

    def send(self, address: str, message: dict, delivery_id: str):
        raise NotImplementedError(f"{self.name} delivers in the transaction")


class InboxChannel(Channel):
    """An inbox per organization (and recipient kind), read through the service's API."""

    name = "inbox"
    transactional = True

    def addresses(self, recipient) -> list[str]:
        return [f"{recipient.organization_code}/{recipient.kind}"]

    def deliver_in(self, batch, recipient, message, notification_id, now):
        batch.add(inbox_messages, {
            "organization_code": recipient.organization_code,
            "recipient_kind": recipient.kind, "case_id": message["case"]["case_id"],
            "subject_kind": "case", "notification_id": notification_id,
            "message_kind": message["kind"],
            "title": message["title"], "body": message, "created_at": now})


def sign(secret: str, body: bytes, timestamp: int | None = None) -> str:
    timestamp = int(time.time()) if timestamp is None else timestamp
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},v1={digest.hexdigest()}"


def verify_signature(secret: str, body: bytes, header: str, tolerance: float = 300,
                     now: float | None = None) -> bool:
    """True if ``header`` signs ``body`` with ``secret`` within ``tolerance`` seconds."""
    try:
        parts = dict(item.split("=", 1) for item in header.split(","))
        timestamp = int(parts["t"])
    except (ValueError, KeyError):
        return False
    now = time.time() if now is None else now
    if abs(now - timestamp) > tolerance:
        return False  # an old message replayed
    expected = sign(secret, body, timestamp).split("v1=", 1)[1]
    return hmac.compare_digest(expected, parts.get("v1", ""))


class WebhookChannel(Channel):
    """Signed JSON POSTs to the webhook URLs in the organization's registry contacts.

    The registry keeps contacts per organization, so a union organization and the party
    organization leading it share its URLs; ``recipient.kind`` in the body says which of
    them a message is for.
    """

    name = "webhook"

    def __init__(self, secret: str, timeout: float = 5.0):
        self.secret = secret
        self.timeout = timeout
        self.http = requests.Session()

    def addresses(self, recipient) -> list[str]:
        return list(recipient.webhooks)

    def send(self, address, message, delivery_id):
        body = json.dumps(message, ensure_ascii=False, sort_keys=True).encode()
        headers = {
            "Content-Type": "application/json; charset=utf-8",
            SIGNATURE_HEADER: sign(self.secret, body),
            DELIVERY_HEADER: delivery_id,
            "User-Agent": "gonghui-notifications",
        }
        try:
            response = self.http.post(address, data=body, headers=headers,
                                      timeout=self.timeout, allow_redirects=False)
        except requests.RequestException as exc:
            raise DeliveryFailed(f"{type(exc).__name__}: {exc}"[:500]) from None
        if not 200 <= response.status_code < 300:
            raise DeliveryFailed(f"HTTP {response.status_code} from {address}")
