"""What competitions keeps of other services' events, and what those events change.

- The registry's organizations and enterprises (``shared.registry_readmodel``): where a
  nominee works, whether her enterprise has a union (own or a federation's cover), where
  a judge belongs.
- Members (``shared.membership_readmodel``): whether a nominee is an active member.
- Disputes' cases, by grade: a case graded major (重大事项) at a nominee's enterprise.

An open nomination (its edition's awards not final yet) whose standing such an event
changes is flagged for review with the reason (``flag``), never dropped: the nominee left
the union, her enterprise got a major case, lost its union or closed.
"""

from datetime import datetime

from sqlalchemy import insert, select, update

from services.competitions.models import (
    dispute_cases,
    editions,
    enterprises,
    flags,
    members,
    nominations,
    organizations,
    rounds,
)
from shared.membership_readmodel import MembershipReadModel
from shared.registry_readmodel import RegistryReadModel
from shared.timeutil import as_utc

registry = RegistryReadModel(organizations, enterprises)
memberships = MembershipReadModel(members)

MEMBER_WORDING = {"left": "已退会", "lapsed": "会籍已失效", "transferred": "已转到其他工会",
                  "rejected": "入会申请被驳回", "pending": "入会申请待审批"}


def event_time(event) -> datetime:
    return datetime.fromisoformat(event.time)


# --- applying events ----------------------------------------------------------------------

def apply_membership(uow, data: dict, as_of: datetime, now: datetime) -> None:
    change = memberships.apply_membership(uow.session, data, as_of)
    if change is not None and change.left_active:
        _member_left(uow, change.new, data.get("reason"), now)


def apply_memberships_lapsed(uow, data: dict, as_of: datetime, now: datetime) -> None:
    for change in memberships.apply_lapsed(uow.session, data, as_of):
        _member_left(uow, change.new, data["reason"], now)


def _member_left(uow, member: dict, reason: str | None, now: datetime) -> None:
    wording = MEMBER_WORDING.get(member["status"], member["status"])
    if member["status"] == "active":
        wording = "已转到其他工会"
    text = f"被推荐人{wording}" + (f"（{reason}）" if reason else "")
    for nomination in open_nominations(uow.session, nominations.c.worker_id ==
                                       member["worker_id"]):
        flag(uow, nomination, "member_left", text, now)


def apply_case(uow, data: dict, as_of: datetime, now: datetime) -> None:
    """A case opened, regraded or moved on: its grade and status; a major grade at a
    nominee's enterprise flags her nomination."""
    session = uow.session
    case_id = data["case_id"]
    credit_code = data["enterprise"].get("credit_code")
    old = session.execute(select(dispute_cases).where(
        dispute_cases.c.case_id == case_id)).first()
    values = {"credit_code": credit_code, "grade": data["grade"],
              "status": data.get("status", old.status if old else "reported"),
              "as_of": as_of}
    if old is None:
        session.execute(insert(dispute_cases).values(
            case_id=case_id, reported_at=data.get("reported_at") or as_of, **values))
    elif old.as_of is None or as_of is None or as_utc(old.as_of) <= as_of:
        session.execute(update(dispute_cases).where(dispute_cases.c.case_id == case_id)
                        .values(**values))
    else:
        return
    became_major = data["grade"] == "major" and (old is None or old.grade != "major")
    if became_major and credit_code:
        for nomination in open_nominations(session, nominations.c.enterprise_credit_code ==
                                           credit_code):
            flag(uow, nomination, "major_dispute",
                 f"所在企业的劳资纠纷（案件 {case_id}）被定为重大事项", now)


def enterprise_changed(uow, change, now: datetime) -> None:
    """A registry snapshot of an enterprise: losing its union or closing flags the open
    nominations of its workers."""
    old, new = change.old or {}, change.new
    reasons = []
    if new["union_status"] == "none" and old.get("union_status") in ("own", "covered"):
        reasons.append(("union_lost", "所在企业已不再有工会，也无工联会覆盖"))
    if new["status"] == "closed" and old.get("status") == "active":
        reasons.append(("enterprise_closed", "所在企业已关闭"))
    for code, text in reasons:
        for nomination in open_nominations(uow.session, nominations.c.enterprise_credit_code
                                           == new["credit_code"]):
            flag(uow, nomination, code, text, now)


# --- flags --------------------------------------------------------------------------------

def open_nominations(session, where) -> list[dict]:
    """Qualified nominations matching ``where`` in editions whose awards are not final."""
    finished = select(rounds.c.edition_id).where(rounds.c.stage == "awarded",
                                                 rounds.c.status != "planned")
    rows = session.execute(select(nominations).join(
        editions, editions.c.id == nominations.c.edition_id).where(
        where, nominations.c.status == "qualified",
        nominations.c.edition_id.not_in(finished))).all()
    return [dict(row._mapping) for row in rows]


def flag(uow, nomination: dict, reason_code: str, reason: str, now: datetime) -> int | None:
    """Put a nomination up for review; the same open reason twice is one flag."""
    session = uow.session
    same = session.execute(select(flags.c.id).where(
        flags.c.nomination_id == nomination["id"], flags.c.reason_code == reason_code,
        flags.c.reason == reason, flags.c.resolved_at.is_(None))).first()
    if same:
        return None
    flag_id = session.execute(insert(flags).values(
        nomination_id=nomination["id"], reason_code=reason_code, reason=reason,
        flagged_at=now).returning(flags.c.id)).scalar_one()
    uow.publish("nomination_flagged", {
        "nomination_id": nomination["id"], "edition_id": nomination["edition_id"],
        "worker_id": nomination["worker_id"], "flag_id": flag_id,
        "reason_code": reason_code, "reason": reason}, subject=nomination["id"])
    return flag_id


def major_cases(session, credit_code: str) -> tuple:
    """When each case graded major at an enterprise was reported (rejected ones aside)."""
    rows = session.execute(select(dispute_cases.c.reported_at).where(
        dispute_cases.c.credit_code == credit_code, dispute_cases.c.grade == "major",
        dispute_cases.c.status != "rejected")).scalars()
    return tuple(as_utc(at) for at in rows)
