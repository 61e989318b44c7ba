"""The competitions service's own tables (its database alone).

Read models of other services' events: ``organizations`` and ``enterprises`` (the
registry, ``shared.registry_readmodel``), ``members`` (membership,
``shared.membership_readmodel``) and ``dispute_cases`` (the grade of disputes' cases).
"""

import sqlalchemy as sa

from shared import idempotency
from shared.membership_readmodel import member_columns
from shared.ratelimit import rate_hits_table
from shared.registry_readmodel import enterprise_columns, organization_columns

metadata = sa.MetaData()
CODE = 100
ID = sa.BigInteger().with_variant(sa.Integer, "sqlite")

# --- read models ----------------------------------------------------------------------

organizations = sa.Table("organizations", metadata, *organization_columns())
enterprises = sa.Table("enterprises", metadata, *enterprise_columns())
members = sa.Table("members", metadata, *member_columns())

# One row per disputes case: only what eligibility and flags look at.
dispute_cases = sa.Table(
    "dispute_cases", metadata,
    sa.Column("case_id", sa.String(64), primary_key=True),
    sa.Column("credit_code", sa.String(CODE), nullable=True, index=True),
    sa.Column("grade", sa.String(10), nullable=False),
    sa.Column("status", sa.String(10), nullable=False),
    sa.Column("reported_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("as_of", sa.DateTime(timezone=True)),
)

# --- the service's own ------------------------------------------------------------------

settings = sa.Table(
    "settings", metadata,
    sa.Column("key", sa.String(40), primary_key=True),
    sa.Column("value", sa.Text, nullable=False),
)

# Versions of the rules document (policy.py); an edition keeps the one it was made under.
rules = sa.Table(
    "rules", metadata,
    sa.Column("version", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("body", sa.JSON, nullable=False),
    sa.Column("note", sa.String(500), nullable=True),
    sa.Column("published_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("published_by", sa.String(100), nullable=False),
)

editions = sa.Table(
    "editions", metadata,
    sa.Column("id", sa.String(20), primary_key=True),  # "2016"
    sa.Column("year", sa.Integer, nullable=False),
    sa.Column("title", sa.String(200), nullable=False),
    sa.Column("district_code", sa.String(CODE), nullable=False),
    sa.Column("rules_version", sa.Integer, sa.ForeignKey("rules.version"), nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("created_by", sa.String(100), nullable=False),
)

rounds = sa.Table(
    "rounds", metadata,
    sa.Column("id", ID, primary_key=True, autoincrement=True),
    sa.Column("edition_id", sa.String(20), sa.ForeignKey("editions.id"), nullable=False),
    sa.Column("stage", sa.String(20), nullable=False),
    sa.Column("organization_code", sa.String(CODE), nullable=False),  # the street of a street final
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("path", sa.JSON, nullable=False),  # district .. organization_code
    sa.Column("status", sa.String(10), nullable=False),
    sa.Column("opened_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("ends_at", sa.DateTime(timezone=True), nullable=True),  # a public notice's end
    sa.UniqueConstraint("edition_id", "stage", "organization_code",
                     name="uq_rounds_edition_stage_organization"),
)

nominations = sa.Table(
    "nominations", metadata,
    sa.Column("id", ID, primary_key=True, autoincrement=True),
    sa.Column("edition_id", sa.String(20), sa.ForeignKey("editions.id"), nullable=False),
    sa.Column("group_code", sa.String(40), nullable=False),
    sa.Column("worker_id", ID, nullable=False),
    sa.Column("name", sa.String(100), nullable=False),
    sa.Column("enterprise_credit_code", sa.String(CODE), nullable=False, index=True),
    sa.Column("enterprise_name", sa.String(200), nullable=True),
    sa.Column("path", sa.JSON, nullable=False),  # the enterprise's: district .. community
    sa.Column("path_key", sa.Text, nullable=False, index=True),  # "/district/.../community/"
    sa.Column("street_code", sa.String(CODE), nullable=True, index=True),
    sa.Column("union_code", sa.String(CODE), nullable=True),
    sa.Column("nominated_by", sa.String(CODE), nullable=False),
    sa.Column("statement", sa.Text, nullable=False),
    sa.Column("attachments", sa.JSON, nullable=False),
    sa.Column("facts", sa.JSON, nullable=False),
    sa.Column("status", sa.String(20), nullable=False),
    sa.Column("failed_rules", sa.JSON, nullable=False),
    sa.Column("rules_version", sa.Integer, nullable=False),
    sa.Column("submitted_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("submitted_by", sa.String(100), nullable=False),
    sa.Column("checked_at", sa.DateTime(timezone=True), nullable=False),
    sa.UniqueConstraint("edition_id", "worker_id", name="uq_nominations_edition_worker"),
    sa.Index("ix_nominations_edition_status", "edition_id", "status"),
)

flags = sa.Table(
    "flags", metadata,
    sa.Column("id", ID, primary_key=True, autoincrement=True),
    sa.Column("nomination_id", ID, sa.ForeignKey("nominations.id"), nullable=False, index=True),
    sa.Column("reason_code", sa.String(30), nullable=False),
    sa.Column("reason", sa.String(500), nullable=False),
    sa.Column("flagged_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("resolved_by", sa.String(100), nullable=True),
    sa.Column("decision", sa.String(20), nullable=True),
    sa.Column("note", sa.String(500), nullable=True),
)

contestants = sa.Table(
    "contestants", metadata,
    sa.Column("id", ID, primary_key=True, autoincrement=True),
    sa.Column("round_id", ID, sa.ForeignKey("rounds.id"), nullable=False),
    sa.Column("nomination_id", ID, sa.ForeignKey("nominations.id"), nullable=False),
    sa.Column("group_code", sa.String(40), nullable=False),
    sa.Column("running_order", sa.Integer, nullable=False),
    sa.UniqueConstraint("round_id", "nomination_id", name="uq_contestants_round_nomination"),
    sa.Index("ix_contestants_round_order", "round_id", "running_order"),
)

judges = sa.Table(
    "judges", metadata,
    sa.Column("id", ID, primary_key=True, autoincrement=True),
    sa.Column("round_id", ID, sa.ForeignKey("rounds.id"), nullable=False),
    sa.Column("name", sa.String(100), nullable=False),
    sa.Column("user_name", sa.String(100), nullable=False),  # the gateway user who signs in
    sa.Column("organization_code", sa.String(CODE), nullable=False),
    sa.Column("organization_name", sa.String(200), nullable=False),
    sa.Column("path", sa.JSON, nullable=False),  # district .. organization (or its community)
    sa.Column("registered_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("registered_by", sa.String(100), nullable=False),
    sa.UniqueConstraint("round_id", "user_name", name="uq_judges_round_user"),
)

exclusions = sa.Table(
    "exclusions", metadata,
    sa.Column("id", ID, primary_key=True, autoincrement=True),
    sa.Column("round_id", ID, sa.ForeignKey("rounds.id"), nullable=False, index=True),
    sa.Column("judge_id", ID, sa.ForeignKey("judges.id"), nullable=False),
    sa.Column("contestant_id", ID, sa.ForeignKey("contestants.id"), nullable=False),
    sa.Column("reason", sa.String(30), nullable=False),  # domain.CONFLICT_WORDING
    sa.Column("note", sa.String(500), nullable=True),
    sa.Column("at", sa.DateTime(timezone=True), nullable=False),
    sa.UniqueConstraint("judge_id", "contestant_id", name="uq_exclusions_judge_contestant"),
)

# A judge's current marks for a contestant; every save is also kept in score_changes.
# A judge who declares a conflict after scoring has the score set aside (withdrawn_at):
# kept with its history, counted nowhere.
scores = sa.Table(
    "scores", metadata,
    sa.Column("id", ID, primary_key=True, autoincrement=True),
    sa.Column("round_id", ID, sa.ForeignKey("rounds.id"), nullable=False, index=True),
    sa.Column("judge_id", ID, sa.ForeignKey("judges.id"), nullable=False),
    sa.Column("contestant_id", ID, sa.ForeignKey("contestants.id"), nullable=False),
    sa.Column("marks", sa.JSON, nullable=False),
    sa.Column("total", sa.Float, nullable=False),
    sa.Column("comment", sa.Text, nullable=False),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("withdrawn_at", sa.DateTime(timezone=True), nullable=True),
    sa.UniqueConstraint("judge_id", "contestant_id", name="uq_scores_judge_contestant"),
)

score_changes = sa.Table(
    "score_changes", metadata,
    sa.Column("id", ID, primary_key=True, autoincrement=True),
    sa.Column("score_id", ID, sa.ForeignKey("scores.id"), nullable=False, index=True),
    sa.Column("client_id", sa.String(64), nullable=False, unique=True),  # the save's own id
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("marks", sa.JSON, nullable=False),
    sa.Column("total", sa.Float, nullable=False),
    sa.Column("comment", sa.Text, nullable=False),
    sa.Column("saved_at", sa.DateTime(timezone=True), nullable=False),
)

# A closed final's ranking per group, frozen with its explanation.
rankings = sa.Table(
    "rankings", metadata,
    sa.Column("round_id", ID, sa.ForeignKey("rounds.id"), primary_key=True),
    sa.Column("group_code", sa.String(40), primary_key=True),
    sa.Column("method", sa.String(20), nullable=False),
    sa.Column("entries", sa.JSON, nullable=False),
    sa.Column("computed_at", sa.DateTime(timezone=True), nullable=False),
)

awards = sa.Table(
    "awards", metadata,
    sa.Column("id", ID, primary_key=True, autoincrement=True),
    sa.Column("edition_id", sa.String(20), sa.ForeignKey("editions.id"), nullable=False),
    sa.Column("nomination_id", ID, sa.ForeignKey("nominations.id"), nullable=False),
    sa.Column("worker_id", ID, nullable=False, index=True),
    sa.Column("group_code", sa.String(40), nullable=False),
    sa.Column("rank", sa.Integer, nullable=False),
    sa.Column("status", sa.String(10), nullable=False),  # announced | final | revoked
    sa.Column("moved_up", sa.Boolean, nullable=False),
    sa.Column("granted_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("revoke_reason", sa.String(500), nullable=True),
    sa.Index("ix_awards_edition_group", "edition_id", "group_code"),
)

objections = sa.Table(
    "objections", metadata,
    sa.Column("id", ID, primary_key=True, autoincrement=True),
    sa.Column("edition_id", sa.String(20), sa.ForeignKey("editions.id"), nullable=False),
    sa.Column("award_id", ID, sa.ForeignKey("awards.id"), nullable=False, index=True),
    sa.Column("reason", sa.Text, nullable=False),
    # Argon2id of the gateway's keyed hash of the receipt code; none for objections
    # lodged before the code stopped crossing the broker (migration 0004).
    sa.Column("receipt_hash", sa.String(64), nullable=True, unique=True),
    sa.Column("status", sa.String(10), nullable=False),  # lodged | upheld | dismissed
    sa.Column("lodged_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("decided_by", sa.String(100), nullable=True),
    sa.Column("decision_note", sa.String(1000), nullable=True),
)

honours = sa.Table(
    "honours", metadata,
    sa.Column("id", ID, primary_key=True, autoincrement=True),
    sa.Column("worker_id", ID, nullable=False, index=True),
    sa.Column("kind", sa.String(40), nullable=False),
    sa.Column("level", sa.String(20), nullable=True),
    sa.Column("title", sa.String(200), nullable=False),
    sa.Column("year", sa.Integer, nullable=False),
    sa.Column("note", sa.String(500), nullable=True),
    sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("recorded_by", sa.String(100), nullable=False),
)

# Anonymous objections and receipt lookups, counted per source (shared.ratelimit).
rate_hits = rate_hits_table(metadata)

# Idempotency-Key: the answers given to keyed requests (shared.idempotency).
idempotency_keys = sa.Table(idempotency.TABLE, metadata, *idempotency.columns())
