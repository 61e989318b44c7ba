"""the registry read model takes the kit's columns (shared.registry_readmodel)

Organizations and enterprises get ``path_key`` (the path as ``/a/b/c/``, indexed, for
subtree searches and re-rooting a moved subtree), filled in from ``path``; enterprises get
the snapshot's ``headcount``, ``union_status`` and ``union_code``. Rows already here keep
their data; the three new enterprise columns read 0 / 'none' / NULL until the registry's
next snapshot of that enterprise (this service reads none of them). Codes may be 100
characters, as in the registry; ``as_of`` may be unknown. ``path_key`` is written out
here so that this revision keeps producing what it produced when it was written.

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"

OLD_CODE, CODE = sa.String(64), sa.String(100)


def path_key(path) -> str:
    return "/" + "/".join(path) + "/"


def _fill_path_keys(table_name, key):
    table = sa.table(table_name, sa.column(key, sa.String), sa.column("path", sa.JSON),
                     sa.column("path_key", sa.Text))
    connection = op.get_bind()
    rows = connection.execute(sa.select(table.c[key], table.c.path)).all()
    if rows:
        connection.execute(
            table.update().where(table.c[key] == sa.bindparam("row_key"))
            .values(path_key=sa.bindparam("new_key")),
            [{"row_key": row_key, "new_key": path_key(path)} for row_key, path in rows])


def upgrade():
    op.add_column("organizations", sa.Column("path_key", sa.Text(), nullable=True))
    _fill_path_keys("organizations", "code")
    with op.batch_alter_table("organizations") as batch:
        batch.alter_column("code", existing_type=OLD_CODE, type_=CODE)
        batch.alter_column("parent_code", existing_type=OLD_CODE, type_=CODE)
        batch.alter_column("path_key", existing_type=sa.Text(), nullable=False)
        batch.alter_column("as_of", existing_type=sa.DateTime(timezone=True), nullable=True)
        batch.create_index("ix_organizations_path_key", ["path_key"])

    with op.batch_alter_table("organization_contacts") as batch:
        batch.alter_column("code", existing_type=OLD_CODE, type_=CODE)

    with op.batch_alter_table("enterprises") as batch:
        batch.add_column(sa.Column("path_key", sa.Text(), nullable=True))
        batch.add_column(sa.Column("headcount", sa.Integer(), nullable=False,
                                   server_default="0"))
        batch.add_column(sa.Column("union_status", sa.String(10), nullable=False,
                                   server_default="none"))
        batch.add_column(sa.Column("union_code", CODE, nullable=True))
    _fill_path_keys("enterprises", "credit_code")
    with op.batch_alter_table("enterprises") as batch:
        batch.alter_column("credit_code", existing_type=OLD_CODE, type_=CODE)
        batch.alter_column("community_code", existing_type=OLD_CODE, type_=CODE)
        batch.alter_column("path_key", existing_type=sa.Text(), nullable=False)
        # The defaults only filled the rows already here; snapshots always carry both.
        batch.alter_column("headcount", existing_type=sa.Integer(), server_default=None)
        batch.alter_column("union_status", existing_type=sa.String(10),
                           server_default=None)
        batch.alter_column("status", existing_type=sa.String(20), type_=sa.String(10))
        batch.alter_column("as_of", existing_type=sa.DateTime(timezone=True), nullable=True)
        batch.create_index("ix_enterprises_path_key", ["path_key"])


def downgrade():
    with op.batch_alter_table("enterprises") as batch:
        batch.drop_index("ix_enterprises_path_key")
        for column in ("path_key", "headcount", "union_status", "union_code"):
            batch.drop_column(column)
        batch.alter_column("credit_code", existing_type=CODE, type_=OLD_CODE)
        batch.alter_column("community_code", existing_type=CODE, type_=OLD_CODE)
        batch.alter_column("status", existing_type=sa.String(10), type_=sa.String(20))
    with op.batch_alter_table("organization_contacts") as batch:
        batch.alter_column("code", existing_type=CODE, type_=OLD_CODE)
    with op.batch_alter_table("organizations") as batch:
        batch.drop_index("ix_organizations_path_key")
        batch.drop_column("path_key")
        batch.alter_column("code", existing_type=CODE, type_=OLD_CODE)
        batch.alter_column("parent_code", existing_type=CODE, type_=OLD_CODE)
