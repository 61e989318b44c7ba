"""objections are found by the gateway's keyed hash of their receipt code, not the code
(issue 12: no code crosses the broker): receipt_hash becomes Argon2id of that hash.
Objections lodged before hold Argon2id of the code itself, which no lookup can make any
more (the service never sees a code again): their hashes are cleared, so the column
holds one kind of value and the table no hash of a code; those objections stay, for
staff, and their codes are no longer known (a public notice lasts days).

Revision ID: 0004
Revises: 0003
"""

import secrets

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"

objections = sa.table("objections", sa.column("id", sa.BigInteger),
                      sa.column("receipt_hash", sa.String(64)))


def upgrade():
    with op.batch_alter_table("objections") as batch:
        batch.alter_column("receipt_hash", existing_type=sa.String(64), nullable=True)
    op.execute(objections.update().values(receipt_hash=None))


def downgrade():
    # Each cleared row gets a hash no code has (the column was required before).
    connection = op.get_bind()
    for (objection_id,) in connection.execute(sa.select(objections.c.id).where(
            objections.c.receipt_hash.is_(None))).all():
        connection.execute(objections.update().where(objections.c.id == objection_id)
                           .values(receipt_hash=secrets.token_hex(32)))
    with op.batch_alter_table("objections") as batch:
        batch.alter_column("receipt_hash", existing_type=sa.String(64), nullable=False)
