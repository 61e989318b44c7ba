"""referrals of service requests to social organizations (incubation's events)

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade():
    op.create_table(
        "request_referrals",
        sa.Column("referral_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("request_id", ID, sa.ForeignKey("service_requests.id"), nullable=False),
        sa.Column("organization_id", sa.BigInteger(), nullable=False),
        sa.Column("organization_name", sa.String(length=200), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("as_of", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("referral_id"),
    )
    op.create_index("ix_request_referrals_request_id", "request_referrals", ["request_id"])


def downgrade():
    op.drop_index("ix_request_referrals_request_id", "request_referrals")
    op.drop_table("request_referrals")
