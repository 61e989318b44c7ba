"""Identities sealed where they enter (the gateway) to a public key whose private half
only disputes' audited reveal uses (libsodium's sealed boxes, PyNaCl).

The gateway holds the public key alone, so nothing it runs, logs or sends can open what
it sealed; no queue or RPC message carries a name or phone in clear. A sealed value is
``<key id>.<base64 sealed box>``: the key id (16 hex digits of the public key's
SHA-256) says which private key opens it, so keys can be rotated.

Settings (each from the service's nameko config or the environment):

- ``GATEWAY_IDENTITY_PUBLIC_KEY``: 64 hex digits, the current public key (gateway).
- ``DISPUTES_IDENTITY_KEYS``: the private keys, 64 hex digits each, comma-separated,
  every one still needed (disputes). Rotation: make a pair (``gonghui disputes
  identity-keys``), add the new private key to ``DISPUTES_IDENTITY_KEYS`` beside the
  old ones, restart disputes, then give the gateway the new public key; the old private
  keys stay as long as values sealed to them are kept.

Unset, both sides use a development pair made once in ``var/`` (``ensure_dev_pair``,
as ``make run`` and the tests do), with a warning.

    sealer = load_sealer(config)              # gateway
    sealed = sealer.seal({"real_name": "王秀英", "phone": None})
    load_opener(config).open(sealed)          # disputes' audited reveal only
"""

import base64
import hashlib
import json
import logging
import os
import time
from pathlib import Path

from nacl.exceptions import CryptoError
from nacl.public import PrivateKey, PublicKey, SealedBox

from shared.config import var_dir

log = logging.getLogger(__name__)
PUBLIC_SETTING = "GATEWAY_IDENTITY_PUBLIC_KEY"
PRIVATE_SETTING = "DISPUTES_IDENTITY_KEYS"
DEV_PRIVATE = "disputes-identity.key"
DEV_PUBLIC = "disputes-identity.pub"


class CannotOpen(Exception):
    """A sealed value no configured private key opens (another pair, or altered)."""


def key_id(public: PublicKey) -> str:
    return hashlib.sha256(bytes(public)).hexdigest()[:16]


def new_pair() -> tuple[str, str]:
    """(private, public) as hex."""
    private = PrivateKey.generate()
    return bytes(private).hex(), bytes(private.public_key).hex()


def ensure_dev_pair(env=os.environ) -> Path:
    """The development pair in ``var/`` (made once, private file 0600); its folder."""
    folder = Path(var_dir(env))
    try:
        fd = os.open(folder / DEV_PRIVATE, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        # Another process may be writing the pair this very moment (``gonghui up``
        # starts every service at once): wait for both halves.
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and not all(
                (folder / name).exists() and (folder / name).read_text().strip()
                for name in (DEV_PRIVATE, DEV_PUBLIC)):
            time.sleep(0.05)
    else:
        private, public = new_pair()
        (folder / DEV_PUBLIC).write_text(public + "\n")
        with os.fdopen(fd, "w") as file:
            file.write(private + "\n")
        log.warning("%s is not set: made a development identity key pair in %s",
                    PRIVATE_SETTING, folder / DEV_PRIVATE)
    return folder


def _setting(name, config, env) -> str | None:
    return (config or {}).get(name) or env.get(name)


def _hex32(text: str, setting: str) -> bytes:
    try:
        raw = bytes.fromhex(text.strip())
    except ValueError:
        raw = b""
    if len(raw) != 32:
        raise ValueError(f"{setting} must be 64 hex digits (a key made by "
                         "`gonghui disputes identity-keys`)")
    return raw


class Sealer:
    """Seals to one public key; cannot open anything."""

    def __init__(self, public_hex: str):
        self.public = PublicKey(_hex32(public_hex, PUBLIC_SETTING))
        self.key_id = key_id(self.public)
        self._box = SealedBox(self.public)

    def seal(self, value: dict) -> str:
        plain = json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()
        return f"{self.key_id}.{base64.b64encode(self._box.encrypt(plain)).decode()}"


class Opener:
    """Opens values sealed to any of its private keys."""

    def __init__(self, private_hexes: list[str]):
        self._boxes = {}
        for text in private_hexes:
            private = PrivateKey(_hex32(text, PRIVATE_SETTING))
            self._boxes[key_id(private.public_key)] = SealedBox(private)
        if not self._boxes:
            raise ValueError(f"{PRIVATE_SETTING} names no key")

    def open(self, sealed: str) -> dict:
        kid, _, body = sealed.partition(".")
        box = self._boxes.get(kid)
        if box is None:
            raise CannotOpen(f"sealed to key {kid[:16]}, which {PRIVATE_SETTING} does not "
                             "hold: add the private key it was sealed with")
        try:
            return json.loads(box.decrypt(base64.b64decode(body, validate=True)))
        except (CryptoError, ValueError):
            raise CannotOpen(f"a value sealed to key {kid} does not open: altered") from None


def load_sealer(config: dict | None = None, env=os.environ) -> Sealer:
    public = _setting(PUBLIC_SETTING, config, env)
    if not public:
        public = (ensure_dev_pair(env) / DEV_PUBLIC).read_text()
    return Sealer(public)


def load_opener(config: dict | None = None, env=os.environ) -> Opener:
    private = _setting(PRIVATE_SETTING, config, env)
    if not private:
        private = (ensure_dev_pair(env) / DEV_PRIVATE).read_text()
    return Opener([part for part in private.split(",") if part.strip()])
