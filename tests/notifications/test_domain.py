"""The rules, without a database: who hears at once, deadlines, escalation steps,
delivery retries and what the messages say."""

from datetime import timedelta
from types import SimpleNamespace

from services.notifications import domain
from services.notifications.policy import Policy
from services.notifications.readmodel import Leader, Link
from tests.notifications.conftest import COMMUNITY, DISTRICT, STREET, T0

POLICY = Policy.load()
CHAIN = [Link("community", COMMUNITY, "南坑社区工联会", "南坑社区综合党委"),
         Link("street", STREET, "坂田街道总工会", "坂田街道党工委",
              webhooks=("http://bantian.example/hook",)),
         Link("district", DISTRICT, "龙岗区总工会", "中共龙岗区委")]


def case(grade="routine", top_tier=None, **changes):
    values = dict(domain.new_case("case-1", {
        "grade": grade, "grade_rule": None, "category": "unpaid_wages",
        "workers_affected": 120, "amount_owed": "860000.00", "expected_at": None,
        "enterprise": {"credit_code": None, "name": "南坑某五金厂", "address": "南坑社区",
                       "community_code": COMMUNITY, "path": [DISTRICT, STREET, COMMUNITY],
                       "key_enterprise": False}}, T0), top_tier=top_tier)
    values.update(changes)
    return SimpleNamespace(**values)


def test_a_grade_tells_its_tiers_at_once_and_a_leader_when_there_is_one():
    routine = domain.recipients_at_once(POLICY, "routine", CHAIN)
    assert [(r.organization_code, r.kind, r.name) for r in routine] == [
        (COMMUNITY, "union", "南坑社区工联会")]
    leader = Leader("91440300MA5NANKENG", "李挂点", "坂田街道副主任")
    urgent = domain.recipients_at_once(POLICY, "urgent", CHAIN, leader)
    assert [(r.organization_code, r.kind, r.tier) for r in urgent] == [
        (COMMUNITY, "union", "community"), (COMMUNITY, "party", "community"),
        (STREET, "union", "street"), ("91440300MA5NANKENG", "leader", None)]
    assert urgent[2].webhooks == ("http://bantian.example/hook",)
    assert urgent[1].name == "南坑社区综合党委"  # the party organization leading the union


def test_telling_records_the_highest_tier_and_the_first_time_only():
    told = domain.recipients_at_once(POLICY, "urgent", CHAIN)
    values = domain.told_values(POLICY, case("urgent"), told, T0)
    assert values == {"policy_version": "2015-01", "top_tier": "street", "notified_at": T0}
    again = domain.told_values(POLICY, case("urgent", top_tier="district", notified_at=T0),
                               told, T0 + timedelta(1))
    assert again == {"policy_version": "2015-01", "top_tier": "district"}


def test_each_tier_gets_its_reminders_and_an_escalation_counted_from_the_start():
    deadlines = domain.tier_deadlines(POLICY, "urgent", "street", T0)
    assert [(d["kind"], d["due_at"] - T0, d["note"]) for d in deadlines] == [
        ("remind", timedelta(hours=1), "50% of the deadline"),
        ("escalate", timedelta(hours=2), None)]
    top = domain.top_of_chain_reminders(POLICY, "district", T0)
    assert [d["due_at"] - T0 for d in top] == [timedelta(hours=n) for n in (1, 2, 3)]


def test_a_case_climbs_one_tier_at_a_time_until_the_top():
    assert domain.next_link_up(POLICY, CHAIN, "community").code == STREET
    assert domain.next_link_up(POLICY, CHAIN, "street").code == DISTRICT
    assert domain.next_link_up(POLICY, CHAIN, "district") is None
    assert domain.escalation_reason(POLICY, "major", "street") == (
        "no acknowledgement within 3600s (重大事项) at street")


def test_an_acknowledged_or_closed_case_has_no_deadline_left_to_fire():
    assert domain.is_moot(None)
    assert domain.is_moot(case(acknowledged_at=T0))
    assert domain.is_moot(case(status="resolved"))
    assert not domain.is_moot(case())


def test_a_failing_delivery_is_retried_by_the_policy_then_given_up():
    delays = POLICY.webhook_retry_delays
    assert domain.delivery_outcome(POLICY, 1, None, T0) == (
        "delivered", {"status": "delivered", "finished_at": T0})
    action, values = domain.delivery_outcome(POLICY, 1, "HTTP 503", T0)
    assert (action, values["next_attempt_at"]) == (
        "delivery_retry", T0 + timedelta(seconds=delays[0]))
    assert domain.delivery_outcome(POLICY, len(delays) + 1, "HTTP 503", T0)[0] == (
        "delivery_failed")


def test_a_deadline_that_keeps_failing_is_postponed_then_given_up():
    assert domain.postponement(1, T0) == {"due_at": T0 + timedelta(seconds=2)}
    assert domain.postponement(domain.MAX_DEADLINE_ATTEMPTS, T0) == {
        "state": "failed", "fired_at": T0}


def test_a_reminder_says_so_and_gives_the_deadline_in_shenzhen_time():
    [recipient] = domain.recipients_at_once(POLICY, "routine", CHAIN)
    message = domain.message(POLICY, case(), recipient, "reminder", T0 + timedelta(days=1))
    assert message["title"] == (
        "【催办】【一般】南坑某五金厂：欠薪，涉及职工120人，请于2015-06-02 09:00前签收")
    assert message["acknowledge_by"] == "2015-06-02T01:00:00+00:00"
    assert message["recipient"]["kind_label"] == "工会"
