"""Idempotency-Key answers (shared.idempotency): a retried application files once

Revision ID: 0006
Revises: 0005
"""

from alembic import op

from shared import idempotency

revision = "0006"
down_revision = "0005"


def upgrade():
    idempotency.create_table_v1(op)


def downgrade():
    op.drop_table(idempotency.TABLE)
