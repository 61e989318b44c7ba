"""referrals of service requests keep no note: incubation's events no longer carry one

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"


def upgrade():
    with op.batch_alter_table("request_referrals") as batch:
        batch.drop_column("note")


def downgrade():
    with op.batch_alter_table("request_referrals") as batch:
        batch.add_column(sa.Column("note", sa.Text(), nullable=True))
