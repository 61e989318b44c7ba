"""incubation: social organizations, stages, assessments, funds, calls, applications,
awards, tranches, progress reports, the ledger, contracts, activities, beneficiaries, the
kept counts of workers reached, referrals; read models of the registry, of members and of
service requests; and the kit's tables

Revision ID: 0001
"""

import sqlalchemy as sa
from alembic import op

from shared.db import create_kit_tables, drop_kit_tables
from shared.membership_readmodel import member_columns
from shared.registry_readmodel import enterprise_columns, organization_columns

revision = "0001"
down_revision = None


def upgrade():
    create_kit_tables(op)
    op.create_table(
        "activity_counts",
        sa.Column("node", sa.String(length=100), nullable=False),
        sa.Column("period", sa.String(length=10), nullable=False),
        sa.Column("kind", sa.String(length=30), nullable=False),
        sa.Column("activities", sa.BigInteger(), nullable=False),
        sa.Column("participants", sa.BigInteger(), nullable=False),
        sa.Column("beneficiaries", sa.BigInteger(), nullable=False),
        sa.Column("members", sa.BigInteger(), nullable=False),
        sa.Column("minutes", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("node", "period", "kind"),
    )
    op.create_table(
        "funds",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("source", sa.String(length=20), nullable=False),
        sa.Column("owner_code", sa.String(length=100), nullable=False),
        sa.Column("owner_path", sa.JSON(), nullable=False),
        sa.Column("budget", sa.BigInteger(), nullable=False),
        sa.Column("awarded", sa.BigInteger(), nullable=False),
        sa.Column("disbursed", sa.BigInteger(), nullable=False),
        sa.Column("created_by", sa.String(length=100), nullable=False),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("name"),
    )
    op.create_table("members", *member_columns())  # the kit's membership read model

    op.create_table(
        "reach",
        sa.Column("worker_key", sa.String(length=120), nullable=False),
        sa.Column("node", sa.String(length=100), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("months", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("worker_key", "node", "year"),
    )
    op.create_table(
        "reach_counts",
        sa.Column("node", sa.String(length=100), nullable=False),
        sa.Column("period", sa.String(length=10), nullable=False),
        sa.Column("workers", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("node", "period"),
    )
    # The registry read model: the kit's columns (shared.registry_readmodel), as the
    # kit's own tables come from its definitions (create_kit_tables).
    op.create_table("registry_enterprises", *enterprise_columns())
    op.create_table("registry_organizations", *organization_columns())

    op.create_table(
        "samples",
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("loaded_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("name"),
    )
    op.create_table(
        "service_requests",
        sa.Column("request_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("worker_id", sa.BigInteger(), nullable=False),
        sa.Column("kind", sa.String(length=30), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("handling_code", sa.String(length=100), nullable=False),
        sa.Column("as_of", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("request_id"),
    )
    op.create_table(
        "social_organizations",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("service_kind", sa.String(length=30), nullable=False),
        sa.Column("hub", sa.Boolean(), nullable=False),
        sa.Column("home_code", sa.String(length=100), nullable=False),
        sa.Column("home_path", sa.JSON(), nullable=False),
        sa.Column("home_path_key", sa.Text(), nullable=False),
        sa.Column("places", sa.JSON(), nullable=False),
        sa.Column("contacts", sa.JSON(), nullable=False),
        sa.Column("credit_code", sa.String(length=18), nullable=True),
        sa.Column("registered_on", sa.Date(), nullable=True),
        sa.Column("stage", sa.String(length=20), nullable=True),
        sa.Column("stage_since", sa.Date(), nullable=True),
        sa.Column("incubation_deadline", sa.Date(), nullable=True),
        sa.Column("plan", sa.JSON(), nullable=True),
        sa.Column("reminded_for", sa.Date(), nullable=True),
        sa.Column("overdue_for", sa.Date(), nullable=True),
        sa.Column("grade", sa.String(length=2), nullable=True),
        sa.Column("grade_until", sa.Date(), nullable=True),
        sa.Column("assessment_id", sa.BigInteger(), nullable=True),
        sa.Column("activities", sa.Integer(), nullable=False),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.Column(
            "updated_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("credit_code"),
        sa.UniqueConstraint("name"),
    )
    with op.batch_alter_table("social_organizations", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_social_organizations_grade_until"), ["grade_until"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_social_organizations_home_path_key"), ["home_path_key"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_social_organizations_incubation_deadline"),
            ["incubation_deadline"],
            unique=False,
        )
        batch_op.create_index(batch_op.f("ix_social_organizations_stage"), ["stage"], unique=False)

    op.create_table(
        "activities",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("organization_id", sa.BigInteger(), nullable=False),
        sa.Column("kind", sa.String(length=30), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("held_on", sa.Date(), nullable=False),
        sa.Column("place_code", sa.String(length=100), nullable=False),
        sa.Column("place_path", sa.JSON(), nullable=False),
        sa.Column("place_path_key", sa.Text(), nullable=False),
        sa.Column("minutes", sa.Integer(), nullable=False),
        sa.Column("participants", sa.Integer(), nullable=False),
        sa.Column("beneficiaries", sa.Integer(), nullable=False),
        sa.Column("members", sa.Integer(), nullable=False),
        sa.Column("reported_by", sa.String(length=100), nullable=False),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["social_organizations.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("activities", schema=None) as batch_op:
        batch_op.create_index(
            "ix_activities_organization_held", ["organization_id", "held_on", "id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_activities_place_path_key"), ["place_path_key"], unique=False
        )

    op.create_table(
        "assessments",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("organization_id", sa.BigInteger(), nullable=False),
        sa.Column("assessed_on", sa.Date(), nullable=False),
        sa.Column("evaluator", sa.String(length=200), nullable=False),
        sa.Column("assessors", sa.JSON(), nullable=False),
        sa.Column("breakdown", sa.JSON(), nullable=False),
        sa.Column("total", sa.String(length=10), nullable=False),
        sa.Column("grade", sa.String(length=2), nullable=True),
        sa.Column("band_min", sa.String(length=10), nullable=True),
        sa.Column("policy_version", sa.Integer(), nullable=False),
        sa.Column("valid_until", sa.Date(), nullable=False),
        sa.Column("recorded_by", sa.String(length=100), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["social_organizations.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("assessments", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_assessments_organization_id"), ["organization_id"], unique=False
        )

    op.create_table(
        "calls",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("fund_id", sa.BigInteger(), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("opens_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("closes_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("eligibility", sa.JSON(), nullable=False),
        sa.Column("max_award", sa.BigInteger(), nullable=True),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.ForeignKeyConstraint(
            ["fund_id"],
            ["funds.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("calls", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_calls_fund_id"), ["fund_id"], unique=False)

    op.create_table(
        "contracts",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("organization_id", sa.BigInteger(), nullable=False),
        sa.Column("buyer_code", sa.String(length=100), nullable=False),
        sa.Column("buyer_path", sa.JSON(), nullable=False),
        sa.Column("service", sa.String(length=200), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("starts_on", sa.Date(), nullable=False),
        sa.Column("ends_on", sa.Date(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("signed_by", sa.String(length=100), nullable=False),
        sa.Column("policy_version", sa.Integer(), nullable=False),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["social_organizations.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("contracts", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_contracts_organization_id"), ["organization_id"], unique=False
        )

    op.create_table(
        "ledger_lines",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("transaction", sa.String(length=60), nullable=False),
        sa.Column("fund_id", sa.BigInteger(), nullable=False),
        sa.Column("organization_id", sa.BigInteger(), nullable=True),
        sa.Column("side", sa.String(length=20), nullable=False),
        sa.Column("account", sa.String(length=20), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["fund_id"],
            ["funds.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("ledger_lines", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_ledger_lines_fund_id"), ["fund_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_ledger_lines_organization_id"), ["organization_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_ledger_lines_transaction"), ["transaction"], unique=False
        )

    op.create_table(
        "referrals",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("request_id", sa.BigInteger(), nullable=False),
        sa.Column("worker_id", sa.BigInteger(), nullable=False),
        sa.Column("organization_id", sa.BigInteger(), nullable=False),
        sa.Column("request_kind", sa.String(length=30), nullable=False),
        sa.Column("path", sa.JSON(), nullable=False),
        sa.Column("path_key", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("outcome_note", sa.Text(), nullable=True),
        sa.Column("referred_by", sa.String(length=100), nullable=False),
        sa.Column("referred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("concluded_by", sa.String(length=100), nullable=True),
        sa.Column("concluded_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["social_organizations.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("referrals", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_referrals_organization_id"), ["organization_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_referrals_path_key"), ["path_key"], unique=False)
        batch_op.create_index(batch_op.f("ix_referrals_request_id"), ["request_id"], unique=False)

    op.create_table(
        "stage_changes",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("organization_id", sa.BigInteger(), nullable=False),
        sa.Column("from_stage", sa.String(length=20), nullable=True),
        sa.Column("to_stage", sa.String(length=20), nullable=False),
        sa.Column("effective_on", sa.Date(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("actor", sa.String(length=100), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["social_organizations.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("stage_changes", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_stage_changes_organization_id"), ["organization_id"], unique=False
        )

    op.create_table(
        "applications",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("call_id", sa.BigInteger(), nullable=False),
        sa.Column("organization_id", sa.BigInteger(), nullable=False),
        sa.Column("project", sa.String(length=200), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("score", sa.String(length=10), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("reviewed_by", sa.String(length=100), nullable=True),
        sa.Column("decided_by", sa.String(length=100), nullable=True),
        sa.Column("submitted_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["call_id"],
            ["calls.id"],
        ),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["social_organizations.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("call_id", "organization_id", name="uq_applications_call_org"),
    )
    with op.batch_alter_table("applications", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_applications_organization_id"), ["organization_id"], unique=False
        )

    op.create_table(
        "beneficiaries",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("activity_id", sa.BigInteger(), nullable=False),
        sa.Column("worker_key", sa.String(length=120), nullable=False),
        sa.Column("worker_id", sa.BigInteger(), nullable=True),
        sa.Column("ref", sa.String(length=100), nullable=True),
        sa.ForeignKeyConstraint(
            ["activity_id"],
            ["activities.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("beneficiaries", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_beneficiaries_activity_id"), ["activity_id"], unique=False
        )

    op.create_table(
        "deliverables",
        sa.Column("contract_id", sa.BigInteger(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("due_on", sa.Date(), nullable=False),
        sa.Column("accepted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("accepted_by", sa.String(length=100), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["contract_id"],
            ["contracts.id"],
        ),
        sa.PrimaryKeyConstraint("contract_id", "number"),
    )
    op.create_table(
        "awards",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("application_id", sa.BigInteger(), nullable=False),
        sa.Column("fund_id", sa.BigInteger(), nullable=False),
        sa.Column("organization_id", sa.BigInteger(), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("disbursed", sa.BigInteger(), nullable=False),
        sa.Column("awarded_on", sa.Date(), nullable=False),
        sa.Column("awarded_by", sa.String(length=100), nullable=False),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.ForeignKeyConstraint(
            ["application_id"],
            ["applications.id"],
        ),
        sa.ForeignKeyConstraint(
            ["fund_id"],
            ["funds.id"],
        ),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["social_organizations.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("application_id"),
    )
    with op.batch_alter_table("awards", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_awards_fund_id"), ["fund_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_awards_organization_id"), ["organization_id"], unique=False
        )

    op.create_table(
        "progress_reports",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("award_id", sa.BigInteger(), nullable=False),
        sa.Column("tranche", sa.Integer(), nullable=False),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("submitted_by", sa.String(length=100), nullable=False),
        sa.Column("submitted_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("decided_by", sa.String(length=100), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["award_id"],
            ["awards.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("award_id", "tranche", name="uq_progress_reports_tranche"),
    )
    op.create_table(
        "tranches",
        sa.Column("award_id", sa.BigInteger(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("paid_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("paid_by", sa.String(length=100), nullable=True),
        sa.ForeignKeyConstraint(
            ["award_id"],
            ["awards.id"],
        ),
        sa.PrimaryKeyConstraint("award_id", "number"),
    )


def downgrade():
    op.drop_table("tranches")
    op.drop_table("progress_reports")
    with op.batch_alter_table("awards", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_awards_organization_id"))
        batch_op.drop_index(batch_op.f("ix_awards_fund_id"))

    op.drop_table("awards")
    op.drop_table("deliverables")
    with op.batch_alter_table("beneficiaries", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_beneficiaries_activity_id"))

    op.drop_table("beneficiaries")
    with op.batch_alter_table("applications", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_applications_organization_id"))

    op.drop_table("applications")
    with op.batch_alter_table("stage_changes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_stage_changes_organization_id"))

    op.drop_table("stage_changes")
    with op.batch_alter_table("referrals", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_referrals_request_id"))
        batch_op.drop_index(batch_op.f("ix_referrals_path_key"))
        batch_op.drop_index(batch_op.f("ix_referrals_organization_id"))

    op.drop_table("referrals")
    with op.batch_alter_table("ledger_lines", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_ledger_lines_transaction"))
        batch_op.drop_index(batch_op.f("ix_ledger_lines_organization_id"))
        batch_op.drop_index(batch_op.f("ix_ledger_lines_fund_id"))

    op.drop_table("ledger_lines")
    with op.batch_alter_table("contracts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_contracts_organization_id"))

    op.drop_table("contracts")
    with op.batch_alter_table("calls", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_calls_fund_id"))

    op.drop_table("calls")
    with op.batch_alter_table("assessments", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_assessments_organization_id"))

    op.drop_table("assessments")
    with op.batch_alter_table("activities", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_activities_place_path_key"))
        batch_op.drop_index("ix_activities_organization_held")

    op.drop_table("activities")
    with op.batch_alter_table("social_organizations", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_social_organizations_stage"))
        batch_op.drop_index(batch_op.f("ix_social_organizations_incubation_deadline"))
        batch_op.drop_index(batch_op.f("ix_social_organizations_home_path_key"))
        batch_op.drop_index(batch_op.f("ix_social_organizations_grade_until"))

    op.drop_table("social_organizations")
    op.drop_table("service_requests")
    op.drop_table("samples")
    with op.batch_alter_table("registry_organizations", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_registry_organizations_path_key"))

    op.drop_table("registry_organizations")
    with op.batch_alter_table("registry_enterprises", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_registry_enterprises_path_key"))

    op.drop_table("registry_enterprises")
    op.drop_table("reach_counts")
    op.drop_table("reach")
    with op.batch_alter_table("members", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_members_enterprise_credit_code"))

    op.drop_table("members")
    op.drop_table("funds")
    op.drop_table("activity_counts")
    drop_kit_tables(op)
