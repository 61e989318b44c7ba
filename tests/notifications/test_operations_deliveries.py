"""Deliveries to the outside world: webhooks claimed, retried by the policy and recorded
(operations.Notifier.claim_deliveries / record_delivery)."""

from services.notifications import views
from services.notifications.adapters import DeliveryFailed
from shared.testing import outbox_envelopes
from tests.notifications.conftest import STREET, T0, later, regraded


def run(database, method, *args, **kwargs):
    with database.unit_of_work() as uow:
        return method(uow, *args, **kwargs)


def published(database, type_):
    return [b["data"] for b in outbox_envelopes(database) if b["type"] == type_]


def test_a_webhook_is_retried_then_recorded_as_delivered(chain, notifier, webhook):
    webhook.fail = 1
    run(chain, notifier.regrade_case, regraded(grade="urgent"), T0)  # street has a webhook
    claimed = run(chain, notifier.claim_deliveries, T0, "replica-a")
    assert [d["address"] for d in claimed] == ["http://bantian.example/hook"]
    assert run(chain, notifier.claim_deliveries, T0, "replica-b") == []  # leased
    deliver(chain, notifier, webhook, claimed, T0)
    assert run(chain, notifier.claim_deliveries, later(1), "replica-a") == []  # backing off
    retry = run(chain, notifier.claim_deliveries, later(5), "replica-a")
    deliver(chain, notifier, webhook, retry, later(5))
    with chain.session() as session:
        entries = views.case_audit(session, "case-1")["items"]
    webhook_entries = [(e["action"], e["detail"].get("attempts")) for e in entries
                       if e["channel"] == "webhook"]
    assert webhook_entries == [("delivery_retry", 1), ("delivered", 2)]
    sent = [s for s in published(chain, "notification_sent") if s["channel"] == "webhook"]
    assert [(s["organization_code"], s["delivered"]) for s in sent] == [(STREET, True)]
    assert webhook.sent[0][2] == webhook.sent[1][2]  # same delivery id: receivers dedupe


def test_a_webhook_that_keeps_failing_is_recorded_as_failed(chain, notifier, webhook):
    webhook.fail = 100
    run(chain, notifier.regrade_case, regraded(grade="urgent"), T0)
    at = T0
    for _ in range(10):
        at = at.replace(hour=at.hour + 1)
        deliver(chain, notifier, webhook, run(chain, notifier.claim_deliveries, at, "a"), at)
    assert len(webhook.sent) == 6  # the first try and five retries of the shipped policy
    sent = [s for s in published(chain, "notification_sent") if s["channel"] == "webhook"]
    assert [s["delivered"] for s in sent] == [False]
    with chain.session() as session:
        [failed] = [e for e in views.case_audit(session, "case-1")["items"]
                    if e["action"] == "delivery_failed"]
    assert failed["detail"]["error"] == "HTTP 503 from receiver"


def deliver(database, notifier, channel, claimed, at):
    for item in claimed:
        try:
            channel.send(item["address"], item["body"], item["id"])
            error = None
        except DeliveryFailed as exc:
            error = str(exc)
        run(database, notifier.record_delivery, item["id"], at, error)
