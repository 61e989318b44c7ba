"""Who informs: officers' tokens, anonymous receipt codes, pseudonyms, the identity vault.

- Officer tokens are 32 random bytes: a plain SHA-256 is enough to store them, since
  nobody can enumerate 2^256 candidates (the slow hash is for guessable secrets).
- Receipt codes are 16 random digits (10^16): guessable in bulk by a fast hash, so they
  are stored only as Argon2id with a per-deployment salt. The salt is shared (not per
  code) so a code can be looked up by its hash; Argon2's cost is what protects it.
- Source addresses are kept only as a salted SHA-256 (for rate limits), never raw: an
  anonymous informant's IP would identify them.
- A real name and phone are stored only sealed (AES-GCM, ``shared.pii``) under
  ``DISPUTES_PII_KEY``, a key kept outside the database, and bound to the informant's
  pseudonym (a sealed identity copied onto another informant does not open). They are
  opened only by ``reveal_identity``, which writes its audit row in the same transaction.
"""

import hashlib
import json
import os
import secrets
from datetime import UTC, datetime

from argon2.low_level import Type, hash_secret_raw
from sqlalchemy import insert, select

from services.disputes.models import identities, identity_reveals, informants, settings
from shared import pii
from shared.errors import Forbidden, InvalidInput, NotFound, Unauthorized

PSEUDONYM_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"  # no 0/O, 1/I/L
# OWASP's minimum for Argon2id: 19 MiB, 2 passes (about 20-40 ms here).
ARGON2 = {"time_cost": 2, "memory_cost": 19 * 1024, "parallelism": 1, "hash_len": 32}
REVEAL_ROLES = ("admin",)


def new_pseudonym(prefix: str) -> str:
    return prefix + "-" + "".join(secrets.choice(PSEUDONYM_ALPHABET) for _ in range(8))


OFFICER_TOKEN_PREFIX = "ghi_"  # an informant's token, told apart from staff's ghu_ ones


def new_token() -> str:
    return OFFICER_TOKEN_PREFIX + secrets.token_urlsafe(32)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def new_receipt_code() -> str:
    return f"{secrets.randbelow(10**16):016d}"


def format_receipt(code: str) -> str:
    return " ".join(code[i:i + 4] for i in range(0, 16, 4))


def normalize_receipt(text) -> str:
    code = "".join(ch for ch in str(text or "") if ch not in " -")
    if len(code) != 16 or not code.isdigit():
        raise InvalidInput("a receipt code is 16 digits (spaces and dashes are ignored)",
                           {"receipt_code": ["must be 16 digits"]})
    return code


# Made once by the first migration, never changed: read once per process and database
# (keyed by the engine itself: rendering its URL on every report costs more than the read).
_SALTS = {}


def _salt(session, key: str) -> bytes:
    cache_key = (session.get_bind(), key)
    if cache_key not in _SALTS:
        row = session.execute(select(settings.c.value).where(settings.c.key == key)).first()
        if row is None:
            raise RuntimeError(f"setting {key} is missing: run the disputes migrations")
        _SALTS[cache_key] = bytes.fromhex(row.value)
    return _SALTS[cache_key]


def receipt_hash(session, code: str, run=None) -> str:
    """Argon2id of a receipt code. ``run(fn, *args)`` may move the tens of milliseconds of
    hashing off the caller's thread (the service passes eventlet's thread pool)."""
    salt = _salt(session, "receipt_salt")
    if run is None:
        return _argon2(code, salt)
    return run(_argon2, code, salt)


def _argon2(code: str, salt: bytes) -> str:
    return hash_secret_raw(code.encode(), salt, type=Type.ID, **ARGON2).hex()


def source_hash(session, source: str | None) -> str | None:
    if not source:
        return None
    return hashlib.sha256(_salt(session, "source_salt") + source.encode()).hexdigest()[:32]


ENV = pii.setting_name("disputes")  # DISPUTES_PII_KEY


def load_keys(config: dict | None = None, env=os.environ) -> pii.Keys:
    """The keys sealing identities: ``DISPUTES_PII_KEY`` from the service's config or
    the environment; unset, a development key made once in ``var/disputes-pii.key``."""
    return pii.load_keys("disputes", config, env)


def seal_identity(keys: pii.Keys, informant_id: str, real_name: str, phone=None) -> bytes:
    return keys.seal_text(json.dumps({"real_name": real_name, "phone": phone},
                                     ensure_ascii=False, separators=(",", ":")),
                          context=informant_id.encode())


def open_identity(keys: pii.Keys, informant_id: str, sealed: bytes) -> dict:
    """{"real_name", "phone"}; ``pii.WrongKey`` when ``keys`` did not seal it."""
    return json.loads(keys.open_text(sealed, context=informant_id.encode()))


def register_informant(session, kind, now, organization_code=None, identity=None,
                       with_token=False, keys=None):
    """A new informant; returns (pseudonym, token or None). The token is shown once.
    An ``identity`` ({"real_name", "phone"}) is sealed with ``keys`` (``load_keys``)."""
    pseudonym = new_pseudonym("I")
    token = new_token() if with_token else None
    session.execute(insert(informants).values(
        id=pseudonym, kind=kind, organization_code=organization_code,
        token_hash=token_hash(token) if token else None, active=True, created_at=now,
    ))
    if identity and identity.get("real_name"):
        if keys is None:
            raise ValueError("an identity is stored only sealed: pass the keys")
        session.execute(insert(identities).values(
            informant_id=pseudonym,
            sealed=seal_identity(keys, pseudonym, identity["real_name"],
                                 identity.get("phone")),
        ))
    return pseudonym, token


def authenticate_officer(session, token: str):
    if not token:
        raise Unauthorized("an information officer's token is required")
    row = session.execute(
        select(informants).where(informants.c.token_hash == token_hash(token))
    ).first()
    if row is None or not row.active:
        raise Unauthorized("unknown or revoked information officer token")
    return row


def reveal_identity(session, keys, informant_id: str, actor: dict, reason: str, now=None):
    """The real name and phone behind a pseudonym, for an allowed role, audited."""
    if actor["role"] not in REVEAL_ROLES:
        raise Forbidden("only an admin may reveal an informant's identity",
                        {"role": actor["role"]})
    if not reason or len(reason.strip()) < 4:
        raise InvalidInput("say why the identity is needed (e.g. to pay reward 12)",
                           {"reason": ["required, at least 4 characters"]})
    informant = session.execute(
        select(informants).where(informants.c.id == informant_id)
    ).first()
    if informant is None:
        raise NotFound(f"no informant {informant_id}")
    identity = session.execute(
        select(identities).where(identities.c.informant_id == informant_id)
    ).first()
    if identity is None:
        raise NotFound(f"informant {informant_id} left no identity (anonymous report)")
    clear = open_identity(keys, informant_id, identity.sealed)
    session.execute(insert(identity_reveals).values(
        informant_id=informant_id, requested_by=actor["user"], role=actor["role"],
        organization_code=actor["organization_code"], reason=reason.strip(),
        at=now or datetime.now(UTC),
    ))
    return {"informant": informant_id, **clear}


def reveals(session, informant_id: str) -> list[dict]:
    rows = session.execute(
        select(identity_reveals).where(identity_reveals.c.informant_id == informant_id)
        .order_by(identity_reveals.c.id)
    )
    return [{"requested_by": r.requested_by, "role": r.role,
             "organization_code": r.organization_code, "reason": r.reason, "at": r.at}
            for r in rows]
