"""the hash that recognises an anonymous report sent again, and Idempotency-Key answers

Revision ID: 0007
Revises: 0006
"""

import sqlalchemy as sa
from alembic import op

from shared import idempotency

revision = "0007"
down_revision = "0006"


def upgrade():
    with op.batch_alter_table("reports") as batch:
        batch.add_column(sa.Column("resubmission_hash", sa.String(64), nullable=True))
        batch.create_index("ix_reports_resubmission_hash", ["resubmission_hash"])
    idempotency.create_table_v1(op)


def downgrade():
    op.drop_table(idempotency.TABLE)
    with op.batch_alter_table("reports") as batch:
        batch.drop_index("ix_reports_resubmission_hash")
        batch.drop_column("resubmission_hash")
