"""Personal data at rest: sealed with AES-GCM, found by a keyed hash, never logged.

One secret (``MEMBERSHIP_PII_KEY``: 64 hex digits) gives two keys: one seals ID number and
phone together in ``workers.sealed``; the other makes ``id_hash`` (keyed BLAKE2b), so the
database can say "this ID number is already a worker" without holding the number, and
card numbers are found the same way. Someone with a copy of the database and not the key
learns neither. Without the variable a development key is made once in ``var/``.
"""

import hashlib
import logging
import os
import secrets
from pathlib import Path

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from shared.config import var_dir

log = logging.getLogger(__name__)
ENV = "MEMBERSHIP_PII_KEY"
_SEPARATOR = "\x1f"


class Keys:
    def __init__(self, secret: bytes):
        if len(secret) != 32:
            raise ValueError(f"{ENV} must be 32 bytes (64 hex digits)")
        self._aead = AESGCM(hashlib.blake2b(secret, person=b"gonghui-seal", digest_size=32)
                            .digest())
        self._lookup = hashlib.blake2b(secret, person=b"gonghui-lookup", digest_size=32)\
            .digest()

    def lookup_hash(self, value: str) -> str:
        """Keyed hash (hex, 32 chars) to find a row by a secret value."""
        return hashlib.blake2b(value.encode(), key=self._lookup, digest_size=16).hexdigest()

    def seal(self, id_number: str, phone: str | None) -> bytes:
        nonce = os.urandom(12)
        plain = f"{id_number}{_SEPARATOR}{phone or ''}".encode()
        return nonce + self._aead.encrypt(nonce, plain, None)

    def unseal(self, sealed: bytes) -> dict:
        plain = self._aead.decrypt(bytes(sealed[:12]), bytes(sealed[12:]), None).decode()
        id_number, _, phone = plain.partition(_SEPARATOR)
        return {"id_number": id_number, "phone": phone or None}


def load_keys(config: dict | None = None, env=os.environ) -> Keys:
    value = (config or {}).get(ENV) or env.get(ENV)
    if value:
        return Keys(bytes.fromhex(value))
    path = Path(var_dir(env)) / "membership-pii.key"
    if not path.exists():
        path.write_text(secrets.token_hex(32))
        path.chmod(0o600)
        log.warning("%s is not set: made a development key in %s", ENV, path)
    return Keys(bytes.fromhex(path.read_text().strip()))
