"""notifications: registry read model, cases, notifications, deliveries, inboxes, deadlines,
audit; and the kit's tables

Revision ID: 0001
"""

import sqlalchemy as sa
from alembic import op

from shared.db import create_kit_tables, drop_kit_tables

revision = "0001"
down_revision = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def when(name, nullable=False):
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade():
    create_kit_tables(op)
    op.create_table(
        "organizations",
        sa.Column("code", sa.String(64), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("kind", sa.String(40), nullable=False),
        sa.Column("tier", sa.String(20), nullable=False),
        sa.Column("parent_code", sa.String(64)),
        sa.Column("path", sa.JSON(), nullable=False),
        sa.Column("party_name", sa.String(200)),
        sa.Column("party_kind", sa.String(40)),
        when("as_of"),
    )
    op.create_table(
        "organization_contacts",
        sa.Column("code", sa.String(64), primary_key=True),
        sa.Column("contacts", sa.JSON(), nullable=False),
        when("as_of"),
    )
    op.create_table(
        "enterprises",
        sa.Column("credit_code", sa.String(64), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("community_code", sa.String(64), nullable=False),
        sa.Column("path", sa.JSON(), nullable=False),
        sa.Column("key_enterprise", sa.Boolean(), nullable=False),
        sa.Column("assigned_leader", sa.JSON()),
        sa.Column("status", sa.String(20), nullable=False),
        when("as_of"),
    )
    op.create_table(
        "cases",
        sa.Column("case_id", sa.String(64), primary_key=True),
        sa.Column("grade", sa.String(20), nullable=False),
        sa.Column("grade_rule", sa.String(100)),
        sa.Column("category", sa.String(40)),
        sa.Column("workers_affected", sa.Integer()),
        sa.Column("amount_owed", sa.String(20)),
        when("expected_at", nullable=True),
        sa.Column("enterprise", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("policy_version", sa.String(40)),
        sa.Column("top_tier", sa.String(20)),
        when("received_at"),
        when("notified_at", nullable=True),
        when("acknowledged_at", nullable=True),
        sa.Column("acknowledged_by", sa.String(64)),
    )
    op.create_table(
        "notifications",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("case_id", sa.String(64), nullable=False),
        sa.Column("organization_code", sa.String(64), nullable=False),
        sa.Column("recipient_kind", sa.String(10), nullable=False),
        sa.Column("tier", sa.String(20)),
        sa.Column("name", sa.String(200)),
        sa.Column("reason", sa.String(20), nullable=False),
        sa.Column("rule", sa.String(200), nullable=False),
        when("notified_at"),
        when("acknowledged_at", nullable=True),
        sa.Column("acknowledged_by", sa.String(100)),
        sa.UniqueConstraint("case_id", "organization_code", "recipient_kind",
                            name="uq_notifications_recipient"),
    )
    op.create_table(
        "deliveries",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("notification_id", sa.String(32), nullable=False, index=True),
        sa.Column("case_id", sa.String(64), nullable=False),
        sa.Column("channel", sa.String(20), nullable=False),
        sa.Column("address", sa.String(500)),
        sa.Column("message_kind", sa.String(10), nullable=False),
        sa.Column("body", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(10), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text()),
        when("created_at"),
        when("next_attempt_at", nullable=True),
        when("claimed_until", nullable=True),
        sa.Column("claimed_by", sa.String(32)),
        when("finished_at", nullable=True),
    )
    op.create_index("ix_deliveries_pending", "deliveries", ["next_attempt_at"],
                    postgresql_where=sa.text("status = 'pending'"),
                    sqlite_where=sa.text("status = 'pending'"))
    op.create_table(
        "inbox_messages",
        sa.Column("id", ID, primary_key=True, autoincrement=True),
        sa.Column("organization_code", sa.String(64), nullable=False),
        sa.Column("recipient_kind", sa.String(10), nullable=False),
        sa.Column("case_id", sa.String(64), nullable=False),
        sa.Column("notification_id", sa.String(32), nullable=False),
        sa.Column("message_kind", sa.String(10), nullable=False),
        sa.Column("title", sa.String(300), nullable=False),
        sa.Column("body", sa.JSON(), nullable=False),
        when("created_at"),
    )
    op.create_index("ix_inbox_recipient", "inbox_messages",
                    ["organization_code", "recipient_kind", "id"])
    op.create_table(
        "deadlines",
        sa.Column("id", ID, primary_key=True, autoincrement=True),
        sa.Column("case_id", sa.String(64), nullable=False, index=True),
        sa.Column("kind", sa.String(10), nullable=False),
        sa.Column("tier", sa.String(20)),
        when("due_at"),
        sa.Column("state", sa.String(10), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        when("fired_at", nullable=True),
        sa.Column("fired_by", sa.String(32)),
        sa.Column("note", sa.String(300)),
    )
    op.create_index("ix_deadlines_open_due", "deadlines", ["due_at"],
                    postgresql_where=sa.text("state = 'open'"),
                    sqlite_where=sa.text("state = 'open'"))
    op.create_table(
        "audit_entries",
        sa.Column("id", ID, primary_key=True, autoincrement=True),
        sa.Column("case_id", sa.String(64), nullable=False),
        when("at"),
        sa.Column("action", sa.String(30), nullable=False),
        sa.Column("organization_code", sa.String(64)),
        sa.Column("recipient_kind", sa.String(10)),
        sa.Column("channel", sa.String(20)),
        sa.Column("tier", sa.String(20)),
        sa.Column("detail", sa.JSON()),
    )
    op.create_index("ix_audit_case", "audit_entries", ["case_id", "id"])


def downgrade():
    for table in ("audit_entries", "deadlines", "inbox_messages", "deliveries", "notifications",
                  "cases", "enterprises", "organization_contacts", "organizations"):
        op.drop_table(table)
    drop_kit_tables(op)
