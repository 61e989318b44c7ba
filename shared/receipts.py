"""Receipt codes for anonymous submissions (a dispute report, an objection to an award).

Whoever submits anonymously gets a code, shown once, with which to follow what becomes of
the submission; nothing else ties it to them.

- A code is 16 random digits (10^16): few enough to be guessed in bulk against a fast
  hash, so the service stores only its Argon2id hash (OWASP's minimum cost, tens of
  milliseconds on purpose) under a salt of its own deployment. The salt is one per
  service, not one per code, so that a code can be found by its hash.
- People read and type codes in groups of four (``format_code``); ``normalise`` takes
  them back with or without the spaces.

    salt = bytes.fromhex(settings["receipt_salt"])     # made once, by a migration
    code = new_code()
    stored = receipt_hash(code, salt)                  # what the table keeps
    ...
    row = find(receipt_hash(normalise(typed), salt))   # a lookup
"""

import re
import secrets

from argon2.low_level import Type, hash_secret_raw

from shared.errors import InvalidInput

DIGITS = 16
SALT_BYTES = 16
# OWASP's minimum for Argon2id: 19 MiB, 2 passes (about 20-40 ms here).
ARGON2_COST = {"time_cost": 2, "memory_cost": 19 * 1024, "parallelism": 1, "hash_len": 32}
_TYPED = re.compile(r"^[0-9 ]{16,19}$")


def new_code() -> str:
    return f"{secrets.randbelow(10**DIGITS):0{DIGITS}d}"


def code_from(digest_hex: str) -> str:
    """A code made from a secret digest (a keyed hash) instead of at random: the same
    digest, the same code. The gateway makes the code of a report sent with an
    ``Idempotency-Key`` from the key, so a retry with it shows its sender the code again."""
    return f"{int(digest_hex, 16) % 10**DIGITS:0{DIGITS}d}"


def new_salt() -> str:
    """Hex of a fresh salt, for the migration that creates the service's settings."""
    return secrets.token_hex(SALT_BYTES)


def format_code(code: str) -> str:
    """``1234567890123456`` -> ``1234 5678 9012 3456``."""
    return " ".join(code[start:start + 4] for start in range(0, DIGITS, 4))


def normalise(typed: str, field: str = "receipt_code") -> str:
    """The 16 digits of a code as someone typed it; 400 for anything else."""
    digits = (typed or "").replace(" ", "")
    if not _TYPED.match(typed or "") or len(digits) != DIGITS or not digits.isdigit():
        raise InvalidInput("a receipt code is 16 digits", {field: ["16 digits, spaces allowed"]})
    return digits


def receipt_hash(code: str, salt: bytes) -> str:
    return hash_secret_raw(code.encode(), salt, type=Type.ID, **ARGON2_COST).hex()
