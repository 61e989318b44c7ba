"""The disputes database: reports, cases, visits, rewards, policies, and the registry's
read model.

Informants' identities live in ``identities`` only, sealed and keyed by the informant's
pseudonym; no other table, event or view carries a real name or phone. Money is stored
in fen (integer cents) so sums are exact on every backend.
"""

from datetime import UTC

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.types import TypeDecorator

from shared.ratelimit import rate_hits_table
from shared.registry_readmodel import enterprise_columns, organization_columns
from shared.timeutil import as_utc

metadata = MetaData()


def _id(name="id"):
    return Column(name, String(32), primary_key=True)


class UtcDateTime(TypeDecorator):
    """Aware datetimes stored as UTC: SQLite would otherwise keep the wall-clock time of
    any offset and drop the offset (a China-time midnight would read back 8 h late)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        return None if value is None else as_utc(value).astimezone(UTC)

    def process_result_value(self, value, dialect):
        return None if value is None else as_utc(value).astimezone(UTC)


def _at(name, nullable=False, **kwargs):
    return Column(name, UtcDateTime, nullable=nullable, **kwargs)


# --- the registry's read model (kept current from registry events) --------------------

organizations = Table("organizations", metadata, *organization_columns())

enterprises = Table(
    "enterprises", metadata, *enterprise_columns(),
    # Disputes' own: the name as reports are matched against it (``domain.name_key``),
    # and the address a case shows.
    Column("name_key", String(200), nullable=False),
    Column("address", String(300)),
    Index("ix_enterprises_community_name_key", "community_code", "name_key"),
)

# --- informants ----------------------------------------------------------------------

informants = Table(
    "informants", metadata,
    Column("id", String(16), primary_key=True),  # the pseudonym, e.g. "I-K7P2QX9M"
    Column("kind", String(10), nullable=False),  # officer | anonymous
    Column("organization_code", String(100)),  # an officer's organization
    Column("token_hash", String(64), unique=True),  # officers only
    Column("active", Boolean, nullable=False, default=True),
    _at("created_at"),
)

# Kept apart: read only by reveal_identity, which writes an audit row. Real name and
# phone are sealed together (AES-GCM under DISPUTES_PII_KEY, which is never in the
# database, bound to the informant's id; see ``identity``).
identities = Table(
    "identities", metadata,
    Column("informant_id", String(16), ForeignKey("informants.id"), primary_key=True),
    Column("sealed", LargeBinary, nullable=False),
)

identity_reveals = Table(
    "identity_reveals", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("informant_id", String(16), ForeignKey("informants.id"), nullable=False,
           index=True),
    Column("requested_by", String(100), nullable=False),
    Column("role", String(20), nullable=False),
    Column("organization_code", String(100), nullable=False),
    Column("reason", Text, nullable=False),
    _at("at"),
)

# --- reports and cases ----------------------------------------------------------------

cases = Table(
    "cases", metadata,
    _id(),
    Column("risk_key", String(300), nullable=False, index=True),  # enterprise + category
    Column("enterprise_key", String(300), nullable=False, index=True),
    Column("credit_code", String(18)),
    Column("enterprise_name", String(200), nullable=False),
    Column("address", String(300)),
    # district, street, community: a subtree filter on indexed columns (the tree has
    # three geographic tiers above an enterprise)
    Column("district_code", String(100), index=True),
    Column("street_code", String(100), index=True),
    Column("community_code", String(100), nullable=False, index=True),
    Column("path", JSON, nullable=False),
    Column("key_enterprise", Boolean, nullable=False),
    Column("category", String(40), nullable=False),
    Column("workers_affected", Integer, nullable=False),
    Column("amount_owed_fen", BigInteger, nullable=False),
    _at("expected_at", nullable=True),
    Column("grade", String(10), nullable=False),
    Column("grade_rule", String(64), nullable=False),
    Column("status", String(10), nullable=False),
    Column("handled_by_tier", String(20)),
    Column("joint", Boolean),
    Column("departments", JSON),  # government departments in a joint mediation
    Column("wages_recovered_fen", BigInteger),
    Column("workers_covered", Integer),
    Column("reports_count", Integer, nullable=False),
    _at("opened_at"),
    Column("opened_year", Integer, nullable=False, index=True),  # in China time (UTC+8)
    _at("updated_at"),
    _at("resolved_at", nullable=True),
    Index("ix_cases_status_opened", "status", "opened_at"),
)

# One row per risk with an open case: the merge target. Its primary key makes two
# simultaneous first reports of the same risk collide instead of opening two cases.
open_risks = Table(
    "open_risks", metadata,
    Column("risk_key", String(300), primary_key=True),
    Column("case_id", String(32), ForeignKey("cases.id"), nullable=False),
    _at("last_report_at"),
)

reports = Table(
    "reports", metadata,
    _id(),
    Column("pseudonym", String(16), nullable=False, unique=True),
    Column("informant_id", String(16), ForeignKey("informants.id"), nullable=False,
           index=True),
    Column("case_id", String(32), ForeignKey("cases.id"), nullable=False, index=True),
    Column("receipt_hash", String(64), unique=True),  # anonymous reports only
    Column("credit_code", String(18)),
    Column("enterprise_name", String(200), nullable=False),
    Column("address", String(300)),
    Column("community_code", String(100), nullable=False),
    Column("category", String(40), nullable=False),
    Column("workers_affected", Integer, nullable=False),
    Column("amount_owed_fen", BigInteger, nullable=False),
    _at("expected_at", nullable=True),
    Column("description", Text, nullable=False),
    Column("reward_policy_version", Integer, nullable=False),
    _at("received_at"),
    # The caller's id for this submission: the same id again answers with this report
    # instead of filing another (a retried or redelivered request, on any replica).
    Column("request_id", String(64)),
    Index("ux_reports_request_id", "request_id", unique=True),
)

timeline = Table(
    "case_timeline", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("case_id", String(32), ForeignKey("cases.id"), nullable=False, index=True),
    _at("at"),
    Column("kind", String(30), nullable=False),
    Column("actor", String(100)),  # a staff user or an informant pseudonym, never a name
    Column("detail", JSON, nullable=False),
)

visits = Table(
    "visits", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("enterprise_key", String(300), nullable=False, index=True),
    Column("credit_code", String(18)),
    Column("enterprise_name", String(200), nullable=False),
    Column("district_code", String(100), index=True),
    Column("street_code", String(100), index=True),
    Column("community_code", String(100), nullable=False, index=True),
    Column("path", JSON, nullable=False),
    Column("case_id", String(32), ForeignKey("cases.id"), index=True),
    Column("kind", String(10), nullable=False),  # visit | revisit | interview
    _at("at"),
    Column("year", Integer, nullable=False, index=True),  # in China time (UTC+8)
    Column("irregular_practice", Boolean, nullable=False),
    Column("workers_affected", Integer),
    Column("amount_owed_fen", BigInteger),
    Column("findings", Text, nullable=False),
    Column("recorded_by", String(100), nullable=False),
)

# --- rewards and policies -------------------------------------------------------------

policies = Table(
    "policies", metadata,
    Column("kind", String(10), primary_key=True),  # grading | rewards
    Column("version", Integer, primary_key=True),
    _at("effective_from"),
    Column("body", JSON, nullable=False),
    Column("published_by", String(100), nullable=False),
    _at("published_at"),
)

rewards = Table(
    "rewards", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("informant_id", String(16), ForeignKey("informants.id"), nullable=False,
           index=True),
    Column("report_id", String(32), ForeignKey("reports.id"), nullable=False),
    Column("case_id", String(32), ForeignKey("cases.id"), nullable=False, index=True),
    Column("stage", String(10), nullable=False),  # verified | resolved
    Column("amount_fen", BigInteger, nullable=False),
    Column("policy_version", Integer, nullable=False),
    Column("explanation", JSON, nullable=False),
    Column("month", String(7), nullable=False),  # YYYY-MM the cap counts against
    Column("status", String(10), nullable=False),  # pending | approved | paid
    _at("created_at"),
    _at("approved_at", nullable=True),
    Column("approved_by", String(100)),
    _at("paid_at", nullable=True),
    Column("paid_by", String(100)),
    UniqueConstraint("report_id", "stage", name="uq_rewards_report_stage"),
    Index("ix_rewards_informant_month", "informant_id", "month"),
)

# --- rate limiting and settings -------------------------------------------------------

rate_hits = rate_hits_table(metadata, UtcDateTime)  # "officer:<id>", "source:<hash>"

settings = Table(
    "settings", metadata,
    Column("key", String(40), primary_key=True),
    Column("value", Text, nullable=False),
)
