"""Builders for the notifications tests: the 南坑 chain as registry events, case events as
the disputes service publishes them, callers, and a notifier on a fresh database."""

import copy
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from services.notifications import readmodel
from services.notifications.adapters import Channel, DeliveryFailed, InboxChannel
from services.notifications.models import notifications
from services.notifications.operations import Notifier
from services.notifications.policy import DEFAULT_POLICY, Policy
from shared.caller import Caller
from shared.db import open_database
from shared.events import catalogue, make_envelope, parse_envelope

MIGRATIONS = Path(__file__).resolve().parents[2] / "services" / "notifications" / "migrations"

DISTRICT, STREET, COMMUNITY = "longgang", "longgang.bantian", "longgang.bantian.nankeng"
PATH = [DISTRICT, STREET, COMMUNITY]
T0 = datetime(2015, 6, 1, 1, 0, tzinfo=UTC)

ORGANIZATIONS = [
    {"code": DISTRICT, "name": "龙岗区总工会", "kind": "district_federation", "tier": "district",
     "parent_code": None, "path": [DISTRICT],
     "party_organization": {"name": "中共龙岗区委", "kind": "district_committee"}},
    {"code": STREET, "name": "坂田街道总工会", "kind": "street_federation", "tier": "street",
     "parent_code": DISTRICT, "path": [DISTRICT, STREET],
     "party_organization": {"name": "坂田街道党工委", "kind": "street_working_committee"}},
    {"code": COMMUNITY, "name": "南坑社区工联会", "kind": "community_federation",
     "tier": "community", "parent_code": STREET, "path": PATH,
     "party_organization": {"name": "南坑社区综合党委", "kind": "community_party_committee"}},
]

# Callers as the gateway hands them over RPC (``User.caller()``).
DISTRICT_STAFF = Caller("区总工会值班员", "staff", DISTRICT)
STREET_STAFF = Caller("陈部长", "staff", STREET)
COMMUNITY_STAFF = Caller("王主席", "staff", COMMUNITY)
COMMUNITY_VIEWER = Caller("赵某", "viewer", COMMUNITY)

KEY_ENTERPRISE = {
    "credit_code": "91440300MA5NANKENG", "name": "南坑精密电子厂", "address": "南坑社区雅园路1号",
    "community_code": COMMUNITY, "path": PATH, "headcount": 820, "union_status": "own",
    "union_code": None, "key_enterprise": True,
    "assigned_leader": {"name": "李挂点", "title": "坂田街道副主任", "phone": None},
    "status": "active",
}


def roundtrip(source, type_, data):
    """``data`` as a consumer receives it: dumped, wrapped, parsed by the contract."""
    envelope = make_envelope(catalogue.get(source, type_), data)
    return parse_envelope(envelope, source, type_)


def registry_event(type_, data, at=T0):
    event = roundtrip("registry", type_, data)
    return event.data, at


def case_data(case_id="case-1", grade="routine", key_enterprise=False, **changes):
    enterprise = {"credit_code": KEY_ENTERPRISE["credit_code"] if key_enterprise else None,
                  "name": "南坑精密电子厂" if key_enterprise else "南坑某五金厂",
                  "address": "南坑社区", "community_code": COMMUNITY, "path": PATH,
                  "key_enterprise": key_enterprise}
    data = {"case_id": case_id, "grade": grade, "grade_rule": f"rule-{grade}",
            "category": "unpaid_wages", "workers_affected": 120, "amount_owed": "860000.00",
            "expected_at": None, "enterprise": enterprise, "reported_at": T0}
    data.update(changes)
    return data


def opened(case_id="case-1", grade="routine", **kwargs):
    return roundtrip("disputes", "case_opened", case_data(case_id, grade, **kwargs)).data


def regraded(case_id="case-1", grade="major", previous_grade="routine", **kwargs):
    return roundtrip("disputes", "case_regraded",
                     dict(case_data(case_id, grade, **kwargs),
                          previous_grade=previous_grade)).data


def status_changed(case_id="case-1", status="rejected", previous="reported", grade="routine"):
    return roundtrip("disputes", "case_status_changed", {
        "case_id": case_id, "status": status, "previous_status": previous, "at": T0,
        "grade": grade, "enterprise": case_data(case_id)["enterprise"]}).data


def seed_chain(session, webhooks=None, at=T0):
    """The 南坑 chain in the read model; ``webhooks`` maps organization code -> URL."""
    for organization in ORGANIZATIONS:
        readmodel.apply_organization(session, *registry_event(
            "organization_registered", organization, at))
    for code, url in (webhooks or {}).items():
        readmodel.apply_contacts(session, *registry_event("organization_contacts_changed", {
            "code": code, "contacts": [{"name": "值班员", "role": "工会干事", "phone": None,
                                        "email": None, "webhook_url": url}]}, at))
    readmodel.apply_enterprise(session, *registry_event("enterprise_registered",
                                                        KEY_ENTERPRISE, at))


def fast_policy(seconds=1.0, **grade_changes):
    """The shipped policy with deadlines of ``seconds``, for tests against the real clock."""
    import yaml

    data = yaml.safe_load(DEFAULT_POLICY.read_text(encoding="utf-8"))
    data = copy.deepcopy(data)
    for rules in data["grades"].values():
        rules["acknowledge_within"] = seconds
        rules["remind_at"] = [0.5]
    data["top_of_chain"] = {"remind_every": seconds / 2, "reminders": 1}
    data["webhook"] = {"retry_delays": [0.2, 0.2], "timeout": 2}
    for grade, changes in grade_changes.items():
        data["grades"][grade].update(changes)
    return data


class RecordingChannel(Channel):
    """A webhook stand-in that records what it was asked to send and can fail on demand."""

    name = "webhook"

    def __init__(self, fail=0):
        self.sent = []
        self.fail = fail

    def addresses(self, recipient):
        return list(recipient.webhooks)

    def send(self, address, message, delivery_id):
        self.sent.append((address, message, delivery_id))
        if self.fail:
            self.fail -= 1
            raise DeliveryFailed("HTTP 503 from receiver")


def make_notifier(policy=None, webhook=None):
    """A Notifier on ``policy`` (what ``Policy.load`` takes) with the inbox and a webhook
    channel (a RecordingChannel unless given)."""
    return Notifier(Policy.load(policy),
                    {"inbox": InboxChannel(), "webhook": webhook or RecordingChannel()})


def told(config, case_id="case-1"):
    """(organization, recipient kind) told of a case, in the database of the service
    running with ``config``."""
    database = open_database(config["DATABASE_URL"], "notifications")
    try:
        with database.session() as session:
            rows = session.execute(
                select(notifications.c.organization_code, notifications.c.recipient_kind)
                .where(notifications.c.case_id == case_id)).all()
    finally:
        database.engine.dispose()
    return {tuple(row) for row in rows}


@pytest.fixture
def database(db_url, database_factory):
    return database_factory(db_url, "notifications", MIGRATIONS)


@pytest.fixture
def webhook():
    return RecordingChannel()


@pytest.fixture
def notifier(webhook):
    return make_notifier(webhook=webhook)


@pytest.fixture
def chain(database):
    with database.unit_of_work() as uow:
        seed_chain(uow.session, webhooks={STREET: "http://bantian.example/hook"})
    return database


def later(seconds):
    return T0 + timedelta(seconds=seconds)
