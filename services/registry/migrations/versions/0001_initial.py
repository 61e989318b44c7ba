"""organizations, enterprises, per-organization counts, and the kit's tables

Revision ID: 0001
"""

import sqlalchemy as sa
from alembic import op

from shared.db import create_kit_tables, drop_kit_tables

revision = "0001"
down_revision = None

CODE = sa.String(100)
CREDIT_CODE = sa.String(18)
# "C" collation: path range queries mean the same as on SQLite (see models.py).
PATH = sa.String(1000).with_variant(sa.String(1000, collation="C"), "postgresql")


def upgrade():
    create_kit_tables(op)
    op.create_table(
        "organizations",
        sa.Column("code", CODE, primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("tier", sa.String(16), nullable=False),
        sa.Column("parent_code", CODE, sa.ForeignKey("organizations.code"), nullable=True),
        sa.Column("path", PATH, nullable=False),
        sa.Column("party_name", sa.String(200), nullable=True),
        sa.Column("party_kind", sa.String(40), nullable=True),
        sa.Column("enterprise_credit_code", CREDIT_CODE, nullable=True),
        sa.Column("contacts", sa.JSON, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False,
                  server_default=sa.func.now()),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False,
                  server_default=sa.func.now()),
    )
    op.create_index("ix_organizations_parent_code", "organizations", ["parent_code"])
    op.create_index("ix_organizations_path", "organizations", ["path"], unique=True)
    op.create_index("ix_organizations_enterprise_credit_code", "organizations",
                    ["enterprise_credit_code"])
    op.create_table(
        "enterprises",
        sa.Column("credit_code", CREDIT_CODE, primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("address", sa.String(500), nullable=True),
        sa.Column("community_code", CODE, sa.ForeignKey("organizations.code"), nullable=False),
        sa.Column("headcount", sa.Integer, nullable=False),
        sa.Column("union_status", sa.String(8), nullable=False),
        sa.Column("union_code", CODE, nullable=True),
        sa.Column("key_enterprise", sa.Boolean, nullable=False),
        sa.Column("assigned_leader", sa.JSON(none_as_null=True), nullable=True),
        sa.Column("status", sa.String(8), nullable=False),
        sa.Column("closed_reason", sa.String(500), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False,
                  server_default=sa.func.now()),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False,
                  server_default=sa.func.now()),
    )
    op.create_index("ix_enterprises_community_code", "enterprises", ["community_code"])
    op.create_index("ix_enterprises_union_code", "enterprises", ["union_code"])
    op.create_table(
        "organization_stats",
        sa.Column("code", CODE, sa.ForeignKey("organizations.code"), primary_key=True),
        sa.Column("enterprises", sa.Integer, nullable=False, server_default="0"),
        sa.Column("workers", sa.BigInteger, nullable=False, server_default="0"),
        sa.Column("own_union", sa.Integer, nullable=False, server_default="0"),
        sa.Column("covered", sa.Integer, nullable=False, server_default="0"),
    )


def downgrade():
    op.drop_table("organization_stats")
    op.drop_table("enterprises")
    op.drop_table("organizations")
    drop_kit_tables(op)
