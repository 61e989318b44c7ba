"""membership tables, the registry read model, and the kit's tables

Revision ID: 0001
"""

from alembic import op

from services.membership.models import metadata
from shared.db import create_kit_tables, drop_kit_tables

revision = "0001"
down_revision = None


def upgrade():
    create_kit_tables(op)
    # Creates models.py as it stands. Before the first change to models.py, freeze these
    # tables here as explicit op.create_table calls, then add the change as 0002.
    metadata.create_all(op.get_bind())


def downgrade():
    metadata.drop_all(op.get_bind())
    drop_kit_tables(op)
