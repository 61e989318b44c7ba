"""Membership rules as plain Python: statuses, personal-data checks and sealing, cards,
prices, roles.

Nothing here touches nameko or the database; ``operations`` applies these rules to the
tables, ``views`` reads them, ``service`` exposes both.
"""

import hashlib
import os
import re
import secrets
from dataclasses import dataclass
from datetime import date, timedelta
from operator import mul

from shared import pii
from shared.caller import WRITE, Caller, require, require_scope
from shared.errors import Conflict, Forbidden, InvalidInput
from shared.events.membership import SERVICE_STATUSES

# --- membership statuses ------------------------------------------------------------
#
#   pending --approve--> active --transfer--> transferred  (a new active one elsewhere)
#      |                   |----lapse-------> lapsed       (enterprise closed, dues, ...)
#      '--reject--> rejected '----leave-----> left
#
# Only pending and active are "current": a worker holds at most one current membership,
# so a worker belongs to one union at a time. Ended memberships stay as history; a worker
# whose membership lapsed or who left may apply again.
TRANSITIONS = {
    "pending": {"approve": "active", "reject": "rejected", "lapse": "rejected"},
    "active": {"transfer": "transferred", "lapse": "lapsed", "leave": "left"},
    "rejected": {},
    "transferred": {},
    "lapsed": {},
    "left": {},
}
CURRENT = ("pending", "active")
NEEDS_REASON = {"reject", "lapse", "leave"}


def next_status(status: str, action: str, reason: str | None = None) -> str:
    """The status after ``action``; Conflict when the rules do not allow it."""
    allowed = TRANSITIONS[status]
    if action not in allowed:
        can = ", ".join(sorted(allowed)) or "nothing (it has ended)"
        raise Conflict(f"a {status} membership cannot {action}; it can: {can}",
                       {"status": status, "action": action})
    if action in NEEDS_REASON and not (reason and reason.strip()):
        raise InvalidInput(f"{action} needs a reason", {"reason": ["required"]})
    return allowed[action]


# --- personal data ------------------------------------------------------------------

ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
ID_CHECK = "10X98765432"
_ID_SHAPE = re.compile(  # region, birth date YYYYMMDD, sequence, check digit
    r"[1-9]\d{5}(?:19|20)\d{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])\d{3}[\dX]")
_PHONE = re.compile(r"1[3-9]\d{9}")
_DAYS = (31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)


def id_check_digit(first17: str) -> str:
    return ID_CHECK[sum(map(mul, map(int, first17), ID_WEIGHTS)) % 11]


_BAD_SHAPE = ("must be 18 characters: 17 digits (region, birth date, sequence) and a check "
              "digit 0-9 or X")
_BAD_DATE = "birth date in the number is not a real date"
_BAD_CHECK = "check digit does not match (GB 11643): a digit is mistyped"
# First 14 characters (region + birth date) -> (date problem, weighted sum so far): people
# share regions and birthdays, so a 2M-row import computes each prefix once.
_prefixes: dict = {}


def _prefix(prefix: str):
    year, month, day = int(prefix[6:10]), int(prefix[10:12]), int(prefix[12:14])
    leap = year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)
    bad = day > _DAYS[month - 1] or (month == 2 and day == 29 and not leap)
    found = (_BAD_DATE if bad else None, sum(map(mul, map(int, prefix), ID_WEIGHTS)))
    if len(_prefixes) > 500_000:
        _prefixes.clear()
    _prefixes[prefix] = found
    return found


def id_number_problem(value: str) -> str | None:
    """Why ``value`` is not a valid 18-digit 居民身份证号 (GB 11643), or None.

    The message never repeats the number: it may end up in an error report or a log.
    """
    if not _ID_SHAPE.fullmatch(value):
        return _BAD_SHAPE
    date_problem, total = _prefixes.get(value[:14]) or _prefix(value[:14])
    if date_problem:
        return date_problem
    total += int(value[14]) * 8 + int(value[15]) * 4 + int(value[16]) * 2  # ID_WEIGHTS[14:]
    if value[17] != ID_CHECK[total % 11]:
        return _BAD_CHECK
    return None


def normalize_id_number(value) -> str:
    return str(value).strip().upper() if value is not None else ""


def phone_problem(value: str) -> str | None:
    if not _PHONE.fullmatch(value):
        return "must be a mainland mobile number: 11 digits starting 13-19"
    return None


def check_personal_data(id_number: str, phone: str | None) -> dict:
    """Field -> message for each invalid value (empty when both are fine)."""
    errors = {}
    problem = id_number_problem(id_number)
    if problem:
        errors["id_number"] = [problem]
    if phone is not None:
        problem = phone_problem(phone)
        if problem:
            errors["phone"] = [problem]
    return errors


def mask_id_number(value: str) -> str:
    return value[:3] + "*" * 11 + value[-4:]


def mask_phone(value: str | None) -> str | None:
    return None if not value else value[:3] + "****" + value[-4:]


# --- personal data at rest ------------------------------------------------------------
#
# Sealed with AES-GCM, found by a keyed hash, never logged. ``MEMBERSHIP_PII_KEY`` (64 hex
# digits) gives the keys (``shared.pii``): ID number and phone are sealed together in
# ``workers.sealed``; ``id_hash`` (keyed BLAKE2b) lets the database say "this ID number is
# already a worker" without holding the number, and card numbers are found the same way.
# Without the setting a development key is made once in ``var/membership-pii.key``.

PII_KEY_SETTING = pii.setting_name("membership")  # MEMBERSHIP_PII_KEY
# Between ID number and phone in the sealed text: neither can contain it. Sealed rows
# already on file depend on this layout: changing it needs a migration of ``workers``.
_SEPARATOR = "\x1f"


class MemberKeys(pii.Keys):
    """The keys sealing a member's ID number and phone and hashing ID and card numbers."""

    def __init__(self, secret: bytes, setting: str = PII_KEY_SETTING):
        super().__init__(secret, setting)

    def seal(self, id_number: str, phone: str | None) -> bytes:
        return self.seal_text(f"{id_number}{_SEPARATOR}{phone or ''}")

    def unseal(self, sealed: bytes) -> dict:
        id_number, _, phone = self.open_text(sealed).partition(_SEPARATOR)
        return {"id_number": id_number, "phone": phone or None}


def load_keys(config: dict | None = None, env=os.environ) -> MemberKeys:
    """Membership's keys from ``MEMBERSHIP_PII_KEY`` (nameko config, then environment)."""
    return pii.load_keys("membership", config, env, MemberKeys)


# --- which union a worker joins -------------------------------------------------------

def union_for(enterprise: dict) -> str:
    """An enterprise with its own union (单独建会) has members join it; a smaller one is
    covered by its community/park federation (联合会覆盖), which also takes workers of an
    enterprise with no union yet."""
    if enterprise["status"] != "active":
        raise Conflict("the enterprise is closed; workers cannot join through it",
                       {"enterprise_credit_code": enterprise["credit_code"]})
    return enterprise.get("union_code") or enterprise["community_code"]


def stats_targets(enterprise: dict) -> list[str]:
    """Organizations whose counters include this enterprise's members and workers: its
    path (district .. community) and its union (own union, or a federation elsewhere)."""
    path = list(enterprise.get("path") or [])
    union = enterprise.get("union_code")
    if union and union not in path:
        path.append(union)
    return path


@dataclass(frozen=True)
class JoinRate:
    code: str
    members: int
    workers: int

    @property
    def rate(self) -> float | None:
        return round(self.members / self.workers, 4) if self.workers else None

    def as_dict(self) -> dict:
        rate = self.rate
        return {"code": self.code, "members": self.members, "workers": self.workers,
                "join_rate": rate, "join_rate_percent": None if rate is None else round(rate * 100)}


# --- member cards -------------------------------------------------------------------

CARD_VALIDITY = timedelta(days=3 * 365)
CARD_DIGITS = 16


def luhn_digit(digits: str) -> str:
    total = 0
    for i, c in enumerate(reversed(digits)):
        d = int(c)
        if i % 2 == 0:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return str((10 - total % 10) % 10)


def new_card_number() -> str:
    """15 random digits from ``secrets`` plus a Luhn digit: not sequential, not guessable
    (10^15 numbers for a few million cards), and a mistyped digit is caught at once."""
    body = str(secrets.randbelow(9 * 10**14) + 10**14)
    return body + luhn_digit(body)


def normalize_card_number(value) -> str:
    return re.sub(r"[\s-]", "", str(value or ""))


def card_number_well_formed(value: str) -> bool:
    return (len(value) == CARD_DIGITS and value.isdigit()
            and luhn_digit(value[:-1]) == value[-1])


def card_verdict(card: dict | None, member_active: bool, today: date) -> str:
    """What a merchant may learn about a card: valid, expired or unknown, nothing else.

    A replaced (lost) card or a card of someone no longer a member reads "expired", the
    same as one past its date: the merchant learns only that no discount is due.
    """
    if card is None:
        return "unknown"
    if card["status"] != "active" or card["valid_until"] < today or not member_active:
        return "expired"
    return "valid"


def card_check_key(caller: Caller) -> str:
    """What a caller's card checks (and purchase checks, which tell the same) are counted
    under: their user name, unique in the gateway, hashed to fit the key column and
    keep names out of ``rate_hits``. The limits: ``shared.api.membership.RATE_LIMITS``."""
    return "card_check:caller:" + hashlib.blake2b(caller.name.encode(), digest_size=16)\
        .hexdigest()


# --- merchants' price rules -----------------------------------------------------------

def check_rule(rule: dict) -> dict:
    kind = rule.get("kind")
    if kind == "percent_off":
        percent = rule.get("percent_off")
        if not isinstance(percent, int) or not 1 <= percent <= 90:
            raise InvalidInput("percent_off must be a whole percentage from 1 to 90",
                               {"rule": {"percent_off": ["1..90"]}})
        return {"kind": kind, "percent_off": percent, "markup_fen": None}
    if kind == "cost_plus":
        markup = rule.get("markup_fen")
        if not isinstance(markup, int) or markup < 0:
            raise InvalidInput("markup_fen must be a whole number of fen, 0 or more",
                               {"rule": {"markup_fen": [">= 0"]}})
        return {"kind": kind, "percent_off": None, "markup_fen": markup}
    raise InvalidInput("rule kind must be percent_off or cost_plus", {"rule": {"kind": [kind]}})


# The union supermarket (爱心超市): members pay cost price + 1 yuan.
SUPERMARKET_RULE = {"kind": "cost_plus", "percent_off": None, "markup_fen": 100}


def member_price(rule: dict, price_fen: int, cost_fen: int | None) -> int:
    """What a card holder pays; never more than the shelf price."""
    if rule["kind"] == "percent_off":
        # round half up to the fen, in integers: no float money
        return min(price_fen, (price_fen * (100 - rule["percent_off"]) + 50) // 100)
    if cost_fen is None:
        raise InvalidInput("this merchant prices members at cost plus a markup: send cost_fen",
                           {"cost_fen": ["required for a cost_plus merchant"]})
    if cost_fen > price_fen:
        raise InvalidInput("cost_fen is above price_fen", {"cost_fen": ["<= price_fen"]})
    return min(price_fen, cost_fen + rule["markup_fen"])


def purchase(rule: dict, verdict: str, price_fen: int, cost_fen: int | None) -> dict:
    """The discount applies only for a valid card."""
    pay = member_price(rule, price_fen, cost_fen) if verdict == "valid" else price_fen
    return {"card": verdict, "discount_applied": verdict == "valid", "price_fen": price_fen,
            "pay_fen": pay}


# --- member services ----------------------------------------------------------------

SERVICE_TRANSITIONS = {
    "submitted": {"accepted", "declined", "in_progress", "resolved"},
    "accepted": {"in_progress", "resolved", "declined"},
    "in_progress": {"resolved", "declined"},
    "resolved": set(),
    "declined": set(),
}
assert set(SERVICE_TRANSITIONS) == set(SERVICE_STATUSES)


def next_service_status(status: str, wanted: str) -> str:
    if wanted not in SERVICE_TRANSITIONS[status]:
        can = ", ".join(sorted(SERVICE_TRANSITIONS[status])) or "nothing (it is closed)"
        raise Conflict(f"a {status} request cannot become {wanted}; it can become: {can}",
                       {"status": status, "wanted": wanted})
    return wanted


# --- who may do what ------------------------------------------------------------------
#
# The caller is the user the gateway authenticated (``shared.caller.Caller``), with role
# viewer < staff < admin; everyone acts within the subtree of their organization. Personal
# data (ID number, phone) is for those who may write (staff and admins) over the member's
# union, never for viewers (statistics readers, merchants' terminals).


def require_writer(caller: Caller, path, what: str = "this") -> Caller:
    """403 unless ``caller`` may write and ``path`` is inside their subtree."""
    return require(caller, WRITE, path, what=what)


def require_personal_data_reader(caller: Caller, path) -> Caller:
    if not caller.can(WRITE):
        raise Forbidden(f"role {caller.role!r} may not read personal data",
                        {"role": caller.role, "needs": "staff"})
    require_scope(caller, path, "the member")
    return caller
