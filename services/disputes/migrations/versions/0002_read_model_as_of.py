"""the registry read model remembers the time of the event each row came from

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"


def upgrade():
    for table in ("organizations", "enterprises"):
        op.add_column(table, sa.Column("as_of", sa.DateTime(timezone=True), nullable=True))


def downgrade():
    for table in ("organizations", "enterprises"):
        with op.batch_alter_table(table) as batch:
            batch.drop_column("as_of")
