"""Tables of the notifications service (its database only).

Two groups: a read model of the registry (organizations, their contacts, enterprises),
kept current from registry events; and the service's own records (cases it heard of,
who was notified, deliveries per channel, inboxes, deadlines, the audit trail).

Datetimes are UTC. ``as_of`` on read-model rows is the registry event's time: an older
snapshot arriving late never overwrites a newer one. The organizations and enterprises
tables are the kit's (``shared.registry_readmodel``); contacts are this service's own.
"""

from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    DateTime,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    text,
)

from shared.registry_readmodel import CODE, enterprise_columns, organization_columns

metadata = MetaData()

_id = BigInteger().with_variant(Integer, "sqlite")  # SQLite autoincrements INTEGER keys only


def _when(name, nullable=False, **kwargs):
    return Column(name, DateTime(timezone=True), nullable=nullable, **kwargs)


# --- read model of the registry -----------------------------------------------------------
# The kit's columns (shared.registry_readmodel); enterprises add the assigned leader.

organizations = Table("organizations", metadata, *organization_columns())

organization_contacts = Table(
    "organization_contacts", metadata,
    Column("code", String(CODE), primary_key=True),
    Column("contacts", JSON, nullable=False),
    _when("as_of"),
)

enterprises = Table(
    "enterprises", metadata, *enterprise_columns(),
    Column("assigned_leader", JSON),  # a key enterprise's 挂点领导: name, title, phone
)

# --- cases and notifications --------------------------------------------------------------

cases = Table(
    "cases", metadata,
    Column("case_id", String(64), primary_key=True),
    Column("grade", String(20), nullable=False),
    Column("grade_rule", String(100)),
    Column("category", String(40)),
    Column("workers_affected", Integer),
    Column("amount_owed", String(20)),
    Column("expected_at", DateTime(timezone=True)),
    Column("enterprise", JSON, nullable=False),
    Column("status", String(20), nullable=False),
    Column("policy_version", String(40)),
    Column("top_tier", String(20)),  # highest tier told so far
    _when("received_at"),
    _when("notified_at", nullable=True),  # None: heard of, nobody told yet
    _when("acknowledged_at", nullable=True),
    Column("acknowledged_by", String(64)),  # organization code
)

notifications = Table(
    "notifications", metadata,
    Column("id", String(32), primary_key=True),
    Column("case_id", String(64), nullable=False),
    Column("organization_code", String(64), nullable=False),
    Column("recipient_kind", String(10), nullable=False),
    Column("tier", String(20)),
    Column("name", String(200)),
    Column("reason", String(20), nullable=False),  # opened, regraded, escalated
    Column("rule", String(200), nullable=False),
    _when("notified_at"),
    _when("acknowledged_at", nullable=True),
    Column("acknowledged_by", String(100)),
    # Nobody is told of the same case twice, whatever order or how often events arrive.
    UniqueConstraint("case_id", "organization_code", "recipient_kind",
                     name="uq_notifications_recipient"),
)

# One row per message per channel address: the channel's delivery record.
deliveries = Table(
    "deliveries", metadata,
    Column("id", String(32), primary_key=True),
    Column("notification_id", String(32), nullable=False, index=True),
    Column("case_id", String(64), nullable=False),
    Column("channel", String(20), nullable=False),
    Column("address", String(500)),
    Column("message_kind", String(10), nullable=False),  # notice, reminder
    Column("body", JSON, nullable=False),
    Column("status", String(10), nullable=False),  # pending, delivered, failed
    Column("attempts", Integer, nullable=False, default=0),
    Column("last_error", Text),
    _when("created_at"),
    _when("next_attempt_at", nullable=True),
    _when("claimed_until", nullable=True),
    Column("claimed_by", String(32)),
    _when("finished_at", nullable=True),
    Index("ix_deliveries_pending", "next_attempt_at",
          postgresql_where=text("status = 'pending'"), sqlite_where=text("status = 'pending'")),
)

inbox_messages = Table(
    "inbox_messages", metadata,
    Column("id", _id, primary_key=True, autoincrement=True),
    Column("organization_code", String(64), nullable=False),
    Column("recipient_kind", String(10), nullable=False),
    Column("case_id", String(64), nullable=False),
    Column("notification_id", String(32), nullable=False),
    Column("message_kind", String(10), nullable=False),
    Column("title", String(300), nullable=False),
    Column("body", JSON, nullable=False),
    _when("created_at"),
    Index("ix_inbox_recipient", "organization_code", "recipient_kind", "id"),
)

# Durable deadlines: escalate (nobody acknowledged in time) and remind.
deadlines = Table(
    "deadlines", metadata,
    Column("id", _id, primary_key=True, autoincrement=True),
    Column("case_id", String(64), nullable=False, index=True),
    Column("kind", String(10), nullable=False),  # escalate, remind
    Column("tier", String(20)),  # the tier whose time runs out
    _when("due_at"),
    Column("state", String(10), nullable=False),  # open, fired, cancelled, failed
    Column("attempts", Integer, nullable=False, default=0),
    _when("fired_at", nullable=True),
    Column("fired_by", String(32)),
    Column("note", String(300)),
    # Only open deadlines are ever searched by due time: a partial index stays small.
    Index("ix_deadlines_open_due", "due_at",
          postgresql_where=text("state = 'open'"), sqlite_where=text("state = 'open'")),
)

audit_entries = Table(
    "audit_entries", metadata,
    Column("id", _id, primary_key=True, autoincrement=True),
    Column("case_id", String(64), nullable=False),
    _when("at"),
    Column("action", String(30), nullable=False),
    Column("organization_code", String(64)),
    Column("recipient_kind", String(10)),
    Column("channel", String(20)),
    Column("tier", String(20)),
    Column("detail", JSON),
    Index("ix_audit_case", "case_id", "id"),
)
