"""inbox messages say what they are about: a case, or an incubation period

An incubation reminder is not a case: the inbox's case queries (what waits for 签收) and
acknowledging leave such messages out by this column. Rows already here are about a case
unless their subject is an incubation period's (``incubation:<id>:<date>``).

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"


def upgrade():
    with op.batch_alter_table("inbox_messages") as batch:
        batch.add_column(sa.Column("subject_kind", sa.String(10), nullable=False,
                                   server_default="case"))
    inbox = sa.table("inbox_messages", sa.column("case_id", sa.String),
                     sa.column("subject_kind", sa.String))
    op.get_bind().execute(inbox.update().where(inbox.c.case_id.like("incubation:%"))
                          .values(subject_kind="incubation"))
    with op.batch_alter_table("inbox_messages") as batch:
        # The default only filled the rows already here; every writer names the kind.
        batch.alter_column("subject_kind", existing_type=sa.String(10), server_default=None)


def downgrade():
    with op.batch_alter_table("inbox_messages") as batch:
        batch.drop_column("subject_kind")
