"""Telling a case's chain, reminding and escalating (operations.Notifier) on a real
database (SQLite and PostgreSQL), time passed in."""

import pytest

from services.notifications import views
from shared.errors import NotFound
from shared.testing import outbox_envelopes
from shared.timeutil import as_utc
from tests.notifications.conftest import (
    COMMUNITY,
    DISTRICT,
    KEY_ENTERPRISE,
    STREET,
    STREET_STAFF,
    T0,
    later,
    opened,
    regraded,
    status_changed,
)

DAY = 86400  # the shipped policy: a routine case has a day to be acknowledged


def run(database, method, *args, **kwargs):
    with database.unit_of_work() as uow:
        return method(uow, *args, **kwargs)


def told(database, case_id="case-1"):
    with database.session() as session:
        page = views.case_notifications(session, case_id)
    return {(n["organization_code"], n["recipient_kind"]) for n in page["items"]}


def inbox(database, code, kind="union"):
    with database.session() as session:
        return views.inbox(session, code, recipient_kind=kind)["items"]


def audit(database, case_id="case-1"):
    with database.session() as session:
        return views.case_audit(session, case_id)["items"]


def fire(database, notifier, at, holder="replica-a"):
    return run(database, notifier.fire_due_deadlines, at, holder)


def published(database, type_=None):
    return [b["data"] for b in outbox_envelopes(database) if type_ is None or b["type"] == type_]


def test_a_routine_case_notifies_the_community_union_only(chain, notifier):
    run(chain, notifier.open_case, opened(grade="routine"), T0)
    assert told(chain) == {(COMMUNITY, "union")}
    messages = inbox(chain, COMMUNITY)
    assert len(messages) == 1
    assert messages[0]["title"].startswith("【一般】南坑某五金厂：欠薪，涉及职工120人")
    sent = published(chain, "notification_sent")
    assert [(s["organization_code"], s["channel"], s["tier"], s["delivered"]) for s in sent] == [
        (COMMUNITY, "inbox", "community", True)]


def test_a_major_matter_reaches_every_party_committee_of_the_chain_at_once(chain, notifier):
    run(chain, notifier.open_case, opened(grade="major"), T0)
    assert told(chain) == {(code, kind) for code in (COMMUNITY, STREET, DISTRICT)
                           for kind in ("union", "party")}
    with chain.session() as session:
        view = views.case_escalation(session, "case-1")
        notified = views.case_notifications(session, "case-1")["items"]
    party = inbox(chain, DISTRICT, "party")
    names = {n["name"] for n in notified if n["recipient_kind"] == "party"}
    assert names == {"中共龙岗区委", "坂田街道党工委", "南坑社区综合党委"}
    assert "重大事项" in party[0]["title"]
    assert view["top_tier"] == "district"


def test_a_key_enterprise_s_assigned_leader_hears_of_its_cases(chain, notifier):
    run(chain, notifier.open_case, opened(grade="routine", key_enterprise=True), T0)
    assert (KEY_ENTERPRISE["credit_code"], "leader") in told(chain)
    [message] = inbox(chain, KEY_ENTERPRISE["credit_code"], "leader")
    assert message["message"]["recipient"]["name"] == "李挂点"


def test_with_no_acknowledgement_a_case_climbs_to_the_street_then_the_district(chain, notifier):
    run(chain, notifier.open_case, opened(grade="routine"), T0)
    assert [f["outcome"] for f in fire(chain, notifier, later(DAY - 1))] == ["reminded"]
    assert told(chain) == {(COMMUNITY, "union")}

    fired = fire(chain, notifier, later(DAY))
    assert [f["outcome"] for f in fired] == ["escalated"]
    assert told(chain) == {(COMMUNITY, "union"), (STREET, "union")}

    assert [f["outcome"] for f in fire(chain, notifier, later(2 * DAY))] == ["reminded",
                                                                             "escalated"]
    assert told(chain) == {(COMMUNITY, "union"), (STREET, "union"), (DISTRICT, "union")}
    escalations = published(chain, "case_escalated")
    assert [(e["from_tier"], e["to_tier"]) for e in escalations] == [
        ("community", "street"), ("street", "district")]
    assert escalations[0]["reason"] == "no acknowledgement within 86400s (一般) at community"


def test_reminders_go_to_everyone_who_has_not_acknowledged(chain, notifier):
    run(chain, notifier.open_case, opened(grade="urgent"), T0)  # community + street at once
    fired = fire(chain, notifier, later(3600))  # half of the urgent grade's two hours
    assert [f["outcome"] for f in fired] == ["reminded"]
    community = inbox(chain, COMMUNITY)
    street = inbox(chain, STREET)
    assert [m["kind"] for m in community] == ["notice", "reminder"]
    assert [m["kind"] for m in street] == ["notice", "reminder"]
    assert community[1]["title"].startswith("【催办】【紧急】")


def test_at_the_top_of_the_chain_the_case_is_reminded_a_set_number_of_times(chain, notifier):
    run(chain, notifier.open_case, opened(grade="major"), T0)  # everyone told at once
    outcomes = [f["outcome"] for hour in range(1, 10)
                for f in fire(chain, notifier, later(hour * 3600))]
    # half-time reminder, deadline at the district (nowhere higher), then 3 hourly reminders
    assert outcomes == ["reminded", "exhausted", "reminded", "reminded", "reminded"]
    entries = audit(chain)
    [exhausted] = [e for e in entries if e["action"] == "escalation_exhausted"]
    assert exhausted["tier"] == "district"
    assert published(chain, "case_escalated") == []


def test_a_regrade_to_major_tells_the_party_committees_and_nobody_twice(chain, notifier):
    run(chain, notifier.open_case, opened(grade="routine"), T0)
    run(chain, notifier.regrade_case, regraded(grade="major"), later(600))
    assert told(chain) == {(code, kind) for code in (COMMUNITY, STREET, DISTRICT)
                           for kind in ("union", "party")}
    assert len(inbox(chain, COMMUNITY)) == 1  # not told again
    with chain.session() as session:
        view = views.case_escalation(session, "case-1")
    # the clock restarted with the major grade's hour
    assert max(as_utc(d["due_at"]) for d in view["open_deadlines"]) == later(600 + 3600)


def test_a_regrade_arriving_before_the_opening_opens_the_case_once(chain, notifier):
    run(chain, notifier.regrade_case, regraded(grade="serious", previous_grade="routine"), T0)
    run(chain, notifier.open_case, opened(grade="routine"), later(1))
    assert told(chain) == {(COMMUNITY, "union"), (COMMUNITY, "party")}
    with chain.session() as session:
        assert views.case_escalation(session, "case-1")["grade"] == "serious"
    assert len(published(chain, "notification_sent")) == 2


def test_a_rejected_case_stops_escalating(chain, notifier):
    run(chain, notifier.open_case, opened(grade="routine"), T0)
    run(chain, notifier.change_status, status_changed(status="rejected"), later(60))
    assert fire(chain, notifier, later(10 * DAY)) == []
    actions = [e["action"] for e in audit(chain)]
    assert actions[-2:] == ["status_changed", "escalation_stopped"]


def test_a_case_rejected_before_its_opening_arrives_notifies_nobody(chain, notifier):
    run(chain, notifier.change_status, status_changed(status="rejected"), T0)
    run(chain, notifier.open_case, opened(grade="major"), later(1))
    assert told(chain) == set()
    assert published(chain, "notification_sent") == []


def test_a_deadline_claimed_by_one_replica_is_not_fired_by_another(chain, notifier):
    run(chain, notifier.open_case, opened(grade="routine"), T0)
    first = fire(chain, notifier, later(DAY), holder="replica-a")
    second = fire(chain, notifier, later(DAY), holder="replica-b")
    assert len(first) == 2 and second == []
    assert told(chain) == {(COMMUNITY, "union"), (STREET, "union")}


def test_the_audit_says_who_was_told_how_and_what_escalated_why(chain, notifier):
    run(chain, notifier.open_case, opened(grade="routine"), T0)
    fire(chain, notifier, later(DAY))
    run(chain, notifier.acknowledge, "case-1", STREET, "union", STREET_STAFF, later(DAY + 60))
    entries = audit(chain)
    summary = [(e["action"], e["organization_code"], e["channel"]) for e in entries]
    assert summary == [
        ("case_received", None, None),
        ("notified", COMMUNITY, None),
        ("delivered", COMMUNITY, "inbox"),
        ("reminded", COMMUNITY, None),
        ("delivered", COMMUNITY, "inbox"),
        ("notified", STREET, None),
        ("delivered", STREET, "inbox"),
        ("escalated", None, None),
        ("acknowledged", STREET, None),
        ("escalation_stopped", None, None),
    ]
    notified = entries[1]
    assert notified["detail"]["rule"] == "policy 2015-01: routine notifies union at community"
    assert entries[7]["detail"]["why"].startswith("no acknowledgement within 86400s")
    assert entries[8]["detail"]["by"] == "陈部长"
    with pytest.raises(NotFound):
        audit(chain, "no-such-case")


