"""activities by the day they were held: statistics for a range of days read the days
in the range rather than every activity of the subtree

Revision ID: 0004
Revises: 0003
"""

from alembic import op

revision = "0004"
down_revision = "0003"


def upgrade():
    op.create_index("ix_activities_held_on", "activities", ["held_on"])


def downgrade():
    op.drop_index("ix_activities_held_on", table_name="activities")
