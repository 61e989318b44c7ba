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


def _backfill(bind, name, key, values_of_path):
    """Every row of ``name`` gets its ``path_key`` and ``values_of_path(path)``."""
    table = sa.table(name, sa.column(key, sa.String), sa.column("path", sa.JSON),
                     sa.column("path_key", sa.Text), sa.column("parent_code", sa.String),
                     sa.column("union_status", sa.String))
    rows = [{"row_key": row_key, "path_key": _path_key(path), **values_of_path(path)}
            for row_key, path in bind.execute(sa.select(table.c[key], table.c.path))]
    if rows:  # one statement for all (bind names apart from the columns they set)
        bind.execute(
            table.update().where(table.c[key] == sa.bindparam("row_key")).values(
                {column: sa.bindparam(f"new_{column}") for column in rows[0]
                 if column != "row_key"}),
            [{name if name == "row_key" else f"new_{name}": value
              for name, value in row.items()} for row in rows])


def upgrade():
    bind = op.get_bind()
    with op.batch_alter_table("organizations") as batch:
        batch.add_column(sa.Column("parent_code", sa.String(100), nullable=True))
        batch.add_column(sa.Column("path_key", sa.Text(), nullable=True))
        batch.add_column(sa.Column("party_name", sa.String(200), nullable=True))
        batch.add_column(sa.Column("party_kind", sa.String(40), nullable=True))
    _backfill(bind, "organizations", "code", lambda path: {
        "parent_code": path[-2] if len(path) > 1 else None})
    with op.batch_alter_table("organizations") as batch:
        batch.alter_column("path_key", existing_type=sa.Text(), nullable=False)
        batch.create_index("ix_organizations_path_key", ["path_key"])

    with op.batch_alter_table("enterprises") as batch:
        batch.alter_column("credit_code", existing_type=sa.String(18),
                           type_=sa.String(100), existing_nullable=False)
        batch.add_column(sa.Column("path_key", sa.Text(), nullable=True))
        batch.add_column(sa.Column("union_status", sa.String(10), nullable=True))
        batch.add_column(sa.Column("union_code", sa.String(100), nullable=True))
    _backfill(bind, "enterprises", "credit_code",
              lambda path: {"union_status": UNKNOWN_UNION_STATUS})
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
