"""Tables of the notifications service (its database only).

Two groups: a read model of the registry (organizations, their contacts, enterprises),
kept current from registry events; and the service's own records (cases it heard of,
who was notified, deliveries per channel, inboxes, deadlines, the audit trail).

Datetimes are UTC. ``as_of`` on read-model rows is the registry event's time: an older
snapshot arriving late never overwrites a newer one. The organizations and enterprises
tables are the kit's (``shared.registry_readmodel``); contacts are this service's own.
"""

import sqlalchemy as sa

from shared.registry_readmodel import CODE, enterprise_columns, organization_columns

metadata = sa.MetaData()

_id = sa.BigInteger().with_variant(sa.Integer, "sqlite")  # SQLite autoincrements INTEGER keys only


def _when(name, nullable=False, **kwargs):
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable, **kwargs)


# --- read model of the registry -----------------------------------------------------------
# The kit's columns (shared.registry_readmodel); enterprises add the assigned leader.

organizations = sa.Table("organizations", metadata, *organization_columns())

organization_contacts = sa.Table(
    "organization_contacts", metadata,
    sa.Column("code", sa.String(CODE), primary_key=True),
    sa.Column("contacts", sa.JSON, nullable=False),
    _when("as_of"),
)

enterprises = sa.Table(
    "enterprises", metadata, *enterprise_columns(),
    sa.Column("assigned_leader", sa.JSON),  # a key enterprise's 挂点领导: name, title, phone
)

# --- cases and notifications --------------------------------------------------------------

cases = sa.Table(
    "cases", metadata,
    sa.Column("case_id", sa.String(64), primary_key=True),
    sa.Column("grade", sa.String(20), nullable=False),
    sa.Column("grade_rule", sa.String(100)),
    sa.Column("category", sa.String(40)),
    sa.Column("workers_affected", sa.Integer),
    sa.Column("amount_owed", sa.String(20)),
    sa.Column("expected_at", sa.DateTime(timezone=True)),
    sa.Column("enterprise", sa.JSON, nullable=False),
    sa.Column("status", sa.String(20), nullable=False),
    sa.Column("policy_version", sa.String(40)),
    sa.Column("top_tier", sa.String(20)),  # highest tier told so far
    _when("received_at"),
    _when("notified_at", nullable=True),  # None: heard of, nobody told yet
    _when("acknowledged_at", nullable=True),
    sa.Column("acknowledged_by", sa.String(64)),  # organization code
)

notifications = sa.Table(
    "notifications", metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("case_id", sa.String(64), nullable=False),
    sa.Column("organization_code", sa.String(64), nullable=False),
    sa.Column("recipient_kind", sa.String(10), nullable=False),
    sa.Column("tier", sa.String(20)),
    sa.Column("name", sa.String(200)),
    sa.Column("reason", sa.String(20), nullable=False),  # opened, regraded, escalated
    sa.Column("rule", sa.String(200), nullable=False),
    _when("notified_at"),
    _when("acknowledged_at", nullable=True),
    sa.Column("acknowledged_by", sa.String(100)),
    # Nobody is told of the same case twice, whatever order or how often events arrive.
    sa.UniqueConstraint("case_id", "organization_code", "recipient_kind",
                     name="uq_notifications_recipient"),
)

# One row per message per channel address: the channel's delivery record.
deliveries = sa.Table(
    "deliveries", metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("notification_id", sa.String(32), nullable=False, index=True),
    sa.Column("case_id", sa.String(64), nullable=False),
    sa.Column("channel", sa.String(20), nullable=False),
    sa.Column("address", sa.String(500)),
    sa.Column("message_kind", sa.String(10), nullable=False),  # notice, reminder
    sa.Column("body", sa.JSON, nullable=False),
    sa.Column("status", sa.String(10), nullable=False),  # pending, delivered, failed
    sa.Column("attempts", sa.Integer, nullable=False, default=0),
    sa.Column("last_error", sa.Text),
    _when("created_at"),
    _when("next_attempt_at", nullable=True),
    _when("claimed_until", nullable=True),
    sa.Column("claimed_by", sa.String(32)),
    _when("finished_at", nullable=True),
    sa.Index("ix_deliveries_pending", "next_attempt_at",
             postgresql_where=sa.text("status = 'pending'"),
             sqlite_where=sa.text("status = 'pending'")),
)

inbox_messages = sa.Table(
    "inbox_messages", metadata,
    sa.Column("id", _id, primary_key=True, autoincrement=True),
    sa.Column("organization_code", sa.String(64), nullable=False),
    sa.Column("recipient_kind", sa.String(10), nullable=False),
    sa.Column("case_id", sa.String(64), nullable=False),  # the subject's id
    sa.Column("subject_kind", sa.String(10), nullable=False),  # case, incubation
    sa.Column("notification_id", sa.String(32), nullable=False),
    sa.Column("message_kind", sa.String(10), nullable=False),
    sa.Column("title", sa.String(300), nullable=False),
    sa.Column("body", sa.JSON, nullable=False),
    _when("created_at"),
    sa.Index("ix_inbox_recipient", "organization_code", "recipient_kind", "id"),
)

# Durable deadlines: escalate (nobody acknowledged in time) and remind.
deadlines = sa.Table(
    "deadlines", metadata,
    sa.Column("id", _id, primary_key=True, autoincrement=True),
    sa.Column("case_id", sa.String(64), nullable=False, index=True),
    sa.Column("kind", sa.String(10), nullable=False),  # escalate, remind
    sa.Column("tier", sa.String(20)),  # the tier whose time runs out
    _when("due_at"),
    sa.Column("state", sa.String(10), nullable=False),  # open, fired, cancelled, failed
    sa.Column("attempts", sa.Integer, nullable=False, default=0),
    _when("fired_at", nullable=True),
    sa.Column("fired_by", sa.String(32)),
    sa.Column("note", sa.String(300)),
    # Only open deadlines are ever searched by due time: a partial index stays small.
    sa.Index("ix_deadlines_open_due", "due_at",
          postgresql_where=sa.text("state = 'open'"), sqlite_where=sa.text("state = 'open'")),
)

audit_entries = sa.Table(
    "audit_entries", metadata,
    sa.Column("id", _id, primary_key=True, autoincrement=True),
    sa.Column("case_id", sa.String(64), nullable=False),
    _when("at"),
    sa.Column("action", sa.String(30), nullable=False),
    sa.Column("organization_code", sa.String(64)),
    sa.Column("recipient_kind", sa.String(10)),
    sa.Column("channel", sa.String(20)),
    sa.Column("tier", sa.String(20)),
    sa.Column("detail", sa.JSON),
    sa.Index("ix_audit_case", "case_id", "id"),
)
