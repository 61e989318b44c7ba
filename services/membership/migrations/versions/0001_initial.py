"""membership tables, the registry read model, and the kit's tables

Revision ID: 0001

Explicit tables (generated once from models.py by Alembic's autogenerate): a change to
models.py is a new revision, never an edit here.
"""

import sqlalchemy as sa
from alembic import op

from shared.db import create_kit_tables, drop_kit_tables

revision = "0001"
down_revision = None


def upgrade():
    create_kit_tables(op)
    op.create_table(
        "enterprises",
        sa.Column("credit_code", sa.String(length=100), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("community_code", sa.String(length=100), nullable=False),
        sa.Column("path", sa.Text(), nullable=False),
        sa.Column("path_key", sa.Text(), nullable=False),
        sa.Column("headcount", sa.Integer(), nullable=False),
        sa.Column("union_status", sa.String(length=10), nullable=False),
        sa.Column("union_code", sa.String(length=100), nullable=True),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.PrimaryKeyConstraint("credit_code"),
    )
    op.create_index(op.f("ix_enterprises_path_key"), "enterprises", ["path_key"], unique=False)
    op.create_table(
        "imports",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("source", sa.String(length=300), nullable=False),
        sa.Column("rows", sa.Integer(), server_default="0", nullable=False),
        sa.Column("imported", sa.Integer(), server_default="0", nullable=False),
        sa.Column("rejected", sa.Integer(), server_default="0", nullable=False),
        sa.Column(
            "started_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "memberships",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column(
            "worker_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("union_code", sa.String(length=100), nullable=False),
        sa.Column("enterprise_credit_code", sa.String(length=100), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("channel", sa.String(length=10), nullable=False),
        sa.Column(
            "applied_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("reason", sa.String(length=500), nullable=True),
        sa.Column(
            "previous_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.Column("entered_by", sa.String(length=100), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        "ix_memberships_enterprise_status",
        "memberships",
        ["enterprise_credit_code", "status"],
        unique=False,
    )
    op.create_index("ix_memberships_worker", "memberships", ["worker_id"], unique=False)
    op.create_index(
        "uq_memberships_current_worker",
        "memberships",
        ["worker_id"],
        unique=True,
        sqlite_where=sa.text("status IN ('pending', 'active')"),
        postgresql_where=sa.text("status IN ('pending', 'active')"),
    )
    op.create_table(
        "merchants",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("organization_code", sa.String(length=100), nullable=False),
        sa.Column("path", sa.Text(), nullable=False),
        sa.Column("rule_kind", sa.String(length=20), nullable=False),
        sa.Column("percent_off", sa.Integer(), nullable=True),
        sa.Column("markup_fen", sa.Integer(), nullable=True),
        sa.Column("active", sa.Boolean(), server_default="1", nullable=False),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        op.f("ix_merchants_organization_code"), "merchants", ["organization_code"], unique=False
    )
    op.create_table(
        "org_stats",
        sa.Column("code", sa.String(length=100), nullable=False),
        sa.Column("members", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("workers", sa.BigInteger(), server_default="0", nullable=False),
        sa.PrimaryKeyConstraint("code"),
    )
    op.create_table(
        "organizations",
        sa.Column("code", sa.String(length=100), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("tier", sa.String(length=20), nullable=False),
        sa.Column("parent_code", sa.String(length=100), nullable=True),
        sa.Column("path", sa.Text(), nullable=False),
        sa.Column("path_key", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("code"),
    )
    op.create_index(op.f("ix_organizations_path_key"), "organizations", ["path_key"], unique=False)
    op.create_table(
        "workers",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("id_hash", sa.String(length=32), nullable=False),
        sa.Column("sealed", sa.LargeBinary(), nullable=False),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("id_hash"),
    )
    op.create_table(
        "cards",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("number_hash", sa.String(length=32), nullable=False),
        sa.Column("last4", sa.String(length=4), nullable=False),
        sa.Column(
            "worker_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column(
            "membership_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column(
            "issued_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.Column("valid_until", sa.Date(), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.ForeignKeyConstraint(
            ["worker_id"],
            ["workers.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("number_hash"),
    )
    op.create_index(op.f("ix_cards_worker_id"), "cards", ["worker_id"], unique=False)
    op.create_table(
        "service_requests",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column(
            "worker_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column(
            "membership_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("kind", sa.String(length=30), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("handling_organization_code", sa.String(length=100), nullable=False),
        sa.Column("path", sa.Text(), nullable=False),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.Column(
            "updated_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.ForeignKeyConstraint(
            ["worker_id"],
            ["workers.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        op.f("ix_service_requests_handling_organization_code"),
        "service_requests",
        ["handling_organization_code"],
        unique=False,
    )
    op.create_index(
        op.f("ix_service_requests_worker_id"), "service_requests", ["worker_id"], unique=False
    )


def downgrade():
    op.drop_index(op.f("ix_service_requests_worker_id"), table_name="service_requests")
    op.drop_index(
        op.f("ix_service_requests_handling_organization_code"), table_name="service_requests"
    )
    op.drop_table("service_requests")
    op.drop_index(op.f("ix_cards_worker_id"), table_name="cards")
    op.drop_table("cards")
    op.drop_table("workers")
    op.drop_index(op.f("ix_organizations_path_key"), table_name="organizations")
    op.drop_table("organizations")
    op.drop_table("org_stats")
    op.drop_index(op.f("ix_merchants_organization_code"), table_name="merchants")
    op.drop_table("merchants")
    op.drop_index(
        "uq_memberships_current_worker",
        table_name="memberships",
        sqlite_where=sa.text("status IN ('pending', 'active')"),
        postgresql_where=sa.text("status IN ('pending', 'active')"),
    )
    op.drop_index("ix_memberships_worker", table_name="memberships")
    op.drop_index("ix_memberships_enterprise_status", table_name="memberships")
    op.drop_table("memberships")
    op.drop_table("imports")
    op.drop_index(op.f("ix_enterprises_path_key"), table_name="enterprises")
    op.drop_table("enterprises")
    drop_kit_tables(op)
