"""answers to requests sent with an Idempotency-Key (shared.idempotency), kept a day:
a fund, contract or activity sent again with its key is not made twice

Revision ID: 0003
Revises: 0002
"""

from alembic import op

from shared import idempotency

revision = "0003"
down_revision = "0002"


def upgrade():
    idempotency.create_table_v1(op)


def downgrade():
    idempotency.drop_table(op)
