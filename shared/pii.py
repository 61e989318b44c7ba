"""Personal data at rest: sealed with AES-GCM under a key kept outside the database.

A service's secret (``<SERVICE>_PII_KEY``: 64 hex digits, from its nameko config or the
environment) gives two keys: one seals values (AES-GCM, a fresh 96-bit nonce per value,
stored as nonce + ciphertext + tag); the other makes keyed hashes (BLAKE2b), so a row can
be found by a secret value the database does not hold. Someone with a copy of the database
and not the key learns neither. Without the setting a development key is made once in
``var/<service>-pii.key``, with a warning.

    keys = load_keys("disputes", config)   # DISPUTES_PII_KEY
    sealed = keys.seal_text("王秀英", context=b"I-K7P2QX9M")
    keys.open_text(sealed, context=b"I-K7P2QX9M")  # WrongKey under another key

A service with its own layout of sealed fields subclasses ``Keys`` (membership does).
"""

import hashlib
import logging
import os
import secrets
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from shared.config import var_dir

log = logging.getLogger(__name__)
NONCE_BYTES = 12


class WrongKey(Exception):
    """Sealed data this key cannot open: another key sealed it, or it was altered."""


def setting_name(service: str) -> str:
    return f"{service.upper()}_PII_KEY"


class Keys:
    """The sealing and lookup keys derived from one 32-byte secret.

    ``setting`` names where the secret comes from, for errors that say what to fix.
    """

    def __init__(self, secret: bytes, setting: str = "the PII key"):
        if len(secret) != 32:
            raise ValueError(f"{setting} must be 32 bytes (64 hex digits)")
        self.setting = setting
        # Two keys from one secret, so that neither use can weaken the other.
        self._aead = AESGCM(hashlib.blake2b(secret, person=b"gonghui-seal", digest_size=32)
                            .digest())
        self._lookup = hashlib.blake2b(secret, person=b"gonghui-lookup", digest_size=32)\
            .digest()

    def lookup_hash(self, value: str) -> str:
        """Keyed hash (hex, 32 chars) to find a row by a secret value."""
        return hashlib.blake2b(value.encode(), key=self._lookup, digest_size=16).hexdigest()

    def seal_text(self, plain: str, context: bytes | None = None) -> bytes:
        """``plain`` sealed; ``context`` (e.g. the row's key) must be given again to open
        it, so a sealed value copied onto another row does not open there."""
        nonce = os.urandom(NONCE_BYTES)
        return nonce + self._aead.encrypt(nonce, plain.encode(), context)

    def open_text(self, sealed: bytes, context: bytes | None = None) -> str:
        sealed = bytes(sealed)  # PostgreSQL's bytea reads back as a memoryview
        try:
            plain = self._aead.decrypt(sealed[:NONCE_BYTES], sealed[NONCE_BYTES:], context)
        except InvalidTag:
            raise WrongKey(f"sealed personal data does not open with {self.setting}: set it "
                           "to the key the data was sealed with") from None
        return plain.decode()


def load_secret(service: str, config: dict | None = None, env=os.environ) -> bytes:
    """``<SERVICE>_PII_KEY`` from the nameko config or the environment; unset, the
    development key in ``var/<service>-pii.key`` (made on first use, with a warning)."""
    setting = setting_name(service)
    value = (config or {}).get(setting) or env.get(setting)
    if value:
        try:
            return bytes.fromhex(value)
        except ValueError:
            raise ValueError(f"{setting} must be 64 hex digits") from None
    path = Path(var_dir(env)) / f"{service}-pii.key"
    try:
        # Exclusive and private from the start: two processes starting at once agree on
        # one key, and nobody else reads it.
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        pass
    else:
        with os.fdopen(fd, "w") as file:
            file.write(secrets.token_hex(32))
        log.warning("%s is not set: made a development key in %s", setting, path)
    return bytes.fromhex(path.read_text().strip())


def load_keys(service: str, config: dict | None = None, env=os.environ, keys_class=Keys):
    """The service's keys (``keys_class``: ``Keys`` or a service's subclass of it)."""
    return keys_class(load_secret(service, config, env), setting_name(service))
