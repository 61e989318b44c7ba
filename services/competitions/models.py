"""The competitions service's own tables (its database alone).

Read models of other services' events: ``organizations`` and ``enterprises`` (the
registry, ``shared.registry_readmodel``), ``members`` (membership,
``shared.membership_readmodel``) and ``dispute_cases`` (the grade of disputes' cases).
"""

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from shared.membership_readmodel import member_columns
from shared.ratelimit import rate_hits_table
from shared.registry_readmodel import enterprise_columns, organization_columns

metadata = MetaData()
CODE = 100
ID = BigInteger().with_variant(Integer, "sqlite")

# --- read models ----------------------------------------------------------------------

organizations = Table("organizations", metadata, *organization_columns())
enterprises = Table("enterprises", metadata, *enterprise_columns())
members = Table("members", metadata, *member_columns())

# One row per disputes case: only what eligibility and flags look at.
dispute_cases = Table(
    "dispute_cases", metadata,
    Column("case_id", String(64), primary_key=True),
    Column("credit_code", String(CODE), nullable=True, index=True),
    Column("grade", String(10), nullable=False),
    Column("status", String(10), nullable=False),
    Column("reported_at", DateTime(timezone=True), nullable=False),
    Column("as_of", DateTime(timezone=True)),
)

# --- the service's own ------------------------------------------------------------------

settings = Table(
    "settings", metadata,
    Column("key", String(40), primary_key=True),
    Column("value", Text, nullable=False),
)

# Versions of the rules document (policy.py); an edition keeps the one it was made under.
rules = Table(
    "rules", metadata,
    Column("version", Integer, primary_key=True, autoincrement=False),
    Column("body", JSON, nullable=False),
    Column("note", String(500), nullable=True),
    Column("published_at", DateTime(timezone=True), nullable=False),
    Column("published_by", String(100), nullable=False),
)

editions = Table(
    "editions", metadata,
    Column("id", String(20), primary_key=True),  # "2016"
    Column("year", Integer, nullable=False),
    Column("title", String(200), nullable=False),
    Column("district_code", String(CODE), nullable=False),
    Column("rules_version", Integer, ForeignKey("rules.version"), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("created_by", String(100), nullable=False),
)

rounds = Table(
    "rounds", metadata,
    Column("id", ID, primary_key=True, autoincrement=True),
    Column("edition_id", String(20), ForeignKey("editions.id"), nullable=False),
    Column("stage", String(20), nullable=False),
    Column("organization_code", String(CODE), nullable=False),  # the street of a street final
    Column("name", String(200), nullable=False),
    Column("path", JSON, nullable=False),  # district .. organization_code
    Column("status", String(10), nullable=False),
    Column("opened_at", DateTime(timezone=True), nullable=True),
    Column("closed_at", DateTime(timezone=True), nullable=True),
    Column("ends_at", DateTime(timezone=True), nullable=True),  # a public notice's end
    UniqueConstraint("edition_id", "stage", "organization_code",
                     name="uq_rounds_edition_stage_organization"),
)

nominations = Table(
    "nominations", metadata,
    Column("id", ID, primary_key=True, autoincrement=True),
    Column("edition_id", String(20), ForeignKey("editions.id"), nullable=False),
    Column("group_code", String(40), nullable=False),
    Column("worker_id", ID, nullable=False),
    Column("name", String(100), nullable=False),
    Column("enterprise_credit_code", String(CODE), nullable=False, index=True),
    Column("enterprise_name", String(200), nullable=True),
    Column("path", JSON, nullable=False),  # the enterprise's: district .. community
    Column("path_key", Text, nullable=False, index=True),  # "/district/.../community/"
    Column("street_code", String(CODE), nullable=True, index=True),
    Column("union_code", String(CODE), nullable=True),
    Column("nominated_by", String(CODE), nullable=False),
    Column("statement", Text, nullable=False),
    Column("attachments", JSON, nullable=False),
    Column("facts", JSON, nullable=False),
    Column("status", String(20), nullable=False),
    Column("failed_rules", JSON, nullable=False),
    Column("rules_version", Integer, nullable=False),
    Column("submitted_at", DateTime(timezone=True), nullable=False),
    Column("submitted_by", String(100), nullable=False),
    Column("checked_at", DateTime(timezone=True), nullable=False),
    UniqueConstraint("edition_id", "worker_id", name="uq_nominations_edition_worker"),
    Index("ix_nominations_edition_status", "edition_id", "status"),
)

flags = Table(
    "flags", metadata,
    Column("id", ID, primary_key=True, autoincrement=True),
    Column("nomination_id", ID, ForeignKey("nominations.id"), nullable=False, index=True),
    Column("reason_code", String(30), nullable=False),
    Column("reason", String(500), nullable=False),
    Column("flagged_at", DateTime(timezone=True), nullable=False),
    Column("resolved_at", DateTime(timezone=True), nullable=True),
    Column("resolved_by", String(100), nullable=True),
    Column("decision", String(20), nullable=True),
    Column("note", String(500), nullable=True),
)

contestants = Table(
    "contestants", metadata,
    Column("id", ID, primary_key=True, autoincrement=True),
    Column("round_id", ID, ForeignKey("rounds.id"), nullable=False),
    Column("nomination_id", ID, ForeignKey("nominations.id"), nullable=False),
    Column("group_code", String(40), nullable=False),
    Column("running_order", Integer, nullable=False),
    UniqueConstraint("round_id", "nomination_id", name="uq_contestants_round_nomination"),
    Index("ix_contestants_round_order", "round_id", "running_order"),
)

judges = Table(
    "judges", metadata,
    Column("id", ID, primary_key=True, autoincrement=True),
    Column("round_id", ID, ForeignKey("rounds.id"), nullable=False),
    Column("name", String(100), nullable=False),
    Column("user_name", String(100), nullable=False),  # the gateway user who signs in
    Column("organization_code", String(CODE), nullable=False),
    Column("organization_name", String(200), nullable=False),
    Column("path", JSON, nullable=False),  # district .. organization (or its community)
    Column("registered_at", DateTime(timezone=True), nullable=False),
    Column("registered_by", String(100), nullable=False),
    UniqueConstraint("round_id", "user_name", name="uq_judges_round_user"),
)

exclusions = Table(
    "exclusions", metadata,
    Column("id", ID, primary_key=True, autoincrement=True),
    Column("round_id", ID, ForeignKey("rounds.id"), nullable=False, index=True),
    Column("judge_id", ID, ForeignKey("judges.id"), nullable=False),
    Column("contestant_id", ID, ForeignKey("contestants.id"), nullable=False),
    Column("reason", String(30), nullable=False),  # domain.CONFLICT_WORDING
    Column("note", String(500), nullable=True),
    Column("at", DateTime(timezone=True), nullable=False),
    UniqueConstraint("judge_id", "contestant_id", name="uq_exclusions_judge_contestant"),
)

# A judge's current marks for a contestant; every save is also kept in score_changes.
scores = Table(
    "scores", metadata,
    Column("id", ID, primary_key=True, autoincrement=True),
    Column("round_id", ID, ForeignKey("rounds.id"), nullable=False, index=True),
    Column("judge_id", ID, ForeignKey("judges.id"), nullable=False),
    Column("contestant_id", ID, ForeignKey("contestants.id"), nullable=False),
    Column("marks", JSON, nullable=False),
    Column("total", Float, nullable=False),
    Column("comment", Text, nullable=False),
    Column("version", Integer, nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    UniqueConstraint("judge_id", "contestant_id", name="uq_scores_judge_contestant"),
)

score_changes = Table(
    "score_changes", metadata,
    Column("id", ID, primary_key=True, autoincrement=True),
    Column("score_id", ID, ForeignKey("scores.id"), nullable=False, index=True),
    Column("client_id", String(64), nullable=False, unique=True),  # the save's own id
    Column("version", Integer, nullable=False),
    Column("marks", JSON, nullable=False),
    Column("total", Float, nullable=False),
    Column("comment", Text, nullable=False),
    Column("saved_at", DateTime(timezone=True), nullable=False),
)

# A closed final's ranking per group, frozen with its explanation.
rankings = Table(
    "rankings", metadata,
    Column("round_id", ID, ForeignKey("rounds.id"), primary_key=True),
    Column("group_code", String(40), primary_key=True),
    Column("method", String(20), nullable=False),
    Column("entries", JSON, nullable=False),
    Column("computed_at", DateTime(timezone=True), nullable=False),
)

awards = Table(
    "awards", metadata,
    Column("id", ID, primary_key=True, autoincrement=True),
    Column("edition_id", String(20), ForeignKey("editions.id"), nullable=False),
    Column("nomination_id", ID, ForeignKey("nominations.id"), nullable=False),
    Column("worker_id", ID, nullable=False, index=True),
    Column("group_code", String(40), nullable=False),
    Column("rank", Integer, nullable=False),
    Column("status", String(10), nullable=False),  # announced | final | revoked
    Column("moved_up", Boolean, nullable=False),
    Column("granted_at", DateTime(timezone=True), nullable=False),
    Column("revoked_at", DateTime(timezone=True), nullable=True),
    Column("revoke_reason", String(500), nullable=True),
    Index("ix_awards_edition_group", "edition_id", "group_code"),
)

objections = Table(
    "objections", metadata,
    Column("id", ID, primary_key=True, autoincrement=True),
    Column("edition_id", String(20), ForeignKey("editions.id"), nullable=False),
    Column("award_id", ID, ForeignKey("awards.id"), nullable=False, index=True),
    Column("reason", Text, nullable=False),
    Column("receipt_hash", String(64), nullable=False, unique=True),
    Column("status", String(10), nullable=False),  # lodged | upheld | dismissed
    Column("lodged_at", DateTime(timezone=True), nullable=False),
    Column("decided_at", DateTime(timezone=True), nullable=True),
    Column("decided_by", String(100), nullable=True),
    Column("decision_note", String(1000), nullable=True),
)

honours = Table(
    "honours", metadata,
    Column("id", ID, primary_key=True, autoincrement=True),
    Column("worker_id", ID, nullable=False, index=True),
    Column("kind", String(40), nullable=False),
    Column("level", String(20), nullable=True),
    Column("title", String(200), nullable=False),
    Column("year", Integer, nullable=False),
    Column("note", String(500), nullable=True),
    Column("recorded_at", DateTime(timezone=True), nullable=False),
    Column("recorded_by", String(100), nullable=False),
)

# Anonymous objections and receipt lookups, counted per source (shared.ratelimit).
rate_hits = rate_hits_table(metadata)
