"""Idempotency-Key answers (shared.idempotency): a retried application files once

Revision ID: 0006
Revises: 0005
"""

from alembic import op

from shared import idempotency

revision = "0006"
down_revision = "0005"


def upgrade():
    op.create_table(idempotency.TABLE, *idempotency.columns())


def downgrade():
    op.drop_table(idempotency.TABLE)
