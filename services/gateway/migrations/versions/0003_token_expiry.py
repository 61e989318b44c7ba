"""tokens expire: tokens.expires_at

Revision ID: 0003

Tokens issued before this revision never expired; they get the default lifetime
(GATEWAY_TOKEN_DAYS, 90 days) from the upgrade, not from their issue, so nobody is
locked out by the upgrade itself.
"""

import os
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"


def upgrade():
    op.add_column("tokens", sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True))
    days = float(os.environ.get("GATEWAY_TOKEN_DAYS") or 90)
    tokens = sa.table("tokens", sa.column("expires_at", sa.DateTime(timezone=True)))
    op.execute(tokens.update().values(expires_at=datetime.now(UTC) + timedelta(days=days)))
    with op.batch_alter_table("tokens") as batch:
        batch.alter_column("expires_at", existing_type=sa.DateTime(timezone=True),
                           nullable=False)


def downgrade():
    with op.batch_alter_table("tokens") as batch:
        batch.drop_column("expires_at")
