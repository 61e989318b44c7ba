"""the registry read model takes the shared columns (shared.registry_readmodel): a path_key
for subtree searches and re-rooting, the parent and party organization of each
organization, the union coverage of each enterprise; disputes keeps name_key and address

Existing rows keep their data: ``path_key`` and ``parent_code`` are worked out from the
stored path. What the older rows never held (the party organization, ``union_code``)
stays empty, and ``union_status`` reads ``unknown``, until the registry's next snapshot
of the row replaces it (disputes reads neither). The path encoding is written out here
so that this revision keeps producing what it produced when it was written.

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"

UNKNOWN_UNION_STATUS = "unknown"


def _path_key(path) -> str:
    return "/" + "/".join(path) + "/"


def _table(name, key):
    return sa.table(name, sa.column(key, sa.String), sa.column("path", sa.JSON),
                    sa.column("path_key", sa.Text), sa.column("parent_code", sa.String),
                    sa.column("union_status", sa.String))


def upgrade():
    bind = op.get_bind()
    with op.batch_alter_table("organizations") as batch:
        batch.add_column(sa.Column("parent_code", sa.String(100), nullable=True))
        batch.add_column(sa.Column("path_key", sa.Text(), nullable=True))
        batch.add_column(sa.Column("party_name", sa.String(200), nullable=True))
        batch.add_column(sa.Column("party_kind", sa.String(40), nullable=True))
    organizations = _table("organizations", "code")
    rows = bind.execute(sa.select(organizations.c.code, organizations.c.path)).all()
    if rows:
        bind.execute(
            organizations.update().where(organizations.c.code == sa.bindparam("key"))
            .values(path_key=sa.bindparam("new_path_key"),
                    parent_code=sa.bindparam("parent")),
            [{"key": code, "new_path_key": _path_key(path),
              "parent": path[-2] if len(path) > 1 else None} for code, path in rows])
    with op.batch_alter_table("organizations") as batch:
        batch.alter_column("path_key", existing_type=sa.Text(), nullable=False)
        batch.create_index("ix_organizations_path_key", ["path_key"])

    with op.batch_alter_table("enterprises") as batch:
        batch.alter_column("credit_code", existing_type=sa.String(18),
                           type_=sa.String(100), existing_nullable=False)
        batch.add_column(sa.Column("path_key", sa.Text(), nullable=True))
        batch.add_column(sa.Column("union_status", sa.String(10), nullable=True))
        batch.add_column(sa.Column("union_code", sa.String(100), nullable=True))
    enterprises = _table("enterprises", "credit_code")
    rows = bind.execute(sa.select(enterprises.c.credit_code, enterprises.c.path)).all()
    if rows:
        bind.execute(
            enterprises.update().where(enterprises.c.credit_code == sa.bindparam("key"))
            .values(path_key=sa.bindparam("new_path_key"),
                    union_status=UNKNOWN_UNION_STATUS),
            [{"key": code, "new_path_key": _path_key(path)} for code, path in rows])
    with op.batch_alter_table("enterprises") as batch:
        batch.alter_column("path_key", existing_type=sa.Text(), nullable=False)
        batch.alter_column("union_status", existing_type=sa.String(10), nullable=False)
        batch.create_index("ix_enterprises_path_key", ["path_key"])


def downgrade():
    with op.batch_alter_table("enterprises") as batch:
        batch.drop_index("ix_enterprises_path_key")
        batch.drop_column("union_code")
        batch.drop_column("union_status")
        batch.drop_column("path_key")
        batch.alter_column("credit_code", existing_type=sa.String(100),
                           type_=sa.String(18), existing_nullable=False)
    with op.batch_alter_table("organizations") as batch:
        batch.drop_index("ix_organizations_path_key")
        batch.drop_column("party_kind")
        batch.drop_column("party_name")
        batch.drop_column("path_key")
        batch.drop_column("parent_code")
