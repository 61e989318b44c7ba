"""a judge's score is set aside (withdrawn_at), not deleted, when they declare a conflict
of interest after scoring: its history in score_changes is kept

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"


def upgrade():
    op.add_column("scores", sa.Column("withdrawn_at", sa.DateTime(timezone=True),
                                      nullable=True))


def downgrade():
    with op.batch_alter_table("scores") as batch:
        batch.drop_column("withdrawn_at")
