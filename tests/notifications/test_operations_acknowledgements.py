"""Acknowledging a case (签收) on a real database (SQLite and PostgreSQL): who may, what it
stops, and that it happens once."""

import pytest

from services.notifications import views
from shared.caller import Caller
from shared.errors import Forbidden, NotFound
from shared.testing import outbox_envelopes
from shared.timeutil import as_utc
from tests.notifications.conftest import (
    COMMUNITY,
    COMMUNITY_STAFF,
    COMMUNITY_VIEWER,
    DISTRICT,
    DISTRICT_STAFF,
    STREET,
    T0,
    later,
    opened,
)

DAY = 86400


def run(database, method, *args, **kwargs):
    with database.unit_of_work() as uow:
        return method(uow, *args, **kwargs)


def acknowledge(database, notifier, organization_code, caller, at, kind="union",
                case_id="case-1"):
    return run(database, notifier.acknowledge, case_id, organization_code, kind, caller, at)


def published(database, type_):
    return [b["data"] for b in outbox_envelopes(database) if b["type"] == type_]


def test_acknowledging_stops_escalation_and_reminders(chain, notifier):
    run(chain, notifier.open_case, opened(grade="routine"), T0)
    result = acknowledge(chain, notifier, COMMUNITY, COMMUNITY_STAFF, later(60))
    assert result["acknowledged_by"] == "王主席"  # the caller's name: who signed
    assert run(chain, notifier.fire_due_deadlines, later(10 * DAY), "replica-a") == []
    [ack] = published(chain, "case_acknowledged")
    assert (ack["organization_code"], ack["by"], ack["tier"]) == (COMMUNITY, "王主席",
                                                                  "community")
    with chain.session() as session:
        assert views.case_escalation(session, "case-1")["open_deadlines"] == []
        told = views.case_notifications(session, "case-1")["items"]
    assert [(n["organization_code"], n["acknowledged_by"]) for n in told] == [
        (COMMUNITY, "王主席")]


def test_only_a_notified_recipient_can_acknowledge(chain, notifier):
    run(chain, notifier.open_case, opened(grade="routine"), T0)
    with pytest.raises(Forbidden, match="was not notified of case case-1"):
        acknowledge(chain, notifier, DISTRICT, DISTRICT_STAFF, later(1))
    with pytest.raises(Forbidden):
        acknowledge(chain, notifier, COMMUNITY, COMMUNITY_STAFF, later(1), kind="party")
    with pytest.raises(NotFound):
        acknowledge(chain, notifier, COMMUNITY, COMMUNITY_STAFF, later(1),
                    case_id="no-such-case")
    assert published(chain, "case_acknowledged") == []


def test_only_a_writer_within_the_recipient_s_subtree_can_acknowledge_for_it(chain, notifier):
    run(chain, notifier.open_case, opened(grade="routine"), T0)
    with pytest.raises(Forbidden) as refused:
        acknowledge(chain, notifier, COMMUNITY, COMMUNITY_VIEWER, later(1))
    assert refused.value.details == {"role": "viewer", "needs": "write"}
    elsewhere = Caller("园山值班员", "admin", "longgang.yuanshan")
    with pytest.raises(Forbidden, match="outside the subtree") as refused:
        acknowledge(chain, notifier, COMMUNITY, elsewhere, later(1))
    assert refused.value.details == {"organization_code": "longgang.yuanshan"}
    below = Caller("厂工会", "staff", "longgang.bantian.nankeng.u1")
    with pytest.raises(Forbidden, match="outside the subtree"):
        acknowledge(chain, notifier, COMMUNITY, below, later(1))
    assert published(chain, "case_acknowledged") == []
    # the district signs for the community it was not itself told as
    result = acknowledge(chain, notifier, COMMUNITY, DISTRICT_STAFF, later(2))
    assert (result["organization_code"], result["acknowledged_by"]) == (
        COMMUNITY, "区总工会值班员")


def test_acknowledging_twice_has_no_second_effect(chain, notifier):
    run(chain, notifier.open_case, opened(grade="routine"), T0)
    acknowledge(chain, notifier, COMMUNITY, COMMUNITY_STAFF, later(60))
    again = acknowledge(chain, notifier, COMMUNITY, COMMUNITY_STAFF, later(90))
    assert again["already_acknowledged"] is True
    assert as_utc(again["acknowledged_at"]) == later(60)
    assert len(published(chain, "case_acknowledged")) == 1


def test_before_the_registry_has_spoken_the_case_s_path_places_the_recipient(database,
                                                                            notifier):
    run(database, notifier.open_case, opened(grade="routine"), T0)
    result = acknowledge(database, notifier, COMMUNITY, Caller("街道", "staff", STREET),
                         later(1))
    assert result["case_acknowledged_by"] == COMMUNITY


def test_the_gauges_count_a_case_unacknowledged_and_its_deadlines_overdue_until_signed(
        chain, notifier):
    def counts(at):
        with chain.session() as session:
            return views.unacknowledged_and_overdue(session, at)

    run(chain, notifier.open_case, opened(grade="routine"), T0)
    assert counts(later(60)) == ({"routine": 1}, {})
    unacknowledged, overdue = counts(later(DAY + 1))  # nothing fired them
    assert unacknowledged == {"routine": 1} and overdue["escalate"] == 1
    acknowledge(chain, notifier, COMMUNITY, COMMUNITY_STAFF, later(120))
    assert counts(later(DAY + 1)) == ({}, {})
