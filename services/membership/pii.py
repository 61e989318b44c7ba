"""Members' personal data at rest: sealed with AES-GCM, found by a keyed hash, never logged.

``MEMBERSHIP_PII_KEY`` (64 hex digits) gives the keys (``shared.pii``): ID number and
phone are sealed together in ``workers.sealed``; ``id_hash`` (keyed BLAKE2b) lets the
database say "this ID number is already a worker" without holding the number, and card
numbers are found the same way. Without the variable a development key is made once in
``var/membership-pii.key``.
"""

import os

from shared import pii

ENV = pii.setting_name("membership")  # MEMBERSHIP_PII_KEY
# Between ID number and phone in the sealed text: neither can contain it.
_SEPARATOR = "\x1f"


class Keys(pii.Keys):
    def __init__(self, secret: bytes, setting: str = ENV):
        super().__init__(secret, setting)

    def seal(self, id_number: str, phone: str | None) -> bytes:
        return self.seal_text(f"{id_number}{_SEPARATOR}{phone or ''}")

    def unseal(self, sealed: bytes) -> dict:
        id_number, _, phone = self.open_text(sealed).partition(_SEPARATOR)
        return {"id_number": id_number, "phone": phone or None}


def load_keys(config: dict | None = None, env=os.environ) -> Keys:
    return pii.load_keys("membership", config, env, Keys)
