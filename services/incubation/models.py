"""The incubation database: social organizations and their stages, assessments, funds,
calls, applications, awards and their tranches, the ledger, purchased-service contracts,
activities and beneficiaries with the kept counts of workers reached, referrals; and the
read models of the registry (places), of membership (members) and of members' service
requests.

Money is whole fen (``BigInteger``). Paths are the registry's lists of codes (district ..
place, JSON) with ``path_key`` ``/a/b/c/`` beside them, indexed: "everything in a subtree"
is a prefix search.
"""

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    func,
)

from shared import idempotency
from shared.membership_readmodel import member_columns
from shared.registry_readmodel import CODE, enterprise_columns, organization_columns

metadata = MetaData()

Id = BigInteger().with_variant(Integer, "sqlite")  # SQLite autoincrements INTEGER only
Fen = BigInteger


def _created():
    return Column("created_at", DateTime(timezone=True), nullable=False,
                  server_default=func.now())


# --- read models ------------------------------------------------------------------------

places = Table("registry_organizations", metadata, *organization_columns())
enterprises = Table("registry_enterprises", metadata, *enterprise_columns())

# Members as membership's events tell them (one row per worker: their current membership).
members = Table("members", metadata, *member_columns())

# Members' service requests (membership), which staff may refer to an organization.
service_requests = Table(
    "service_requests", metadata,
    Column("request_id", BigInteger, primary_key=True, autoincrement=False),
    Column("worker_id", BigInteger, nullable=False),
    Column("kind", String(30), nullable=False),
    Column("status", String(20), nullable=False),
    Column("handling_code", String(CODE), nullable=False),
    Column("as_of", DateTime(timezone=True)),
)

# --- organizations ---------------------------------------------------------------------

organizations = Table(
    "social_organizations", metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("name", String(200), nullable=False, unique=True),
    Column("service_kind", String(30), nullable=False),
    Column("hub", Boolean, nullable=False, default=False),
    Column("home_code", String(CODE), nullable=False),  # a registry place
    Column("home_path", JSON, nullable=False),
    Column("home_path_key", Text, nullable=False, index=True),
    Column("places", JSON, nullable=False),  # registry codes where it serves
    Column("contacts", JSON, nullable=False),
    Column("credit_code", String(18), nullable=True, unique=True),
    Column("registered_on", Date, nullable=True),
    Column("stage", String(20), nullable=True, index=True),  # None: the hub
    Column("stage_since", Date, nullable=True),
    Column("incubation_deadline", Date, nullable=True, index=True),
    Column("plan", JSON, nullable=True),  # {milestones, training, mentor}
    Column("reminded_for", Date, nullable=True),  # the deadline a reminder was raised for
    Column("overdue_for", Date, nullable=True),  # the deadline reported as passed
    Column("grade", String(2), nullable=True),
    Column("grade_until", Date, nullable=True, index=True),
    Column("assessment_id", BigInteger, nullable=True),
    Column("activities", Integer, nullable=False, default=0),  # reported so far
    _created(),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

stage_changes = Table(
    "stage_changes", metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("organization_id", BigInteger, ForeignKey("social_organizations.id"),
           nullable=False, index=True),
    Column("from_stage", String(20), nullable=True),
    Column("to_stage", String(20), nullable=False),
    Column("effective_on", Date, nullable=False),
    Column("reason", Text, nullable=False),
    Column("actor", String(100), nullable=False),
    Column("at", DateTime(timezone=True), nullable=False),
)

assessments = Table(
    "assessments", metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("organization_id", BigInteger, ForeignKey("social_organizations.id"),
           nullable=False, index=True),
    Column("assessed_on", Date, nullable=False),
    Column("evaluator", String(200), nullable=False),
    Column("assessors", JSON, nullable=False),  # [{name, scores: {indicator: score}}]
    Column("breakdown", JSON, nullable=False),  # per indicator: weight, mean, weighted
    Column("total", String(10), nullable=False),  # the weighted score, "83.45"
    Column("grade", String(2), nullable=True),
    Column("band_min", String(10), nullable=True),
    Column("policy_version", Integer, nullable=False),
    Column("valid_until", Date, nullable=False),
    Column("recorded_by", String(100), nullable=False),
    Column("at", DateTime(timezone=True), nullable=False),
)

# --- funds -------------------------------------------------------------------------------

funds = Table(
    "funds", metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("name", String(200), nullable=False, unique=True),
    Column("source", String(20), nullable=False),
    Column("owner_code", String(CODE), nullable=False),
    Column("owner_path", JSON, nullable=False),
    Column("budget", Fen, nullable=False),
    Column("awarded", Fen, nullable=False, default=0),  # never above budget
    Column("disbursed", Fen, nullable=False, default=0),
    Column("created_by", String(100), nullable=False),
    _created(),
)

calls = Table(
    "calls", metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("fund_id", BigInteger, ForeignKey("funds.id"), nullable=False, index=True),
    Column("title", String(200), nullable=False),
    Column("opens_at", DateTime(timezone=True), nullable=False),
    Column("closes_at", DateTime(timezone=True), nullable=False),
    Column("eligibility", JSON, nullable=False),  # conditions (policy vocabulary)
    Column("max_award", Fen, nullable=True),
    _created(),
)

applications = Table(
    "applications", metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("call_id", BigInteger, ForeignKey("calls.id"), nullable=False),
    Column("organization_id", BigInteger, ForeignKey("social_organizations.id"),
           nullable=False, index=True),
    Column("project", String(200), nullable=False),
    Column("amount", Fen, nullable=False),
    Column("status", String(20), nullable=False),  # submitted reviewed awarded rejected
    Column("score", String(10), nullable=True),
    Column("note", Text, nullable=True),
    Column("reviewed_by", String(100), nullable=True),
    Column("decided_by", String(100), nullable=True),
    Column("submitted_at", DateTime(timezone=True), nullable=False),
    Column("decided_at", DateTime(timezone=True), nullable=True),
    UniqueConstraint("call_id", "organization_id", name="uq_applications_call_org"),
)

awards = Table(
    "awards", metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("application_id", BigInteger, ForeignKey("applications.id"), nullable=False,
           unique=True),
    Column("fund_id", BigInteger, ForeignKey("funds.id"), nullable=False, index=True),
    Column("organization_id", BigInteger, ForeignKey("social_organizations.id"),
           nullable=False, index=True),
    Column("amount", Fen, nullable=False),
    Column("disbursed", Fen, nullable=False, default=0),
    Column("awarded_on", Date, nullable=False),
    Column("awarded_by", String(100), nullable=False),
    _created(),
)

tranches = Table(
    "tranches", metadata,
    Column("award_id", BigInteger, ForeignKey("awards.id"), primary_key=True),
    Column("number", Integer, primary_key=True),  # 1, 2, ...
    Column("amount", Fen, nullable=False),
    Column("paid_at", DateTime(timezone=True), nullable=True),
    Column("paid_by", String(100), nullable=True),
)

progress_reports = Table(
    "progress_reports", metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("award_id", BigInteger, ForeignKey("awards.id"), nullable=False),
    Column("tranche", Integer, nullable=False),
    Column("summary", Text, nullable=False),
    Column("status", String(20), nullable=False),  # submitted accepted returned
    Column("submitted_by", String(100), nullable=False),
    Column("submitted_at", DateTime(timezone=True), nullable=False),
    Column("decided_by", String(100), nullable=True),
    Column("decided_at", DateTime(timezone=True), nullable=True),
    Column("note", Text, nullable=True),
    UniqueConstraint("award_id", "tranche", name="uq_progress_reports_tranche"),
)

# One row per line of a double-entry transaction; a transaction's lines add up to 0 on
# the fund's side and on the organization's side (``domain.award_lines`` ...).
ledger = Table(
    "ledger_lines", metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("transaction", String(60), nullable=False, index=True),  # "award:7"
    Column("fund_id", BigInteger, ForeignKey("funds.id"), nullable=False, index=True),
    Column("organization_id", BigInteger, nullable=True, index=True),
    Column("side", String(20), nullable=False),  # fund | organization
    Column("account", String(20), nullable=False),
    Column("amount", Fen, nullable=False),  # signed
    Column("at", DateTime(timezone=True), nullable=False),
)

# --- purchased services ----------------------------------------------------------------

contracts = Table(
    "contracts", metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("organization_id", BigInteger, ForeignKey("social_organizations.id"),
           nullable=False, index=True),
    Column("buyer_code", String(CODE), nullable=False),
    Column("buyer_path", JSON, nullable=False),
    Column("service", String(200), nullable=False),
    Column("amount", Fen, nullable=False),
    Column("starts_on", Date, nullable=False),
    Column("ends_on", Date, nullable=False),
    Column("status", String(20), nullable=False),  # active completed
    Column("signed_by", String(100), nullable=False),
    Column("policy_version", Integer, nullable=False),
    _created(),
)

deliverables = Table(
    "deliverables", metadata,
    Column("contract_id", BigInteger, ForeignKey("contracts.id"), primary_key=True),
    Column("number", Integer, primary_key=True),
    Column("title", String(200), nullable=False),
    Column("due_on", Date, nullable=False),
    Column("accepted_at", DateTime(timezone=True), nullable=True),
    Column("accepted_by", String(100), nullable=True),
    Column("note", Text, nullable=True),
)

# --- activities and workers reached ----------------------------------------------------

activities = Table(
    "activities", metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("organization_id", BigInteger, ForeignKey("social_organizations.id"),
           nullable=False),
    Column("kind", String(30), nullable=False),
    Column("title", String(200), nullable=False),
    Column("held_on", Date, nullable=False),
    Column("place_code", String(CODE), nullable=False),
    Column("place_path", JSON, nullable=False),
    Column("place_path_key", Text, nullable=False, index=True),
    Column("minutes", Integer, nullable=False),
    Column("participants", Integer, nullable=False),  # head-count
    Column("beneficiaries", Integer, nullable=False),  # named rows below
    Column("members", Integer, nullable=False),  # of them linked to a union member
    Column("reported_by", String(100), nullable=False),
    _created(),
    Index("ix_activities_organization_held", "organization_id", "held_on", "id"),
    Index("ix_activities_held_on", "held_on"),  # statistics for a range of days
)

beneficiaries = Table(
    "beneficiaries", metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("activity_id", BigInteger, ForeignKey("activities.id"), nullable=False,
           index=True),
    Column("worker_key", String(120), nullable=False),  # domain.worker_key
    Column("worker_id", BigInteger, nullable=True),  # a union member, linked
    Column("ref", String(100), nullable=True),  # the organization's own reference
)

# Per place node, kind of activity and worker, the months of each year they were reached
# (bit 0: January): whether a worker is new for a month, quarter, year or all time there
# is one lookup. ``kind`` "*" is every kind of activity.
reach = Table(
    "reach", metadata,
    Column("worker_key", String(120), primary_key=True),
    Column("node", String(CODE), primary_key=True),
    Column("year", Integer, primary_key=True),
    Column("months", Integer, nullable=False),
    Column("kind", String(30), primary_key=True),
)

# Kept counts per place node and period key ("all", "2015", "2015-Q3", "2015-07"):
# statistics are primary-key reads. ``kind`` "*" is every kind of activity.
activity_counts = Table(
    "activity_counts", metadata,
    Column("node", String(CODE), primary_key=True),
    Column("period", String(10), primary_key=True),
    Column("kind", String(30), primary_key=True),
    Column("activities", BigInteger, nullable=False),
    Column("participants", BigInteger, nullable=False),
    Column("beneficiaries", BigInteger, nullable=False),
    Column("members", BigInteger, nullable=False),
    Column("minutes", BigInteger, nullable=False),
)

reach_counts = Table(
    "reach_counts", metadata,
    Column("node", String(CODE), primary_key=True),
    Column("period", String(10), primary_key=True),
    Column("workers", BigInteger, nullable=False),
    Column("kind", String(30), primary_key=True),  # "*": every kind of activity
)

# --- referrals ---------------------------------------------------------------------------

referrals = Table(
    "referrals", metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("request_id", BigInteger, nullable=False, index=True),
    Column("worker_id", BigInteger, nullable=False),
    Column("organization_id", BigInteger, ForeignKey("social_organizations.id"),
           nullable=False, index=True),
    Column("request_kind", String(30), nullable=False),
    Column("path", JSON, nullable=False),  # the member's place: district .. community
    Column("path_key", Text, nullable=False, index=True),
    Column("status", String(20), nullable=False),  # referred served declined
    Column("note", Text, nullable=True),
    Column("outcome_note", Text, nullable=True),
    Column("referred_by", String(100), nullable=False),
    Column("referred_at", DateTime(timezone=True), nullable=False),
    Column("concluded_by", String(100), nullable=True),
    Column("concluded_at", DateTime(timezone=True), nullable=True),
)

# --- the sample ---------------------------------------------------------------------------

samples = Table(
    "samples", metadata,
    Column("name", String(100), primary_key=True),
    Column("requested_at", DateTime(timezone=True), nullable=False),
    Column("loaded_at", DateTime(timezone=True), nullable=True),
)

# Idempotency-Key: the answers given to keyed requests (shared.idempotency).
idempotency_keys = Table(idempotency.TABLE, metadata, *idempotency.columns())
