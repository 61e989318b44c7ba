"""informants' identities sealed at rest: real_name and phone become one AES-GCM ``sealed``

Existing rows are sealed in this migration under ``DISPUTES_PII_KEY`` (the service's
config when the service migrates at start, else the environment, else the development
key in ``var/``), so the key is loaded only when there is something to seal. The
layout is written out here rather than imported, so that this revision keeps producing
what ``services.disputes.identity`` read when it was written: JSON
``{"real_name", "phone"}`` sealed with the informant's id as associated data.

Revision ID: 0003
Revises: 0002
"""

import json

import sqlalchemy as sa
from alembic import op

from shared import pii
from shared.db import migration_settings

revision = "0003"
down_revision = "0002"

identities = sa.table(
    "identities",
    sa.column("informant_id", sa.String),
    sa.column("real_name", sa.String),
    sa.column("phone", sa.String),
    sa.column("sealed", sa.LargeBinary),
)


def _keys():
    return pii.load_keys("disputes", migration_settings())


def upgrade():
    op.add_column("identities", sa.Column("sealed", sa.LargeBinary(), nullable=True))
    bind = op.get_bind()
    rows = bind.execute(sa.select(identities.c.informant_id, identities.c.real_name,
                                  identities.c.phone)).all()
    if rows:
        keys = _keys()
        bind.execute(
            identities.update().where(identities.c.informant_id == sa.bindparam("id"))
            .values(sealed=sa.bindparam("value")),
            [{"id": row.informant_id,
              "value": keys.seal_text(
                  json.dumps({"real_name": row.real_name, "phone": row.phone},
                             ensure_ascii=False, separators=(",", ":")),
                  context=row.informant_id.encode())}
             for row in rows])
    with op.batch_alter_table("identities") as batch:
        batch.alter_column("sealed", existing_type=sa.LargeBinary(), nullable=False)
        batch.drop_column("real_name")
        batch.drop_column("phone")


def downgrade():
    op.add_column("identities", sa.Column("real_name", sa.String(100), nullable=True))
    op.add_column("identities", sa.Column("phone", sa.String(30), nullable=True))
    bind = op.get_bind()
    rows = bind.execute(sa.select(identities.c.informant_id, identities.c.sealed)).all()
    if rows:
        keys = _keys()
        clear = [(row.informant_id, json.loads(keys.open_text(
            row.sealed, context=row.informant_id.encode()))) for row in rows]
        bind.execute(
            identities.update().where(identities.c.informant_id == sa.bindparam("id"))
            .values(real_name=sa.bindparam("name"), phone=sa.bindparam("tel")),
            [{"id": informant_id, "name": value["real_name"], "tel": value["phone"]}
             for informant_id, value in clear])
    with op.batch_alter_table("identities") as batch:
        batch.alter_column("real_name", existing_type=sa.String(100), nullable=False)
        batch.drop_column("sealed")
