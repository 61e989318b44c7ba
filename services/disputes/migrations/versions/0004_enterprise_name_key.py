"""the enterprise read model keeps each name's matching key, indexed within its community

A report naming an unregistered-looking enterprise by name was matched by reading every
enterprise of its community (227 in 南坑, thousands in an industrial park); the key
makes it one indexed lookup. The normalisation (no white space, case-folded) is written
out here so that this revision keeps producing what it produced when it was written.

Revision ID: 0004
Revises: 0003
"""

import re

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"

enterprises = sa.table(
    "enterprises",
    sa.column("credit_code", sa.String),
    sa.column("name", sa.String),
    sa.column("name_key", sa.String),
)


def upgrade():
    op.add_column("enterprises", sa.Column("name_key", sa.String(200), nullable=True))
    connection = op.get_bind()
    rows = connection.execute(sa.select(enterprises.c.credit_code, enterprises.c.name)).all()
    if rows:
        connection.execute(
            enterprises.update().where(enterprises.c.credit_code == sa.bindparam("code"))
            .values(name_key=sa.bindparam("key")),
            [{"code": code, "key": re.sub(r"\s+", "", name).casefold()}
             for code, name in rows])
    with op.batch_alter_table("enterprises") as batch:
        batch.alter_column("name_key", existing_type=sa.String(200), nullable=False)
        batch.create_index("ix_enterprises_community_name_key",
                           ["community_code", "name_key"])


def downgrade():
    with op.batch_alter_table("enterprises") as batch:
        batch.drop_index("ix_enterprises_community_name_key")
        batch.drop_column("name_key")
