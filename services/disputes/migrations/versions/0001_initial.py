"""disputes tables, the kit's tables, the first policies and the hashing salts

Revision ID: 0001
"""

import json
import secrets
from datetime import UTC, datetime
from pathlib import Path

import sqlalchemy as sa
from alembic import op

from shared.db import create_kit_tables, drop_kit_tables

revision = "0001"
down_revision = None


def upgrade():
    create_kit_tables(op)
    op.create_table('cases',
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.Column('risk_key', sa.String(length=300), nullable=False),
    sa.Column('enterprise_key', sa.String(length=300), nullable=False),
    sa.Column('credit_code', sa.String(length=18), nullable=True),
    sa.Column('enterprise_name', sa.String(length=200), nullable=False),
    sa.Column('address', sa.String(length=300), nullable=True),
    sa.Column('district_code', sa.String(length=100), nullable=True),
    sa.Column('street_code', sa.String(length=100), nullable=True),
    sa.Column('community_code', sa.String(length=100), nullable=False),
    sa.Column('path', sa.JSON(), nullable=False),
    sa.Column('key_enterprise', sa.Boolean(), nullable=False),
    sa.Column('category', sa.String(length=40), nullable=False),
    sa.Column('workers_affected', sa.Integer(), nullable=False),
    sa.Column('amount_owed_fen', sa.BigInteger(), nullable=False),
    sa.Column('expected_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('grade', sa.String(length=10), nullable=False),
    sa.Column('grade_rule', sa.String(length=64), nullable=False),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('handled_by_tier', sa.String(length=20), nullable=True),
    sa.Column('joint', sa.Boolean(), nullable=True),
    sa.Column('departments', sa.JSON(), nullable=True),
    sa.Column('wages_recovered_fen', sa.BigInteger(), nullable=True),
    sa.Column('workers_covered', sa.Integer(), nullable=True),
    sa.Column('reports_count', sa.Integer(), nullable=False),
    sa.Column('opened_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('opened_year', sa.Integer(), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('resolved_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index("ix_cases_community_code", "cases", ['community_code'])
    op.create_index("ix_cases_district_code", "cases", ['district_code'])
    op.create_index("ix_cases_enterprise_key", "cases", ['enterprise_key'])
    op.create_index("ix_cases_opened_year", "cases", ['opened_year'])
    op.create_index("ix_cases_risk_key", "cases", ['risk_key'])
    op.create_index("ix_cases_status_opened", "cases", ['status', 'opened_at'])
    op.create_index("ix_cases_street_code", "cases", ['street_code'])

    op.create_table('enterprises',
    sa.Column('credit_code', sa.String(length=18), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('address', sa.String(length=300), nullable=True),
    sa.Column('community_code', sa.String(length=100), nullable=False),
    sa.Column('path', sa.JSON(), nullable=False),
    sa.Column('headcount', sa.Integer(), nullable=False),
    sa.Column('key_enterprise', sa.Boolean(), nullable=False),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.PrimaryKeyConstraint('credit_code')
    )
    op.create_table('informants',
    sa.Column('id', sa.String(length=16), nullable=False),
    sa.Column('kind', sa.String(length=10), nullable=False),
    sa.Column('organization_code', sa.String(length=100), nullable=True),
    sa.Column('token_hash', sa.String(length=64), nullable=True),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('token_hash')
    )
    op.create_table('organizations',
    sa.Column('code', sa.String(length=100), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('kind', sa.String(length=40), nullable=False),
    sa.Column('tier', sa.String(length=20), nullable=False),
    sa.Column('path', sa.JSON(), nullable=False),
    sa.PrimaryKeyConstraint('code')
    )
    op.create_table('policies',
    sa.Column('kind', sa.String(length=10), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('effective_from', sa.DateTime(timezone=True), nullable=False),
    sa.Column('body', sa.JSON(), nullable=False),
    sa.Column('published_by', sa.String(length=100), nullable=False),
    sa.Column('published_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('kind', 'version')
    )
    op.create_table('rate_hits',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True,
              nullable=False),
    sa.Column('key', sa.String(length=80), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index("ix_rate_hits_key_at", "rate_hits", ['key', 'at'])

    op.create_table('settings',
    sa.Column('key', sa.String(length=40), nullable=False),
    sa.Column('value', sa.Text(), nullable=False),
    sa.PrimaryKeyConstraint('key')
    )
    op.create_table('case_timeline',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('case_id', sa.String(length=32), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('kind', sa.String(length=30), nullable=False),
    sa.Column('actor', sa.String(length=100), nullable=True),
    sa.Column('detail', sa.JSON(), nullable=False),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index("ix_case_timeline_case_id", "case_timeline", ['case_id'])

    op.create_table('identities',
    sa.Column('informant_id', sa.String(length=16), nullable=False),
    sa.Column('real_name', sa.String(length=100), nullable=False),
    sa.Column('phone', sa.String(length=30), nullable=True),
    sa.ForeignKeyConstraint(['informant_id'], ['informants.id'], ),
    sa.PrimaryKeyConstraint('informant_id')
    )
    op.create_table('identity_reveals',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('informant_id', sa.String(length=16), nullable=False),
    sa.Column('requested_by', sa.String(length=100), nullable=False),
    sa.Column('role', sa.String(length=20), nullable=False),
    sa.Column('organization_code', sa.String(length=100), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['informant_id'], ['informants.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index("ix_identity_reveals_informant_id", "identity_reveals", ['informant_id'])

    op.create_table('open_risks',
    sa.Column('risk_key', sa.String(length=300), nullable=False),
    sa.Column('case_id', sa.String(length=32), nullable=False),
    sa.Column('last_report_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], ),
    sa.PrimaryKeyConstraint('risk_key')
    )
    op.create_table('reports',
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.Column('pseudonym', sa.String(length=16), nullable=False),
    sa.Column('informant_id', sa.String(length=16), nullable=False),
    sa.Column('case_id', sa.String(length=32), nullable=False),
    sa.Column('receipt_hash', sa.String(length=64), nullable=True),
    sa.Column('credit_code', sa.String(length=18), nullable=True),
    sa.Column('enterprise_name', sa.String(length=200), nullable=False),
    sa.Column('address', sa.String(length=300), nullable=True),
    sa.Column('community_code', sa.String(length=100), nullable=False),
    sa.Column('category', sa.String(length=40), nullable=False),
    sa.Column('workers_affected', sa.Integer(), nullable=False),
    sa.Column('amount_owed_fen', sa.BigInteger(), nullable=False),
    sa.Column('expected_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('reward_policy_version', sa.Integer(), nullable=False),
    sa.Column('received_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], ),
    sa.ForeignKeyConstraint(['informant_id'], ['informants.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('pseudonym'),
    sa.UniqueConstraint('receipt_hash')
    )
    op.create_index("ix_reports_case_id", "reports", ['case_id'])
    op.create_index("ix_reports_informant_id", "reports", ['informant_id'])

    op.create_table('visits',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('enterprise_key', sa.String(length=300), nullable=False),
    sa.Column('credit_code', sa.String(length=18), nullable=True),
    sa.Column('enterprise_name', sa.String(length=200), nullable=False),
    sa.Column('district_code', sa.String(length=100), nullable=True),
    sa.Column('street_code', sa.String(length=100), nullable=True),
    sa.Column('community_code', sa.String(length=100), nullable=False),
    sa.Column('path', sa.JSON(), nullable=False),
    sa.Column('case_id', sa.String(length=32), nullable=True),
    sa.Column('kind', sa.String(length=10), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('year', sa.Integer(), nullable=False),
    sa.Column('irregular_practice', sa.Boolean(), nullable=False),
    sa.Column('workers_affected', sa.Integer(), nullable=True),
    sa.Column('amount_owed_fen', sa.BigInteger(), nullable=True),
    sa.Column('findings', sa.Text(), nullable=False),
    sa.Column('recorded_by', sa.String(length=100), nullable=False),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index("ix_visits_case_id", "visits", ['case_id'])
    op.create_index("ix_visits_community_code", "visits", ['community_code'])
    op.create_index("ix_visits_district_code", "visits", ['district_code'])
    op.create_index("ix_visits_enterprise_key", "visits", ['enterprise_key'])
    op.create_index("ix_visits_street_code", "visits", ['street_code'])
    op.create_index("ix_visits_year", "visits", ['year'])

    op.create_table('rewards',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('informant_id', sa.String(length=16), nullable=False),
    sa.Column('report_id', sa.String(length=32), nullable=False),
    sa.Column('case_id', sa.String(length=32), nullable=False),
    sa.Column('stage', sa.String(length=10), nullable=False),
    sa.Column('amount_fen', sa.BigInteger(), nullable=False),
    sa.Column('policy_version', sa.Integer(), nullable=False),
    sa.Column('explanation', sa.JSON(), nullable=False),
    sa.Column('month', sa.String(length=7), nullable=False),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('approved_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('approved_by', sa.String(length=100), nullable=True),
    sa.Column('paid_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('paid_by', sa.String(length=100), nullable=True),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], ),
    sa.ForeignKeyConstraint(['informant_id'], ['informants.id'], ),
    sa.ForeignKeyConstraint(['report_id'], ['reports.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('report_id', 'stage', name='uq_rewards_report_stage')
    )
    op.create_index("ix_rewards_case_id", "rewards", ['case_id'])
    op.create_index("ix_rewards_informant_id", "rewards", ['informant_id'])
    op.create_index("ix_rewards_informant_month", "rewards", ['informant_id', 'month'])

    _seed()


# Version 1 of each policy as shipped; a change is published as a new version, so these
# files never change (the migration must give the same database every time).
POLICIES = Path(__file__).resolve().parents[2] / "policies"


def _seed():
    bind = op.get_bind()
    policies = sa.table("policies", sa.column("kind"), sa.column("version"),
                        sa.column("effective_from", sa.DateTime(timezone=True)),
                        sa.column("body", sa.JSON), sa.column("published_by"),
                        sa.column("published_at", sa.DateTime(timezone=True)))
    now = datetime.now(UTC)
    for kind in ("grading", "rewards"):
        body = json.loads((POLICIES / f"{kind}-1.json").read_text(encoding="utf-8"))
        bind.execute(policies.insert().values(
            kind=kind, version=1, effective_from=datetime(2000, 1, 1, tzinfo=UTC), body=body,
            published_by="migration 0001", published_at=now))
    settings = sa.table("settings", sa.column("key"), sa.column("value"))
    for key in ("receipt_salt", "source_salt"):
        bind.execute(settings.insert().values(key=key, value=secrets.token_hex(16)))


def downgrade():
    op.drop_table("rewards")
    op.drop_table("visits")
    op.drop_table("reports")
    op.drop_table("open_risks")
    op.drop_table("identity_reveals")
    op.drop_table("identities")
    op.drop_table("case_timeline")
    op.drop_table("settings")
    op.drop_table("rate_hits")
    op.drop_table("policies")
    op.drop_table("organizations")
    op.drop_table("informants")
    op.drop_table("enterprises")
    op.drop_table("cases")
    drop_kit_tables(op)
