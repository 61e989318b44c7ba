"""an objection sent again with its Idempotency-Key is lodged once: the answers given to
keyed requests, kept a day (shared.idempotency); revision 0003, after 0002"""

from alembic import op

from shared import idempotency

revision = "0003"
down_revision = "0002"


def upgrade():
    idempotency.create_table_v1(op)


def downgrade():
    op.drop_table(idempotency.TABLE)
