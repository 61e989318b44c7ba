"""Dispute early warning: the rules, as plain functions (no SQL, no nameko, no sessions).

- A report names an enterprise (a registry credit code, or name + address + community),
  a category and figures. Reports of the same enterprise and category arriving within
  the grading policy's merge window join the open case; otherwise a new case opens.
- Every case is graded by the grading policy (``policy``); the deciding rule is stored.
  A grade is raised automatically (new report, visit, verification) but never lowered: a
  matter already reported to the party committee stays reported.
- The standard process: reported -> verified | rejected; verified -> handling ->
  resolved -> closed. Each step is an event and a line in the case timeline.
- Rewards are computed when a case is verified and when it is resolved.

Who informs (officers' tokens, anonymous receipt codes, pseudonyms, sealed identities):

- Officer tokens are 32 random bytes: a plain SHA-256 is enough to store them, since
  nobody can enumerate 2^256 candidates (the slow hash is for guessable secrets).
- Receipt codes are 16 random digits (10^16): guessable in bulk by a fast hash, so they
  are stored only as Argon2id with a per-deployment salt. The salt is shared (not per
  code) so a code can be looked up by its hash; Argon2's cost is what protects it.
- Source addresses are kept only as a salted SHA-256 (for rate limits), never raw: an
  anonymous informant's IP would identify them.
- A real name and phone arrive already sealed by the gateway to disputes' identity
  public key (``shared.sealing``: the gateway cannot open them, and no RPC message holds
  them in clear); officers' tokens and receipt codes arrive only as hashes the gateway
  made, source addresses as the gateway's keyed hash. The sealed identity is stored
  sealed once more (AES-GCM, ``shared.pii``, under ``DISPUTES_PII_KEY``) and bound to the
  informant's pseudonym (copied onto another informant it does not open). Only the
  audited reveal (``operations.reveal_identity``) opens both layers, with the private
  key (``DISPUTES_IDENTITY_KEYS``). Identities stored before sealing at the gateway
  (the name and phone under AES-GCM alone) still open.

The use cases that apply these rules to the tables are in ``operations``; the reads in
``views``.
"""

import hashlib
import json
import os
import re
import secrets
import uuid
from datetime import date, datetime, time, timedelta, timezone
from decimal import Decimal

from argon2.low_level import Type, hash_secret_raw

from services.disputes import policy
from shared import pii, sealing
from shared.api.disputes import TRANSITIONS
from shared.api.disputes import officer_token_hash as contract_token_hash
from shared.caller import Caller, require_admin
from shared.errors import Conflict, InvalidInput
from shared.timeutil import as_utc

OPEN_STATUSES = ("reported", "verified", "handling")
CHINA_TIME = timezone(timedelta(hours=8), "CST")  # statistics count years in local time


def china_day_start(day: date) -> datetime:
    """The moment a day begins in China (lists filter by the days people read)."""
    return datetime.combine(day, time(), tzinfo=CHINA_TIME)

IRREGULAR_LOOKBACK = timedelta(days=365)
RATE_HIT_KEEP = timedelta(days=1)  # longer than any rate-limit window
CLOCK_SKEW = timedelta(minutes=5)  # a visit typed in on a phone whose clock runs fast
EARLIEST_RECORD = datetime(2000, 1, 1, tzinfo=CHINA_TIME)  # the first policies' date


def checked_time(at: datetime, now: datetime, field: str) -> datetime:
    """A recorded time (a visit's, a step recorded later) is neither to come nor before
    the first policies."""
    if at > now + CLOCK_SKEW:
        raise InvalidInput(f"{field} is in the future", {field: ["must not be in the future"]})
    if at < EARLIEST_RECORD:
        raise InvalidInput(f"{field} is before 2000", {field: ["must be in 2000 or later"]})
    return at


# --- values ---------------------------------------------------------------------------

def to_fen(amount) -> int:
    return int(policy.yuan(amount) * 100)


def from_fen(fen: int | None) -> str | None:
    return None if fen is None else str((Decimal(fen) / 100).quantize(policy.CENT))


def new_id() -> str:
    return uuid.uuid4().hex


def name_key(name: str) -> str:
    """An enterprise's name as reports are matched against it: no white space,
    case-folded."""
    return re.sub(r"\s+", "", name).casefold()


def jsonable(value):
    """``value`` as a timeline line's JSON detail holds it."""
    if isinstance(value, dict):
        return {key: jsonable(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(item) for item in value]
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    return value


# --- the standard process -------------------------------------------------------------

def check_step(status: str, target: str) -> None:
    """A case moves one step along the standard process, never elsewhere."""
    allowed = TRANSITIONS.get(status, ())
    if target not in allowed:
        raise Conflict(
            f"a {status} case cannot become {target}"
            + (f"; next: {', '.join(allowed)}" if allowed else "; it is finished"),
            {"status": status, "allowed": list(allowed)},
        )


def grade_rises(current: str, new: str) -> bool:
    """A grade is raised, never lowered."""
    return policy.GRADE_ORDER[new] > policy.GRADE_ORDER[current]


# --- event payloads (no informant, ever) ----------------------------------------------

def enterprise_payload(case) -> dict:
    return {"credit_code": case.credit_code, "name": case.enterprise_name,
            "address": case.address, "community_code": case.community_code,
            "path": list(case.path), "key_enterprise": bool(case.key_enterprise)}


def case_payload(case) -> dict:
    """The ``case_opened`` payload."""
    return {"case_id": case.id, "grade": case.grade, "grade_rule": case.grade_rule,
            "category": case.category, "workers_affected": case.workers_affected,
            "amount_owed": from_fen(case.amount_owed_fen),
            "expected_at": as_utc(case.expected_at), "enterprise": enterprise_payload(case),
            "reported_at": as_utc(case.opened_at)}


# --- informants: pseudonyms, tokens, receipt codes ------------------------------------

PSEUDONYM_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"  # no 0/O, 1/I/L
# OWASP's minimum for Argon2id: 19 MiB, 2 passes (about 20-40 ms here).
ARGON2 = {"time_cost": 2, "memory_cost": 19 * 1024, "parallelism": 1, "hash_len": 32}
OFFICER_TOKEN_PREFIX = "ghi_"  # an informant's token, told apart from staff's ghu_ ones


def new_pseudonym(prefix: str) -> str:
    return prefix + "-" + "".join(secrets.choice(PSEUDONYM_ALPHABET) for _ in range(8))


def new_token() -> str:
    return OFFICER_TOKEN_PREFIX + secrets.token_urlsafe(32)


token_hash = contract_token_hash  # the gateway hashes tokens the same way


def new_receipt_code() -> str:
    return f"{secrets.randbelow(10**16):016d}"


def format_receipt(code: str) -> str:
    return " ".join(code[i:i + 4] for i in range(0, 16, 4))


def argon2(code: str, salt: bytes) -> str:
    """The stored form of a receipt code: tens of milliseconds, on purpose."""
    return hash_secret_raw(code.encode(), salt, type=Type.ID, **ARGON2).hex()


def salted_sha256(salt: bytes, source: str) -> str:
    return hashlib.sha256(salt + source.encode()).hexdigest()[:32]


# --- informants: sealed identities ----------------------------------------------------

ENV = pii.setting_name("disputes")  # DISPUTES_PII_KEY


class IdentityKeys(pii.Keys):
    """``DISPUTES_PII_KEY``'s keys, and the private identity keys (``shared.sealing``),
    read only when the audited reveal first needs them."""

    config = env = None
    _opener = None

    def opener(self) -> sealing.Opener:
        if self._opener is None:
            self._opener = sealing.load_opener(self.config, self.env or os.environ)
        return self._opener


def load_keys(config: dict | None = None, env=os.environ) -> IdentityKeys:
    """The keys sealing identities: ``DISPUTES_PII_KEY`` from the service's config or
    the environment; unset, a development key made once in ``var/disputes-pii.key``."""
    keys = pii.load_keys("disputes", config, env, IdentityKeys)
    keys.config, keys.env = config, env
    return keys


def _seal(keys: pii.Keys, informant_id: str, value: dict) -> bytes:
    return keys.seal_text(json.dumps(value, ensure_ascii=False, separators=(",", ":")),
                          context=informant_id.encode())


def seal_identity(keys: pii.Keys, informant_id: str, real_name: str, phone=None) -> bytes:
    """A clear name and phone sealed (the CLI's and the sample's path; RPC brings them
    sealed already, ``store_sealed``)."""
    return _seal(keys, informant_id, {"real_name": real_name, "phone": phone})


def store_sealed(keys: pii.Keys, informant_id: str, sealed: str) -> bytes:
    """What the table keeps of an identity the gateway sealed: sealed once more, bound
    to the informant."""
    return _seal(keys, informant_id, {"sealed": sealed})


def open_identity(keys: IdentityKeys, informant_id: str, sealed: bytes) -> dict:
    """{"real_name", "phone"}; ``pii.WrongKey`` when ``keys`` did not seal it,
    ``sealing.CannotOpen`` when no private identity key opens the gateway's seal."""
    stored = json.loads(keys.open_text(sealed, context=informant_id.encode()))
    if "sealed" in stored:
        opened = keys.opener().open(stored["sealed"])
        return {"real_name": opened["real_name"], "phone": opened.get("phone")}
    return stored


def check_reveal(caller: Caller, reason: str) -> str:
    """Only an admin reveals, and says why; the reason as it is recorded."""
    require_admin(caller, "reveal an informant's identity")
    if not reason or len(reason.strip()) < 4:
        raise InvalidInput("say why the identity is needed (e.g. to pay reward 12)",
                           {"reason": ["required, at least 4 characters"]})
    return reason.strip()
