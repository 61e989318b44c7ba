"""pages of enterprises by (community_code, credit_code)

Revision ID: 0002
Revises: 0001
"""

from alembic import op

revision = "0002"
down_revision = "0001"


def upgrade():
    op.create_index("ix_enterprises_community_credit", "enterprises",
                    ["community_code", "credit_code"])
    op.drop_index("ix_enterprises_community_code", table_name="enterprises")


def downgrade():
    op.create_index("ix_enterprises_community_code", "enterprises", ["community_code"])
    op.drop_index("ix_enterprises_community_credit", table_name="enterprises")
