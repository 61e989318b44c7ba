"""competitions tables, the kit's tables and the hashing salts

Revision ID: 0001
"""

from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

from services.competitions.policy import default_body
from shared.db import create_kit_tables, drop_kit_tables
from shared.receipts import new_salt

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
revision = "0001"
down_revision = None


def upgrade():
    create_kit_tables(op)
    op.create_table('dispute_cases',
    sa.Column('case_id', sa.String(length=64), nullable=False),
    sa.Column('credit_code', sa.String(length=100), nullable=True),
    sa.Column('grade', sa.String(length=10), nullable=False),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('reported_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('as_of', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('case_id')
    )
    op.create_index("ix_dispute_cases_credit_code", "dispute_cases", ['credit_code'])

    op.create_table('enterprises',
    sa.Column('credit_code', sa.String(length=100), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('community_code', sa.String(length=100), nullable=False),
    sa.Column('path', sa.JSON(), nullable=False),
    sa.Column('path_key', sa.Text(), nullable=False),
    sa.Column('headcount', sa.Integer(), nullable=False),
    sa.Column('key_enterprise', sa.Boolean(), nullable=False),
    sa.Column('union_status', sa.String(length=10), nullable=False),
    sa.Column('union_code', sa.String(length=100), nullable=True),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('as_of', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('credit_code')
    )
    op.create_index("ix_enterprises_path_key", "enterprises", ['path_key'])

    op.create_table('honours',
    sa.Column('id', ID, autoincrement=True, nullable=False),
    sa.Column('worker_id', ID, nullable=False),
    sa.Column('kind', sa.String(length=40), nullable=False),
    sa.Column('level', sa.String(length=20), nullable=True),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('year', sa.Integer(), nullable=False),
    sa.Column('note', sa.String(length=500), nullable=True),
    sa.Column('recorded_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('recorded_by', sa.String(length=100), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index("ix_honours_worker_id", "honours", ['worker_id'])

    op.create_table('members',
    sa.Column('worker_id', ID, autoincrement=False, nullable=False),
    sa.Column('membership_id', ID, nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('union_code', sa.String(length=100), nullable=False),
    sa.Column('enterprise_credit_code', sa.String(length=100), nullable=False),
    sa.Column('path', sa.JSON(), nullable=False),
    sa.Column('as_of', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('worker_id')
    )
    op.create_index("ix_members_enterprise_credit_code", "members", ['enterprise_credit_code'])

    op.create_table('organizations',
    sa.Column('code', sa.String(length=100), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('kind', sa.String(length=40), nullable=False),
    sa.Column('tier', sa.String(length=20), nullable=False),
    sa.Column('parent_code', sa.String(length=100), nullable=True),
    sa.Column('path', sa.JSON(), nullable=False),
    sa.Column('path_key', sa.Text(), nullable=False),
    sa.Column('party_name', sa.String(length=200), nullable=True),
    sa.Column('party_kind', sa.String(length=40), nullable=True),
    sa.Column('as_of', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('code')
    )
    op.create_index("ix_organizations_path_key", "organizations", ['path_key'])

    op.create_table('rate_hits',
    sa.Column('id', ID, autoincrement=True, nullable=False),
    sa.Column('key', sa.String(length=80), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index("ix_rate_hits_key_at", "rate_hits", ['key', 'at'])

    op.create_table('rules',
    sa.Column('version', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('body', sa.JSON(), nullable=False),
    sa.Column('note', sa.String(length=500), nullable=True),
    sa.Column('published_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('published_by', sa.String(length=100), nullable=False),
    sa.PrimaryKeyConstraint('version')
    )
    op.create_table('settings',
    sa.Column('key', sa.String(length=40), nullable=False),
    sa.Column('value', sa.Text(), nullable=False),
    sa.PrimaryKeyConstraint('key')
    )
    op.create_table('editions',
    sa.Column('id', sa.String(length=20), nullable=False),
    sa.Column('year', sa.Integer(), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('district_code', sa.String(length=100), nullable=False),
    sa.Column('rules_version', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('created_by', sa.String(length=100), nullable=False),
    sa.ForeignKeyConstraint(['rules_version'], ['rules.version'], ),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_table('nominations',
    sa.Column('id', ID, autoincrement=True, nullable=False),
    sa.Column('edition_id', sa.String(length=20), nullable=False),
    sa.Column('group_code', sa.String(length=40), nullable=False),
    sa.Column('worker_id', ID, nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('enterprise_credit_code', sa.String(length=100), nullable=False),
    sa.Column('enterprise_name', sa.String(length=200), nullable=True),
    sa.Column('path', sa.JSON(), nullable=False),
    sa.Column('path_key', sa.Text(), nullable=False),
    sa.Column('street_code', sa.String(length=100), nullable=True),
    sa.Column('union_code', sa.String(length=100), nullable=True),
    sa.Column('nominated_by', sa.String(length=100), nullable=False),
    sa.Column('statement', sa.Text(), nullable=False),
    sa.Column('attachments', sa.JSON(), nullable=False),
    sa.Column('facts', sa.JSON(), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('failed_rules', sa.JSON(), nullable=False),
    sa.Column('rules_version', sa.Integer(), nullable=False),
    sa.Column('submitted_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('submitted_by', sa.String(length=100), nullable=False),
    sa.Column('checked_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['edition_id'], ['editions.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('edition_id', 'worker_id', name='uq_nominations_edition_worker')
    )
    op.create_index("ix_nominations_edition_status", "nominations", ['edition_id', 'status'])
    op.create_index("ix_nominations_enterprise_credit_code", "nominations",
                    ['enterprise_credit_code'])
    op.create_index("ix_nominations_path_key", "nominations", ['path_key'])
    op.create_index("ix_nominations_street_code", "nominations", ['street_code'])

    op.create_table('rounds',
    sa.Column('id', ID, autoincrement=True, nullable=False),
    sa.Column('edition_id', sa.String(length=20), nullable=False),
    sa.Column('stage', sa.String(length=20), nullable=False),
    sa.Column('organization_code', sa.String(length=100), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('path', sa.JSON(), nullable=False),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('opened_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('closed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('ends_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['edition_id'], ['editions.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('edition_id', 'stage', 'organization_code',
                        name='uq_rounds_edition_stage_organization')
    )
    op.create_table('awards',
    sa.Column('id', ID, autoincrement=True, nullable=False),
    sa.Column('edition_id', sa.String(length=20), nullable=False),
    sa.Column('nomination_id', ID, nullable=False),
    sa.Column('worker_id', ID, nullable=False),
    sa.Column('group_code', sa.String(length=40), nullable=False),
    sa.Column('rank', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('moved_up', sa.Boolean(), nullable=False),
    sa.Column('granted_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('revoke_reason', sa.String(length=500), nullable=True),
    sa.ForeignKeyConstraint(['edition_id'], ['editions.id'], ),
    sa.ForeignKeyConstraint(['nomination_id'], ['nominations.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index("ix_awards_edition_group", "awards", ['edition_id', 'group_code'])
    op.create_index("ix_awards_worker_id", "awards", ['worker_id'])

    op.create_table('contestants',
    sa.Column('id', ID, autoincrement=True, nullable=False),
    sa.Column('round_id', ID, nullable=False),
    sa.Column('nomination_id', ID, nullable=False),
    sa.Column('group_code', sa.String(length=40), nullable=False),
    sa.Column('running_order', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['nomination_id'], ['nominations.id'], ),
    sa.ForeignKeyConstraint(['round_id'], ['rounds.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('round_id', 'nomination_id', name='uq_contestants_round_nomination')
    )
    op.create_index("ix_contestants_round_order", "contestants", ['round_id', 'running_order'])

    op.create_table('flags',
    sa.Column('id', ID, autoincrement=True, nullable=False),
    sa.Column('nomination_id', ID, nullable=False),
    sa.Column('reason_code', sa.String(length=30), nullable=False),
    sa.Column('reason', sa.String(length=500), nullable=False),
    sa.Column('flagged_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('resolved_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('resolved_by', sa.String(length=100), nullable=True),
    sa.Column('decision', sa.String(length=20), nullable=True),
    sa.Column('note', sa.String(length=500), nullable=True),
    sa.ForeignKeyConstraint(['nomination_id'], ['nominations.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index("ix_flags_nomination_id", "flags", ['nomination_id'])

    op.create_table('judges',
    sa.Column('id', ID, autoincrement=True, nullable=False),
    sa.Column('round_id', ID, nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('user_name', sa.String(length=100), nullable=False),
    sa.Column('organization_code', sa.String(length=100), nullable=False),
    sa.Column('organization_name', sa.String(length=200), nullable=False),
    sa.Column('path', sa.JSON(), nullable=False),
    sa.Column('registered_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('registered_by', sa.String(length=100), nullable=False),
    sa.ForeignKeyConstraint(['round_id'], ['rounds.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('round_id', 'user_name', name='uq_judges_round_user')
    )
    op.create_table('rankings',
    sa.Column('round_id', ID, nullable=False),
    sa.Column('group_code', sa.String(length=40), nullable=False),
    sa.Column('method', sa.String(length=20), nullable=False),
    sa.Column('entries', sa.JSON(), nullable=False),
    sa.Column('computed_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['round_id'], ['rounds.id'], ),
    sa.PrimaryKeyConstraint('round_id', 'group_code')
    )
    op.create_table('exclusions',
    sa.Column('id', ID, autoincrement=True, nullable=False),
    sa.Column('round_id', ID, nullable=False),
    sa.Column('judge_id', ID, nullable=False),
    sa.Column('contestant_id', ID, nullable=False),
    sa.Column('reason', sa.String(length=30), nullable=False),
    sa.Column('note', sa.String(length=500), nullable=True),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['contestant_id'], ['contestants.id'], ),
    sa.ForeignKeyConstraint(['judge_id'], ['judges.id'], ),
    sa.ForeignKeyConstraint(['round_id'], ['rounds.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('judge_id', 'contestant_id', name='uq_exclusions_judge_contestant')
    )
    op.create_index("ix_exclusions_round_id", "exclusions", ['round_id'])

    op.create_table('objections',
    sa.Column('id', ID, autoincrement=True, nullable=False),
    sa.Column('edition_id', sa.String(length=20), nullable=False),
    sa.Column('award_id', ID, nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('receipt_hash', sa.String(length=64), nullable=False),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('lodged_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('decided_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('decided_by', sa.String(length=100), nullable=True),
    sa.Column('decision_note', sa.String(length=1000), nullable=True),
    sa.ForeignKeyConstraint(['award_id'], ['awards.id'], ),
    sa.ForeignKeyConstraint(['edition_id'], ['editions.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('receipt_hash')
    )
    op.create_index("ix_objections_award_id", "objections", ['award_id'])

    op.create_table('scores',
    sa.Column('id', ID, autoincrement=True, nullable=False),
    sa.Column('round_id', ID, nullable=False),
    sa.Column('judge_id', ID, nullable=False),
    sa.Column('contestant_id', ID, nullable=False),
    sa.Column('marks', sa.JSON(), nullable=False),
    sa.Column('total', sa.Float(), nullable=False),
    sa.Column('comment', sa.Text(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['contestant_id'], ['contestants.id'], ),
    sa.ForeignKeyConstraint(['judge_id'], ['judges.id'], ),
    sa.ForeignKeyConstraint(['round_id'], ['rounds.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('judge_id', 'contestant_id', name='uq_scores_judge_contestant')
    )
    op.create_index("ix_scores_round_id", "scores", ['round_id'])

    op.create_table('score_changes',
    sa.Column('id', ID, autoincrement=True, nullable=False),
    sa.Column('score_id', ID, nullable=False),
    sa.Column('client_id', sa.String(length=64), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('marks', sa.JSON(), nullable=False),
    sa.Column('total', sa.Float(), nullable=False),
    sa.Column('comment', sa.Text(), nullable=False),
    sa.Column('saved_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['score_id'], ['scores.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('client_id')
    )
    op.create_index("ix_score_changes_score_id", "score_changes", ['score_id'])

    settings = sa.table("settings", sa.column("key", sa.String), sa.column("value", sa.Text))
    op.bulk_insert(settings, [{"key": "receipt_salt", "value": new_salt()},
                              {"key": "source_salt", "value": new_salt()}])
    rules = sa.table("rules", sa.column("version", sa.Integer), sa.column("body", sa.JSON),
                     sa.column("note", sa.String), sa.column("published_at", sa.DateTime),
                     sa.column("published_by", sa.String))
    op.bulk_insert(rules, [{"version": 1, "body": default_body(),
                            "note": "the 2016 groups (policies/rules-1.json)",
                            "published_at": datetime(2016, 1, 1, tzinfo=UTC),
                            "published_by": "competitions"}])


def downgrade():
    op.drop_index("ix_score_changes_score_id", table_name="score_changes")

    op.drop_table('score_changes')
    op.drop_index("ix_scores_round_id", table_name="scores")

    op.drop_table('scores')
    op.drop_index("ix_objections_award_id", table_name="objections")

    op.drop_table('objections')
    op.drop_index("ix_exclusions_round_id", table_name="exclusions")

    op.drop_table('exclusions')
    op.drop_table('rankings')
    op.drop_table('judges')
    op.drop_index("ix_flags_nomination_id", table_name="flags")

    op.drop_table('flags')
    op.drop_index("ix_contestants_round_order", table_name="contestants")

    op.drop_table('contestants')
    op.drop_index("ix_awards_worker_id", table_name="awards")
    op.drop_index("ix_awards_edition_group", table_name="awards")

    op.drop_table('awards')
    op.drop_table('rounds')
    op.drop_index("ix_nominations_street_code", table_name="nominations")
    op.drop_index("ix_nominations_path_key", table_name="nominations")
    op.drop_index("ix_nominations_enterprise_credit_code", table_name="nominations")
    op.drop_index("ix_nominations_edition_status", table_name="nominations")

    op.drop_table('nominations')
    op.drop_table('editions')
    op.drop_table('settings')
    op.drop_table('rules')
    op.drop_index("ix_rate_hits_key_at", table_name="rate_hits")

    op.drop_table('rate_hits')
    op.drop_index("ix_organizations_path_key", table_name="organizations")

    op.drop_table('organizations')
    op.drop_index("ix_members_enterprise_credit_code", table_name="members")

    op.drop_table('members')
    op.drop_index("ix_honours_worker_id", table_name="honours")

    op.drop_table('honours')
    op.drop_index("ix_enterprises_path_key", table_name="enterprises")

    op.drop_table('enterprises')
    op.drop_index("ix_dispute_cases_credit_code", table_name="dispute_cases")

    op.drop_table('dispute_cases')
    drop_kit_tables(op)
