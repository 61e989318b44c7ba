"""a report remembers the id of the request that filed it, so that a request delivered
twice files once

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"


def upgrade():
    op.add_column("reports", sa.Column("request_id", sa.String(64), nullable=True))
    op.create_index("ux_reports_request_id", "reports", ["request_id"], unique=True)


def downgrade():
    op.drop_index("ux_reports_request_id", table_name="reports")
    with op.batch_alter_table("reports") as batch:
        batch.drop_column("request_id")
