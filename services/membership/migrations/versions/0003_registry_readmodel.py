"""the registry read model on the kit's tables (shared.registry_readmodel)

Revision ID: 0003
Revises: 0002

``organizations`` and ``enterprises`` take the kit's columns: ``path`` becomes a JSON
column (it held JSON text already), ``path_key`` gains its leading slash ("a/b/c/" ->
"/a/b/c/"), and each row gets ``as_of`` (NULL: older than any snapshot still to come, so
the next one replaces it), organizations their party organization and enterprises
``key_enterprise`` (false until the registry's next snapshot of the enterprise says).
The join-rate counters (``org_stats``) stay as they are: no row moves, so every count
is still right.
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"


def upgrade():
    for table in ("organizations", "enterprises"):
        with op.batch_alter_table(table) as batch:
            batch.alter_column("path", type_=sa.JSON(), existing_type=sa.Text(),
                               existing_nullable=False, postgresql_using="path::json")
            batch.add_column(sa.Column("as_of", sa.DateTime(timezone=True), nullable=True))
            if table == "organizations":
                batch.add_column(sa.Column("party_name", sa.String(length=200),
                                           nullable=True))
                batch.add_column(sa.Column("party_kind", sa.String(length=40),
                                           nullable=True))
            else:
                batch.add_column(sa.Column("key_enterprise", sa.Boolean(), nullable=False,
                                           server_default=sa.false()))
        op.execute(f"UPDATE {table} SET path_key = '/' || path_key "
                   "WHERE path_key NOT LIKE '/%'")
    # The default only filled the rows already there: the model has none.
    with op.batch_alter_table("enterprises") as batch:
        batch.alter_column("key_enterprise", server_default=None,
                           existing_type=sa.Boolean(), existing_nullable=False)


def downgrade():
    for table in ("organizations", "enterprises"):
        op.execute(f"UPDATE {table} SET path_key = substr(path_key, 2) "
                   "WHERE path_key LIKE '/%'")
        with op.batch_alter_table(table) as batch:
            batch.drop_column("as_of")
            if table == "organizations":
                batch.drop_column("party_kind")
                batch.drop_column("party_name")
            else:
                batch.drop_column("key_enterprise")
            batch.alter_column("path", type_=sa.Text(), existing_type=sa.JSON(),
                               existing_nullable=False, postgresql_using="path::text")
