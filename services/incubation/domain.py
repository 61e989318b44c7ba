"""The rules of incubation, as plain functions: no SQL, no nameko, no sessions.

    applied ──> admitted ──> incubating ──> assessed ──> graduated (出壳)
       │           │             │   ^          │
       └───────────┴─────────────┴───┼──────────┴──> exited  (from any stage but the last)
                                     └── assessed -> incubating: more incubation

- Admission starts the incubation period (``rules.incubation.months``); the reminder is
  raised ``reminder_days`` before it ends, once.
- Incubating needs a plan (milestones, training, a mentor); assessed needs a valid grade;
  graduation needs the conditions of the rules policy (registered, a minimum grade, a
  number of activities).
- A grade is computed from the assessors' scores by the grading policy: each indicator's
  score is the mean of its assessors', the total their weighted sum, and the grade the
  highest band whose minimum the total reaches. It is valid ``valid_years`` from the
  assessment, then lapses.
- Money is whole fen (分) inside; the API speaks yuan with two places.
- The ledger is double entry: every transaction's lines add up to 0, on the fund's side
  and on the organization's side separately, so both ledgers always balance.
- Workers reached are distinct people: a union member by membership's worker number, any
  other participant by the reporting organization's own reference for them. Each place
  on an activity's path (district .. community) keeps, per worker and year, a bit per
  month they were reached, which says at once whether the worker is new for the month,
  the quarter, the year and all time there (``reach_changes``).
"""

import calendar
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta, timezone
from decimal import ROUND_HALF_UP, Decimal

from shared.api.incubation import account_organization
from shared.caller import READ, Caller, in_scope, require
from shared.errors import Forbidden
from shared.events.incubation import GRADES, STAGES

CENT = Decimal("0.01")
CHINA = timezone(timedelta(hours=8), "CST")

# --- who may ----------------------------------------------------------------------------

def own_account(caller: Caller) -> int | None:
    """The organization whose own account ``caller`` is, or None for staff."""
    return account_organization(caller.organization_code)


def in_any_scope(caller: Caller, path) -> bool:
    return in_scope(caller, path)


def require_access(caller: Caller, action: str, organization: dict,
                   own_account_may: bool | None = None) -> Caller:
    """Staff (or viewers, for reading) within the subtree of the organization's home
    place; the organization's own account where ``own_account_may`` (by default: for
    reading only). 403 otherwise."""
    own = own_account(caller)
    if own is None:
        return require(caller, action, organization["home_path"],
                       what=f"organization {organization['id']}")
    may = action == READ if own_account_may is None else own_account_may
    if own != organization["id"]:
        raise Forbidden(f"the account of organization {own} sees only its own data",
                        {"organization_code": caller.organization_code})
    if not may or not caller.can(action):
        raise Forbidden(f"an organization's own account may not do this to organization "
                        f"{own}", {"organization_code": caller.organization_code})
    return caller


# --- stages --------------------------------------------------------------------------

TRANSITIONS = {
    "applied": ("admitted", "exited"),
    "admitted": ("incubating", "exited"),
    "incubating": ("assessed", "exited"),
    "assessed": ("graduated", "incubating", "exited"),
    "graduated": (),
    "exited": (),
}
assert set(TRANSITIONS) == set(STAGES)
OPEN_STAGES = ("admitted", "incubating", "assessed")  # in an incubation period


def transition_problem(current: str | None, target: str) -> str | None:
    """Why ``current`` cannot move to ``target``; None if it can."""
    if current is None:
        return "the hub federation has no incubation stages"
    if target not in TRANSITIONS[current]:
        allowed = ", ".join(TRANSITIONS[current]) or "none: it is final"
        return f"a {current} organization cannot become {target} (next: {allowed})"
    return None


def add_months(day: date, months: int) -> date:
    month = day.month - 1 + months
    year, month = day.year + month // 12, month % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def incubation_deadline(admitted_on: date, months: int) -> date:
    return add_months(admitted_on, months)


def deadline_state(deadline: date | None, today: date, reminder_days: int) -> str | None:
    """"passed", "approaching" (within the reminder window) or None."""
    if deadline is None:
        return None
    if deadline < today:
        return "passed"
    if (deadline - today).days <= reminder_days:
        return "approaching"
    return None


# --- grades --------------------------------------------------------------------------

def grade_rank(grade: str | None) -> int:
    """0 for no grade, 1 for 1A .. 5 for 5A."""
    return 0 if grade is None else GRADES.index(grade) + 1


@dataclass(frozen=True)
class GradeResult:
    total: Decimal
    grade: str | None
    band_min: Decimal | None  # the minimum of the band reached
    breakdown: list  # per indicator: id, label, weight, mean, weighted


def compute_grade(grading, scores: list[dict]) -> GradeResult:
    """``scores``: one ``{indicator id: score}`` per assessor, every indicator scored
    0..max_score. Raises ``ValueError`` naming what is missing or out of range."""
    if not scores:
        raise ValueError("an assessment needs at least one assessor's scores")
    indicators = grading["indicators"]
    ids = [item["id"] for item in indicators]
    for number, sheet in enumerate(scores, start=1):
        missing = [name for name in ids if name not in sheet]
        unknown = [name for name in sheet if name not in ids]
        if missing or unknown:
            raise ValueError(f"assessor {number}: " + "; ".join(filter(None, [
                missing and f"no score for {', '.join(missing)}",
                unknown and f"no indicator {', '.join(unknown)} in grading policy "
                            f"{grading['version']}"])))
        for name in ids:
            value = Decimal(str(sheet[name]))
            if not 0 <= value <= grading["max_score"]:
                raise ValueError(f"assessor {number}: {name} scores 0 to "
                                 f"{grading['max_score']}, not {value}")
    breakdown, total = [], Decimal(0)
    for item in indicators:
        mean = sum(Decimal(str(sheet[item["id"]])) for sheet in scores) / len(scores)
        weighted = mean * item["weight"]
        total += weighted
        breakdown.append({"indicator": item["id"], "label": item["label"],
                          "weight": item["weight"], "mean": mean.quantize(CENT, ROUND_HALF_UP),
                          "weighted": weighted.quantize(CENT, ROUND_HALF_UP)})
    total = total.quantize(CENT, ROUND_HALF_UP)
    for band in grading["bands"]:
        if total >= band["min"]:
            return GradeResult(total, band["grade"], band["min"], breakdown)
    return GradeResult(total, None, None, breakdown)


def valid_until(assessed_on: date, years: int) -> date:
    return add_months(assessed_on, 12 * years)


def current_grade(grade: str | None, until: date | None, today: date) -> str | None:
    """The grade if still valid on ``today``; a lapsed one counts as none."""
    if grade is None or until is None or until <= today:
        return None
    return grade


# --- conditions: graduation, gates, a call's eligibility ----------------------------

@dataclass(frozen=True)
class Facts:
    """What conditions look at."""

    stage: str | None  # None: the hub
    grade: str | None  # the valid grade, if any
    registered: bool
    activities: int
    grade_until: date | None = None


@dataclass(frozen=True)
class Refusal:
    rule: str  # e.g. "graduation.min_grade", "calls.3.min_grade"
    message: str
    requires: object
    holds: object

    def details(self, policy_version: int | None = None) -> dict:
        details = {"rule": self.rule, "requires": self.requires, "holds": self.holds}
        if policy_version is not None:
            details["policy_version"] = policy_version
        return details


CONDITION_ORDER = ("stages", "registered", "min_grade", "min_activities")


def refusal(rule: str, conditions: dict, facts: Facts) -> Refusal | None:
    """The first condition ``facts`` fail, named ``<rule>.<condition>``; None if all hold."""
    for name in CONDITION_ORDER:
        if name not in conditions:
            continue
        wanted = conditions[name]
        problem = _CHECKS[name](wanted, facts)
        if problem:
            requires, holds, message = problem
            return Refusal(f"{rule}.{name}", message, requires, holds)
    return None


def _stages(wanted, facts):
    if facts.stage is None or facts.stage in wanted:
        return None
    return list(wanted), facts.stage, f"only organizations {', '.join(wanted)} may; this " \
                                      f"one is {facts.stage}"


def _registered(wanted, facts):
    if not wanted or facts.registered:
        return None
    return True, False, "the organization must be registered with civil affairs (a " \
                        "unified social credit code on file)"


def _min_grade(wanted, facts):
    if grade_rank(facts.grade) >= grade_rank(wanted):
        return None
    holds = facts.grade or "no valid grade"
    return wanted, facts.grade, f"grade {wanted} or above is needed; the organization " \
                                f"holds {holds}"


def _min_activities(wanted, facts):
    if facts.activities >= wanted:
        return None
    return wanted, facts.activities, f"{wanted} activities held are needed; the " \
                                     f"organization has reported {facts.activities}"


_CHECKS = {"stages": _stages, "registered": _registered, "min_grade": _min_grade,
           "min_activities": _min_activities}


def facts(organization: dict, on: date) -> Facts:
    """The facts of an organization row as conditions see them on ``on``."""
    return Facts(stage=organization["stage"],
                 grade=current_grade(organization["grade"], organization["grade_until"], on),
                 registered=organization["credit_code"] is not None,
                 activities=organization["activities"],
                 grade_until=organization["grade_until"])


# --- money and the ledger ------------------------------------------------------------

def fen(amount: Decimal) -> int:
    return int((Decimal(amount) * 100).to_integral_value(ROUND_HALF_UP))


def yuan(value: int) -> Decimal:
    return (Decimal(value) / 100).quantize(CENT)


def minutes(hours: Decimal) -> int:
    return int((Decimal(hours) * 60).to_integral_value(ROUND_HALF_UP))


def hours(minutes_: int) -> Decimal:
    return (Decimal(minutes_) / 60).quantize(Decimal("0.1"), ROUND_HALF_UP)


def tranche_problem(amount: int, tranches: list[int]) -> str | None:
    if not tranches:
        return "an award is paid in at least one tranche"
    if any(part <= 0 for part in tranches):
        return "every tranche is more than 0"
    if sum(tranches) != amount:
        return (f"the tranches add up to {yuan(sum(tranches))}, the award is "
                f"{yuan(amount)}")
    return None


def even_tranches(amount: int, count: int) -> list[int]:
    """``amount`` in ``count`` parts, the cents left over in the first."""
    part = amount // count
    return [amount - part * (count - 1)] + [part] * (count - 1)


# Accounts of a fund's ledger and of an organization's. Every transaction below writes
# lines adding up to 0 on each side, so each ledger's sum is always 0.
FUND_ACCOUNTS = ("source", "available", "committed", "paid")
ORGANIZATION_ACCOUNTS = ("granted", "receivable", "received")


@dataclass(frozen=True)
class Line:
    side: str  # "fund" | "organization"
    account: str
    amount: int  # fen, signed


def budget_lines(budget: int) -> list[Line]:
    return [Line("fund", "source", -budget), Line("fund", "available", budget)]


def award_lines(amount: int) -> list[Line]:
    return [Line("fund", "available", -amount), Line("fund", "committed", amount),
            Line("organization", "granted", -amount),
            Line("organization", "receivable", amount)]


def disbursement_lines(amount: int) -> list[Line]:
    return [Line("fund", "committed", -amount), Line("fund", "paid", amount),
            Line("organization", "receivable", -amount),
            Line("organization", "received", amount)]


def balances(sums: dict, accounts: tuple) -> dict:
    """``{account: fen}`` for every account of a ledger (0 where no line), plus
    ``balanced``: the lines add up to 0."""
    result = {account: int(sums.get(account, 0)) for account in accounts}
    return {**result, "balanced": sum(result.values()) == 0}


# --- periods and workers reached ------------------------------------------------------

PERIOD = re.compile(r"^(?:all|(\d{4})(?:-(?:Q([1-4])|(0[1-9]|1[0-2])))?)$")


def period_keys(day: date) -> list[str]:
    """The periods an event on ``day`` counts in: all time, its year, quarter, month."""
    quarter = (day.month - 1) // 3 + 1
    return ["all", f"{day.year}", f"{day.year}-Q{quarter}", f"{day.year}-{day.month:02d}"]


def period_range(period: str) -> tuple[date | None, date | None]:
    """First and last day of a period key; (None, None) for all time. ``ValueError`` for
    a key that is none of ``all``, ``2015``, ``2015-Q3``, ``2015-07``."""
    match = PERIOD.match(period or "")
    if not match:
        raise ValueError("a period is all, a year (2015), a quarter (2015-Q3) or a month "
                         "(2015-07)")
    if period == "all":
        return None, None
    year = int(match[1])
    if match[2]:
        first_month = 3 * (int(match[2]) - 1) + 1
        last_month = first_month + 2
    elif match[3]:
        first_month = last_month = int(match[3])
    else:
        first_month, last_month = 1, 12
    return (date(year, first_month, 1),
            date(year, last_month, calendar.monthrange(year, last_month)[1]))


def interval(first: date | None, last: date | None) -> str:
    """A range of days as an ISO 8601 interval, an open end as ``..``
    (``2015-03-01/2015-06-30``, ``2015-03-01/..``)."""
    return f"{first.isoformat() if first else '..'}/{last.isoformat() if last else '..'}"


def instants(first: date | None, last: date | None) -> tuple[datetime, datetime]:
    """The UTC instants from the start of ``first`` to the end of ``last``, days on the
    district's calendar (UTC+8), to select what was paid within a period (an open end
    reaches as far as any payment could)."""
    start = datetime(1900, 1, 1, tzinfo=UTC) if first is None else \
        datetime.combine(first, time(), CHINA).astimezone(UTC)
    end = datetime(9999, 1, 1, tzinfo=UTC) if last is None else \
        datetime.combine(last + timedelta(days=1), time(), CHINA).astimezone(UTC)
    return start, end


@dataclass
class ReachState:
    """One worker's reach as stored: ``(node, year) -> months bitmask`` (bit 0 = January).
    A node is any hashable key: operations uses (place, kind of activity) pairs."""

    masks: dict = field(default_factory=dict)


def reach_changes(state: ReachState, visits: Iterable[tuple[Iterable[str], date]],
                  gained: dict | None = None) -> dict:
    """Record that the worker was reached at every node of each ``(path, day)``; add to
    ``gained`` (returned) how many workers each ``(node, period key)`` gains: 1 where the
    worker is new to that place and period, whatever the order of the visits."""
    gained = {} if gained is None else gained
    masks = state.masks
    nodes_seen = {node for node, _ in masks}
    for path, day in visits:
        year, month = day.year, day.month
        bit, quarter = 1 << (month - 1), (month - 1) // 3
        quarter_bits = 0b111 << (3 * quarter)
        for node in path:
            new = []
            if node not in nodes_seen:
                nodes_seen.add(node)
                new.append("all")
            mask = masks.get((node, year))
            if mask is None:
                new.append(str(year))
                mask = 0
            if not mask & quarter_bits:
                new.append(f"{year}-Q{quarter + 1}")
            if not mask & bit:
                new.append(f"{year}-{month:02d}")
            masks[(node, year)] = mask | bit
            for period in new:
                gained[(node, period)] = gained.get((node, period), 0) + 1
    return gained


def worker_key(organization_id: int, worker_id: int | None, ref: str | None) -> str:
    """Who a beneficiary is, across activities: a member by membership's worker number
    (the same person whichever organization reports them); anyone else by the reporting
    organization's own reference."""
    if worker_id is not None:
        return f"m{worker_id}"
    return f"o{organization_id}:{ref}"


# --- referrals -----------------------------------------------------------------------

def serves(service_places: Iterable[str], member_path: Iterable[str]) -> bool:
    """An organization serves a member whose place (district .. community, or the
    enterprise) has one of its service places on it."""
    return bool(set(service_places) & set(member_path))


def kinds_for_request(rules, request_kind: str) -> list[str]:
    return list(rules["referral_kinds"].get(request_kind, ()))


def today_in(moment) -> date:
    """The calendar day of an aware timestamp in China Standard Time (UTC+8), the day the
    district's staff see on their calendars."""
    return moment.astimezone(CHINA).date()
