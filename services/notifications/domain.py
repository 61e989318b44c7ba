"""Who must hear of a dispute case, when, and what they are told: the rules, as plain
functions of the policy (``policy.py``), the case and its chain (``readmodel.chain``).

No SQL and no nameko here: ``operations.py`` reads the rows, asks these functions, and
writes what they decide. Time is always passed in (``now``), so the rules are tested
without waiting.

The rules (numbers and tiers come from the policy):

- A new case notifies, at once, the recipients its grade names along the chain of the
  enterprise's place (community/park union, street, district, each with its party
  organization), and a key enterprise's assigned leader.
- The case must be acknowledged within its grade's deadline, counted from the last time
  it went up the chain. Reminders go out at the policy's fractions of the deadline. At the
  deadline it escalates to the next tier above the highest one told; at the top of the
  chain it keeps reminding a set number of times.
- The first acknowledgement (by any notified recipient) stops escalation and reminders;
  so does the case being rejected, resolved or closed.
- A regrade notifies whoever the new grade adds and restarts the clock with the new
  grade's deadline. Nobody is ever notified of the same case twice.
"""

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from shared.timeutil import as_utc, rfc3339

TERMINAL_STATUSES = ("rejected", "resolved", "closed")
MAX_DEADLINE_ATTEMPTS = 5  # a deadline whose firing keeps raising is given up after these

CATEGORY_LABELS = {
    "unpaid_wages": "欠薪", "unpaid_social_insurance": "欠缴社保", "relocation": "搬迁",
    "closure": "关停", "supplier_blockade": "供应商围堵", "boss_absconded": "老板走逃",
    "collective_petition": "集体上访", "other": "其他",
}
KIND_LABELS = {"union": "工会", "party": "党组织", "leader": "挂点领导"}


def new_id() -> str:
    return uuid.uuid4().hex


@dataclass(frozen=True)
class Recipient:
    organization_code: str
    kind: str  # union, party, leader
    tier: str | None
    name: str | None
    rule: str  # the policy rule that made them hear
    webhooks: tuple = ()


def case_values(data: dict) -> dict:
    """The columns of a case taken from a disputes case event."""
    enterprise = {key: (list(value) if isinstance(value, tuple) else value)
                  for key, value in dict(data["enterprise"]).items()}
    return {
        "grade": data["grade"], "grade_rule": data.get("grade_rule"),
        "category": data.get("category"), "workers_affected": data.get("workers_affected"),
        "amount_owed": data.get("amount_owed"), "expected_at": data.get("expected_at"),
        "enterprise": enterprise,
    }


def new_case(case_id: str, data: dict, now: datetime) -> dict:
    """The row of a case heard of for the first time: nobody told yet."""
    return {"case_id": case_id, "status": "reported", "received_at": now,
            "policy_version": None, "top_tier": None, "notified_at": None,
            "acknowledged_at": None, "acknowledged_by": None, **case_values(data)}


def is_moot(case) -> bool:
    """A deadline of this case (None: no row) has nothing left to do."""
    return (case is None or case.acknowledged_at is not None
            or case.status in TERMINAL_STATUSES)


# --- who hears ---------------------------------------------------------------------------

def chain_recipient(link, kind: str, rule: str) -> Recipient:
    """The union (or the party organization leading it) at one link of the chain."""
    return Recipient(link.code, kind, link.tier, link.label(kind), rule, link.webhooks)


def wants_leader(policy, case) -> bool:
    """Does the case's grade tell a key enterprise's leader, and has it an enterprise?"""
    return policy.leader_hears(case.grade) and bool(case.enterprise.get("credit_code"))


def recipients_at_once(policy, grade: str, chain, leader=None) -> list[Recipient]:
    """Everyone ``grade`` tells at once along ``chain`` (links bottom up), and ``leader``
    (the key enterprise's assigned leader, when there is one to tell)."""
    recipients = [chain_recipient(link, kind, rule)
                  for link in chain if link.tier in policy.ladder
                  for kind, rule in policy.at_once(grade, link.tier)]
    if leader is not None:
        recipients.append(Recipient(
            leader.enterprise_code, "leader", None, leader.name,
            f"policy {policy.version}: {grade} notifies a key enterprise's assigned leader"))
    return recipients


def told_values(policy, case, recipients, now: datetime) -> dict:
    """The case columns that change once ``recipients`` are told: the policy applied,
    the highest tier told so far, when it was first told."""
    tiers = [r.tier for r in recipients if r.tier] + [case.top_tier] * bool(case.top_tier)
    values = {"policy_version": policy.version}
    if tiers:
        values["top_tier"] = max(tiers, key=policy.rank)
    if case.notified_at is None:
        values["notified_at"] = now
    return values


# --- deadlines and escalation ------------------------------------------------------------

def acknowledge_by(policy, grade: str, start: datetime) -> datetime:
    return start + timedelta(seconds=policy.rules(grade).acknowledge_within)


def tier_deadlines(policy, grade: str, tier: str, start: datetime) -> list[dict]:
    """The reminders and the escalation of ``tier``'s time, counted from ``start``."""
    rules = policy.rules(grade)
    deadlines = [{"kind": "remind", "tier": tier,
                  "due_at": start + timedelta(seconds=fraction * rules.acknowledge_within),
                  "note": f"{fraction:.0%} of the deadline"}
                 for fraction in rules.remind_at]
    deadlines.append({"kind": "escalate", "tier": tier,
                      "due_at": acknowledge_by(policy, grade, start), "note": None})
    return deadlines


def top_of_chain_reminders(policy, tier: str, now: datetime) -> list[dict]:
    """Nowhere higher to go: the reminders that keep coming instead."""
    return [{"kind": "remind", "tier": tier,
             "due_at": now + timedelta(seconds=n * policy.top_remind_every),
             "note": "top of chain"}
            for n in range(1, policy.top_reminders + 1)]


def next_link_up(policy, chain, tier: str | None):
    """The first link of ``chain`` above ``tier`` on the ladder; None at the top."""
    above = [link for link in chain
             if link.tier in policy.ladder and policy.rank(link.tier) > policy.rank(tier)]
    return above[0] if above else None


def escalation_reason(policy, grade: str, tier: str | None) -> str:
    rules = policy.rules(grade)
    return f"no acknowledgement within {rules.acknowledge_within:g}s ({rules.label}) at {tier}"


def postponement(attempts: int, now: datetime) -> dict:
    """A deadline whose firing raised for the ``attempts``-th time: try again shortly
    (2, 4, 8... seconds), give up after ``MAX_DEADLINE_ATTEMPTS``."""
    if attempts >= MAX_DEADLINE_ATTEMPTS:
        return {"state": "failed", "fired_at": now}
    return {"due_at": now + timedelta(seconds=2 ** attempts)}


def delivery_outcome(policy, attempts: int, error: str | None, now: datetime
                     ) -> tuple[str, dict]:
    """After the ``attempts``-th send of a delivery (``error`` None: it worked): the audit
    action and the delivery's new columns (delivered, retry later, or failed for good)."""
    delays = policy.webhook_retry_delays
    if error is None:
        return "delivered", {"status": "delivered", "finished_at": now}
    if attempts <= len(delays):
        return "delivery_retry", {
            "next_attempt_at": now + timedelta(seconds=delays[attempts - 1]),
            "claimed_until": None, "claimed_by": None}
    return "delivery_failed", {"status": "failed", "finished_at": now}


# --- what they are told ------------------------------------------------------------------

def message(policy, case, recipient: Recipient, message_kind: str, due_at) -> dict:
    """The notice or reminder as every channel sends it (the inbox stores it, a webhook
    POSTs it)."""
    label = policy.rules(case.grade).label
    enterprise = case.enterprise
    category = CATEGORY_LABELS.get(case.category, case.category or "")
    prefix = "【催办】" if message_kind == "reminder" else ""
    title = (f"{prefix}【{label}】{enterprise.get('name')}：{category}，"
             f"涉及职工{case.workers_affected or 0}人，请于{local_time(due_at)}前签收")
    return {
        "kind": message_kind,
        "title": title,
        "case": {
            "case_id": case.case_id, "grade": case.grade, "grade_label": label,
            "category": case.category, "category_label": category,
            "workers_affected": case.workers_affected, "amount_owed": case.amount_owed,
            "expected_at": rfc3339(case.expected_at),
            "enterprise": {key: enterprise.get(key)
                           for key in ("credit_code", "name", "address", "community_code")},
        },
        "recipient": {"organization_code": recipient.organization_code,
                      "kind": recipient.kind, "kind_label": KIND_LABELS[recipient.kind],
                      "tier": recipient.tier, "name": recipient.name},
        "rule": recipient.rule,
        "acknowledge_by": rfc3339(due_at),
    }


def local_time(value) -> str:
    # Shenzhen is UTC+8 all year; labels for people read local time.
    return (as_utc(value) + timedelta(hours=8)).strftime("%Y-%m-%d %H:%M") if value \
        else "尽快"


def sent_event(case, notification_id, organization_code, kind, tier, channel, delivered,
               message_kind, now) -> dict:
    """The data of a ``notification_sent`` event."""
    return {"case_id": case.case_id, "organization_code": organization_code,
            "recipient_kind": kind, "channel": channel, "tier": tier, "delivered": delivered,
            "notification_id": notification_id, "kind": message_kind, "grade": case.grade,
            "at": now}


def acknowledgement(case, notification, already=False) -> dict:
    """What acknowledging answers: who signed for whom, and who stopped the escalation."""
    return {
        "case_id": case.case_id, "organization_code": notification.organization_code,
        "recipient_kind": notification.recipient_kind, "tier": notification.tier,
        "acknowledged_at": as_utc(notification.acknowledged_at),
        "acknowledged_by": notification.acknowledged_by,
        "case_acknowledged_by": case.acknowledged_by, "already_acknowledged": already,
    }


# --- the incubation hub's reminders ---------------------------------------------------

def incubation_reminder(data: dict) -> tuple[str, str, dict]:
    """(subject, title, message) of the reminder the hub's staff get when an incubated
    organization's incubation period nears its end (incubation's
    ``incubation_deadline_approaching``). The subject names the period, so one period is
    reminded of once; the district federation that runs the hub (the first place on the
    organization's path) is told."""
    deadline = str(data["incubation_deadline"])  # ISO 8601, a date or its text
    subject = f"incubation:{data['organization_id']}:{deadline}"
    title = (f"【孵化期提醒】{data['name']}的孵化期将于{deadline}届满"
             f"（剩{data['days_left']}天），请安排评估或出壳")
    message = {"kind": "reminder", "incubation": {
        "organization_id": data["organization_id"], "name": data["name"],
        "stage": data["stage"], "incubation_deadline": deadline,
        "days_left": data["days_left"], "home_path": list(data["home_path"])}}
    return subject, title, message
