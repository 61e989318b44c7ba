"""Worker-star competitions (职工之星): the rules, as plain functions (no SQL, no nameko).

An edition (a year) runs its rounds in this order, each opened and closed once::

    nomination -> qualification -> street_final (one per street) -> district_final
        -> public_notice (公示: objections, 7 days by default) -> awarded

- Nominations come in while the nomination round is open; each is checked against the
  edition's eligibility rules and its group's (``check_rule``; policy data) and is
  ``qualified`` or ``refused`` naming every failed rule. Later events flag an open
  nomination for review (``FLAG_REASONS``), never drop it.
- Closing the qualification round makes each street's qualified nominations the
  contestants of that street's final (up to the group's qualification quota).
- Judges score contestants per criterion in the two finals. A judge never scores a
  contestant they have a conflict with (``conflict``); a closed round's scores are frozen.
- Closing a final ranks each group (``rank``: mean, trimmed mean or z-score, ties broken
  by the group's named criterion, then by first places); the top N of each street go to
  the district final, the top N there are the winners.
- Publishing the results opens the public notice; an upheld objection revokes an award
  and the next in rank moves up (``winners``). Opening the last round makes awards final:
  staff may, and a timer does once the objection period has ended with no objection
  left to decide (``operations.end_public_notices``).

The use cases that apply these rules are in ``operations``; the reads in ``views``.
"""

import math
import statistics
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from shared.errors import Conflict, InvalidInput
from shared.events.competitions import STAGES

SCORED = ("street_final", "district_final")
PER_STREET = ("street_final",)
ROUND_STATUSES = ("planned", "open", "closed")
# Ranking values are compared at this many decimals, so float noise never splits a tie.
PRECISION = 6


# --- rounds -------------------------------------------------------------------------------

def stage_index(stage: str) -> int:
    return STAGES.index(stage)


def open_problem(stage: str, status: str, earlier: list[dict]) -> str | None:
    """Why a round of ``stage`` cannot open now (None: it can). ``earlier``: the rounds of
    the edition's earlier stages, ``{"stage", "status"}`` each."""
    if status != "planned":
        return f"the round is {status}; a round opens once"
    waiting = sorted({r["stage"] for r in earlier if r["status"] != "closed"},
                     key=stage_index)
    if waiting:
        return f"the {waiting[-1]} round must close first"
    return None


def close_problem(stage: str, status: str, now: datetime, ends_at: datetime | None,
                  pending_objections: int) -> str | None:
    if status != "open":
        return f"the round is {status}; only an open round closes"
    if stage == "public_notice":
        if ends_at is not None and now < ends_at:
            return f"the objection period runs until {ends_at.isoformat()}"
        if pending_objections:
            return f"{pending_objections} objection(s) are still to be decided"
    return None


def notice_end(opened_at: datetime, days: int) -> datetime:
    return opened_at + timedelta(days=days)


# --- eligibility --------------------------------------------------------------------------

@dataclass(frozen=True)
class Nominee:
    """What eligibility looks at, gathered from the read models and the nomination."""

    worker_id: int
    enterprise_credit_code: str
    nominated_by: str
    member: dict | None  # the member read model's row
    enterprise: dict | None  # the registry read model's row
    facts: dict
    edition_year: int
    now: datetime
    major_cases: tuple = ()  # datetimes: major cases at the enterprise, not rejected


def stated_facts(nominee: Nominee) -> dict:
    facts = dict(nominee.facts)
    if "birth_year" in facts and "age" not in facts:
        facts["age"] = nominee.edition_year - facts["birth_year"]
    return facts


def check_rule(rule: dict, nominee: Nominee) -> str | None:
    """The reason ``rule`` fails for ``nominee`` (Chinese, for the nominating union), or
    None when it holds."""
    kind = rule["kind"]
    member, enterprise = nominee.member, nominee.enterprise
    if kind == "active_member":
        if member is None:
            return f"会员系统中没有工号 {nominee.worker_id} 的会员记录"
        if member["status"] != "active":
            return f"会员状态为 {member['status']}，不是在册会员"
        if member["enterprise_credit_code"] != nominee.enterprise_credit_code:
            return "会员记录的所在企业不是被推荐时填写的企业"
        return None
    if kind == "enterprise_active":
        if enterprise is None:
            return f"组织登记中没有企业 {nominee.enterprise_credit_code}"
        return None if enterprise["status"] == "active" else "企业已关闭"
    if kind == "enterprise_union":
        if enterprise is None:
            return f"组织登记中没有企业 {nominee.enterprise_credit_code}"
        if enterprise["union_status"] in ("own", "covered"):
            return None
        return "企业未建工会，也未被社区（园区）工联会覆盖"
    if kind == "nominator":
        allowed = nominating_unions(member, enterprise)
        if nominee.nominated_by in allowed:
            return None
        return (f"{nominee.nominated_by} 不是被推荐人所在企业的工会或工联会"
                f"（可推荐的组织：{'、'.join(sorted(allowed)) or '无'}）")
    if kind == "no_major_dispute":
        since = nominee.now - timedelta(days=rule["within_days"])
        recent = [at for at in nominee.major_cases if at >= since]
        if recent:
            return f"企业在 {rule['within_days']} 天内有 {len(recent)} 宗重大劳资纠纷"
        return None
    if kind == "fact":
        return _fact_problem(rule, stated_facts(nominee))
    raise AssertionError(f"validated rules have no kind {kind!r}")


def _fact_problem(rule: dict, facts: dict) -> str | None:
    name = rule["fact"]
    if name not in facts or facts[name] is None:
        return f"未填写 {name}"
    value = facts[name]
    if "equals" in rule and value != rule["equals"]:
        return f"{name} 为 {value}，须为 {rule['equals']}"
    if "min" in rule and value < rule["min"]:
        return f"{name} 为 {value}，至少须为 {rule['min']}"
    if "max" in rule and value > rule["max"]:
        return f"{name} 为 {value}，至多为 {rule['max']}"
    return None


def failed_rules(rules: list[dict], nominee: Nominee) -> list[dict]:
    """``[{"rule", "message"}]`` for every rule that fails, in the rules' order."""
    failed = []
    for rule in rules:
        problem = check_rule(rule, nominee)
        if problem is not None:
            failed.append({"rule": rule["id"], "message": f"{rule['label']}：{problem}"})
    return failed


def nominating_unions(member: dict | None, enterprise: dict | None) -> set[str]:
    """Who may nominate a worker: her union (the enterprise's own, or the federation
    covering it), and the community or park federation her enterprise is in."""
    codes = set()
    if member is not None:
        codes.add(member["union_code"])
    if enterprise is not None:
        codes.add(enterprise["community_code"])
        if enterprise.get("union_code"):
            codes.add(enterprise["union_code"])
    return codes


# --- conflicts of interest ----------------------------------------------------------------

@dataclass(frozen=True)
class Place:
    """Where a judge or a nominee belongs: their own codes (an enterprise and its own
    union, or an organization) and the organizations above them (district .. community)."""

    own: tuple
    above: tuple


def place_of(code: str, path: list, union_code: str | None = None) -> Place:
    """``path``: district .. the organization itself, or district .. an enterprise's
    community (then ``code`` is the enterprise's credit code)."""
    above = tuple(entry for entry in path if entry != code)
    own = (code,) + ((union_code,) if union_code and union_code not in above else ())
    return Place(own, above)


def conflict(judge: Place, nominee: Place, depth: int) -> str | None:
    """The conflict of interest between a judge and a contestant, or None.

    Only organizations from ``depth`` down count (3: the community): every judge sits
    somewhere under the district federation, which is nobody's conflict.
    """
    judge_above = set(judge.above[depth - 1:])
    nominee_above = set(nominee.above[depth - 1:])
    if set(judge.own) & set(nominee.own):
        return "same_enterprise"
    if set(judge.own) & nominee_above:
        return "judge_above"  # the judge's organization is over the nominee's enterprise
    if set(nominee.own) & judge_above:
        return "nominee_above"
    return None


CONFLICT_WORDING = {
    "same_enterprise": "评委与选手同属一个企业（或其工会）",
    "judge_above": "评委所在组织是选手所在企业的上级组织",
    "nominee_above": "选手所在企业是评委所在组织的上级",
    "declared": "评委自行申报回避",
}


# --- scores -------------------------------------------------------------------------------

def checked_values(criteria: list[dict], values: dict) -> dict:
    """A judge's marks, each criterion within its range, none missing, none unknown."""
    errors = {}
    known = {criterion["code"] for criterion in criteria}
    for code in sorted(set(values) - known):
        errors[code] = ["not a criterion of this group"]
    cleaned = {}
    for criterion in criteria:
        code = criterion["code"]
        value = values.get(code)
        if value is None:
            errors[code] = ["required"]
        elif isinstance(value, bool) or not isinstance(value, int | float) or \
                not math.isfinite(value):
            errors[code] = ["a number"]
        elif not criterion["min"] <= value <= criterion["max"]:
            errors[code] = [f"from {criterion['min']} to {criterion['max']}"]
        else:
            cleaned[code] = round(float(value), 2)
    if errors:
        raise InvalidInput("scores rejected", {"values": errors})
    return cleaned


def weighted_total(criteria: list[dict], values: dict) -> float:
    """Out of 100: each criterion's mark over its range, times its weight."""
    return round(sum(criterion["weight"] * (values[criterion["code"]] - criterion["min"])
                     / (criterion["max"] - criterion["min"]) for criterion in criteria), 4)


# --- ranking ------------------------------------------------------------------------------

@dataclass
class Sheet:
    """A contestant's marks in a round: ``scores`` {judge_id: (values, total)}, the
    judges kept from scoring them, ``excluded`` {judge_id: reason}, and the scores set
    aside because their judge declared a conflict after scoring, ``set_aside``
    {judge_id: total} (on record, counted nowhere)."""

    contestant_id: int
    nomination_id: int
    running_order: int
    scores: dict = field(default_factory=dict)
    excluded: dict = field(default_factory=dict)
    set_aside: dict = field(default_factory=dict)


def _key(value: float) -> float:
    return round(value, PRECISION)


def _trimmed(totals: dict, trim: int) -> tuple[dict, dict]:
    """(counted totals, dropped {judge_id: "highest" | "lowest"})."""
    if len(totals) < 2 * trim + 1:
        return dict(totals), {}
    ordered = sorted(totals, key=lambda judge: (totals[judge], judge))
    dropped = {judge: "lowest" for judge in ordered[:trim]}
    dropped.update({judge: "highest" for judge in ordered[-trim:]})
    return {judge: totals[judge] for judge in ordered if judge not in dropped}, dropped


def _z_scores(sheets: list[Sheet]) -> tuple[dict, dict]:
    """({(judge, contestant): z}, {judge: (mean, stdev, n)}) over each judge's own marks."""
    by_judge = {}
    for sheet in sheets:
        for judge, (_values, total) in sheet.scores.items():
            by_judge.setdefault(judge, {})[sheet.contestant_id] = total
    z, stats = {}, {}
    for judge, totals in by_judge.items():
        mean = statistics.fmean(totals.values())
        stdev = statistics.pstdev(totals.values()) if len(totals) > 1 else 0.0
        stats[judge] = (mean, stdev, len(totals))
        for contestant, total in totals.items():
            z[(judge, contestant)] = 0.0 if stdev == 0 else (total - mean) / stdev
    return z, stats


def rank(group: dict, sheets: list[Sheet], judges: list[int]) -> list[dict]:
    """Each contestant of a group, best first, with how its total was computed.

    ``judges``: every judge of the round. A contestant's missing marks (a conflict, or a
    judge who did not score) are left out of the average rather than counted as zero.
    """
    method = group["aggregation"]["method"]
    trim = group["aggregation"].get("trim", 1)
    tie = group["tie_criterion"]
    z, judge_stats = _z_scores(sheets) if method == "zscore" else ({}, {})
    all_totals = [total for sheet in sheets for _, total in sheet.scores.values()]
    scale = ((statistics.fmean(all_totals), statistics.pstdev(all_totals))
             if all_totals else (0.0, 0.0))
    first_places = _first_places(sheets)
    entries = []
    for sheet in sheets:
        totals = {judge: total for judge, (_, total) in sheet.scores.items()}
        if method == "trimmed_mean":
            counted, dropped = _trimmed(totals, trim)
        else:
            counted, dropped = dict(totals), {}
        if method == "zscore":
            parts = {judge: z[(judge, sheet.contestant_id)] for judge in counted}
        else:
            parts = counted
        value = statistics.fmean(parts.values()) if parts else None
        total = value
        if method == "zscore" and value is not None:
            total = scale[0] + scale[1] * value  # back on the 100 scale, for reading
        tie_value = (statistics.fmean(sheet.scores[judge][0][tie] for judge in counted)
                     if counted else None)
        entries.append({
            "contestant_id": sheet.contestant_id, "nomination_id": sheet.nomination_id,
            "running_order": sheet.running_order, "method": method,
            "value": None if value is None else round(value, 4),
            "total": None if total is None else round(total, 4),
            "tie_criterion": tie,
            "tie_value": None if tie_value is None else round(tie_value, 4),
            "first_places": first_places.get(sheet.contestant_id, 0),
            "judges": _judge_lines(sheet, judges, counted, dropped, z, judge_stats),
            "computation": _computation(method, trim, counted, parts, dropped, sheet,
                                        judges, value, total, scale),
        })
    return _ordered(entries)


def _first_places(sheets: list[Sheet]) -> dict:
    """{contestant: how many judges gave them their highest total in the group}."""
    best = {}
    for sheet in sheets:
        for judge, (_, total) in sheet.scores.items():
            if judge not in best or _key(total) > best[judge][0]:
                best[judge] = (_key(total), [sheet.contestant_id])
            elif _key(total) == best[judge][0]:
                best[judge][1].append(sheet.contestant_id)
    counts = {}
    for _, contestants in best.values():
        for contestant in contestants:
            counts[contestant] = counts.get(contestant, 0) + 1
    return counts


def _ordered(entries: list[dict]) -> list[dict]:
    def sort_key(entry):
        return (entry["value"] is None, -_key(entry["value"] or 0.0),
                -_key(entry["tie_value"] or 0.0), -entry["first_places"],
                entry["running_order"])

    ordered = sorted(entries, key=sort_key)
    for position, entry in enumerate(ordered, start=1):
        entry["rank"] = position
        entry["tie_break"] = None
        if position > 1:
            above = ordered[position - 2]
            if entry["value"] is not None and above["value"] is not None and \
                    _key(entry["value"]) == _key(above["value"]):
                entry["tie_break"] = above["tie_break_with"] = _tie_reason(above, entry)
        entry.setdefault("tie_break_with", None)
    for entry in ordered:
        entry.pop("tie_break_with", None)
    return ordered


def _tie_reason(above: dict, below: dict) -> str:
    if _key(above["tie_value"] or 0) != _key(below["tie_value"] or 0):
        return (f"total tied at {above['value']}: broken by {above['tie_criterion']} "
                f"({above['tie_value']} over {below['tie_value']})")
    if above["first_places"] != below["first_places"]:
        return (f"total and {above['tie_criterion']} tied: broken by first places "
                f"({above['first_places']} over {below['first_places']})")
    return "tied on total, tie criterion and first places: running order decides"


def _judge_lines(sheet, judges, counted, dropped, z, judge_stats) -> list[dict]:
    lines = []
    for judge in judges:
        line = {"judge_id": judge, "total": None, "counted": judge in counted, "note": None}
        if judge in sheet.excluded:
            line["note"] = f"excluded: {sheet.excluded[judge]}"
            if judge in sheet.set_aside:
                line["note"] += f" (score {sheet.set_aside[judge]} set aside)"
        elif judge not in sheet.scores:
            line["note"] = "no score"
        else:
            line["total"] = sheet.scores[judge][1]
            if judge in dropped:
                line["note"] = f"dropped: {dropped[judge]}"
            if (judge, sheet.contestant_id) in z:
                mean, stdev, n = judge_stats[judge]
                line["z"] = round(z[(judge, sheet.contestant_id)], 4)
                line["note"] = (line["note"] or "") + \
                    f"z = ({line['total']} - {mean:.4f}) / {stdev:.4f} over {n} marks"
        lines.append(line)
    return lines


def _computation(method, trim, counted, parts, dropped, sheet, judges, value, total,
                 scale) -> str:
    missing = [judge for judge in judges if judge not in sheet.scores]
    excluded = [judge for judge in missing if judge in sheet.excluded]
    said = [f"{len(sheet.scores)} of {len(judges)} judges scored"]
    if excluded:
        aside = [judge for judge in excluded if judge in sheet.set_aside]
        said.append(f"{len(excluded)} excluded for a conflict of interest" +
                    (f" ({len(aside)} score(s) given before the declaration set aside)"
                     if aside else ""))
    if len(missing) > len(excluded):
        said.append(f"{len(missing) - len(excluded)} gave no score")
    if value is None:
        return "; ".join(said) + ": no total"
    figures = " + ".join(f"{parts[judge]:.4f}" for judge in sorted(parts))
    if method == "trimmed_mean":
        if dropped:
            low = [sheet.scores[j][1] for j, side in dropped.items() if side == "lowest"]
            high = [sheet.scores[j][1] for j, side in dropped.items() if side == "highest"]
            said.append(f"highest {high} and lowest {low} dropped ({trim} each)")
        else:
            said.append(f"too few scores to drop {trim} each side: plain mean")
    head = "; ".join(said)
    if method == "zscore":
        return (f"{head}; mean of each judge's z-score: ({figures}) / {len(parts)} = "
                f"{value:.4f}; on the 100 scale {scale[0]:.4f} + {scale[1]:.4f} x "
                f"{value:.4f} = {total:.4f}")
    return f"{head}; ({figures}) / {len(parts)} = {value:.4f}"


def advancing(ranking: list[dict], quota: int | None, removed: set = frozenset()) -> list[int]:
    """The nomination ids that go on: the first ``quota`` with a total, skipping
    ``removed`` ones (disqualified, revoked)."""
    eligible = [entry["nomination_id"] for entry in ranking
                if entry["value"] is not None and entry["nomination_id"] not in removed]
    return eligible if quota is None else eligible[:quota]


def winners(ranking: list[dict], quota: int, removed: set = frozenset()) -> list[tuple]:
    """``[(nomination_id, award rank)]``: an upheld objection or a disqualification
    removes one, and everyone below moves up one place, the next in line into the quota."""
    return [(nomination, position) for position, nomination in
            enumerate(advancing(ranking, quota, removed), start=1)]


def require_stage(stage: str, expected: tuple, what: str) -> None:
    if stage not in expected:
        raise Conflict(f"{what} happens in a {' or '.join(expected)} round, not in {stage}")
