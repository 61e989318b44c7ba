"""The disputes database: reports, cases, visits, rewards, policies, and the registry's
read model.

Informants' identities live in ``identities`` only, sealed and keyed by the informant's
pseudonym; no other table, event or view carries a real name or phone. Money is stored
in fen (integer cents) so sums are exact on every backend.
"""

from datetime import UTC

import sqlalchemy as sa
from sqlalchemy.types import TypeDecorator

from shared import idempotency
from shared.ratelimit import rate_hits_table
from shared.registry_readmodel import enterprise_columns, organization_columns
from shared.timeutil import as_utc

metadata = sa.MetaData()


def _id(name="id"):
    return sa.Column(name, sa.String(32), primary_key=True)


class UtcDateTime(TypeDecorator):
    """Aware datetimes stored as UTC: SQLite would otherwise keep the wall-clock time of
    any offset and drop the offset (a China-time midnight would read back 8 h late)."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        return None if value is None else as_utc(value).astimezone(UTC)

    def process_result_value(self, value, dialect):
        return None if value is None else as_utc(value).astimezone(UTC)


def _at(name, nullable=False, **kwargs):
    return sa.Column(name, UtcDateTime, nullable=nullable, **kwargs)


# --- the registry's read model (kept current from registry events) --------------------

organizations = sa.Table("organizations", metadata, *organization_columns())

enterprises = sa.Table(
    "enterprises", metadata, *enterprise_columns(),
    # Disputes' own: the name as reports are matched against it (``domain.name_key``),
    # and the address a case shows.
    sa.Column("name_key", sa.String(200), nullable=False),
    sa.Column("address", sa.String(300)),
    sa.Index("ix_enterprises_community_name_key", "community_code", "name_key"),
)

# --- informants ----------------------------------------------------------------------

informants = sa.Table(
    "informants", metadata,
    sa.Column("id", sa.String(16), primary_key=True),  # the pseudonym, e.g. "I-K7P2QX9M"
    sa.Column("kind", sa.String(10), nullable=False),  # officer | anonymous
    sa.Column("organization_code", sa.String(100)),  # an officer's organization
    sa.Column("token_hash", sa.String(64), unique=True),  # officers only
    sa.Column("active", sa.Boolean, nullable=False, default=True),
    _at("created_at"),
)

# Kept apart: read only by reveal_identity, which writes an audit row. Real name and
# phone are sealed together (AES-GCM under DISPUTES_PII_KEY, which is never in the
# database, bound to the informant's id; see ``identity``).
identities = sa.Table(
    "identities", metadata,
    sa.Column("informant_id", sa.String(16), sa.ForeignKey("informants.id"), primary_key=True),
    sa.Column("sealed", sa.LargeBinary, nullable=False),
)

identity_reveals = sa.Table(
    "identity_reveals", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("informant_id", sa.String(16), sa.ForeignKey("informants.id"), nullable=False,
           index=True),
    sa.Column("requested_by", sa.String(100), nullable=False),
    sa.Column("role", sa.String(20), nullable=False),
    sa.Column("organization_code", sa.String(100), nullable=False),
    sa.Column("reason", sa.Text, nullable=False),
    _at("at"),
)

# --- reports and cases ----------------------------------------------------------------

cases = sa.Table(
    "cases", metadata,
    _id(),
    sa.Column("risk_key", sa.String(300), nullable=False, index=True),  # enterprise + category
    sa.Column("enterprise_key", sa.String(300), nullable=False, index=True),
    sa.Column("credit_code", sa.String(18)),
    sa.Column("enterprise_name", sa.String(200), nullable=False),
    sa.Column("address", sa.String(300)),
    # district, street, community: a subtree filter on indexed columns (the tree has
    # three geographic tiers above an enterprise)
    sa.Column("district_code", sa.String(100), index=True),
    sa.Column("street_code", sa.String(100), index=True),
    sa.Column("community_code", sa.String(100), nullable=False, index=True),
    sa.Column("path", sa.JSON, nullable=False),
    sa.Column("key_enterprise", sa.Boolean, nullable=False),
    sa.Column("category", sa.String(40), nullable=False),
    sa.Column("workers_affected", sa.Integer, nullable=False),
    sa.Column("amount_owed_fen", sa.BigInteger, nullable=False),
    _at("expected_at", nullable=True),
    sa.Column("grade", sa.String(10), nullable=False),
    sa.Column("grade_rule", sa.String(64), nullable=False),
    sa.Column("status", sa.String(10), nullable=False),
    sa.Column("handled_by_tier", sa.String(20)),
    sa.Column("joint", sa.Boolean),
    sa.Column("departments", sa.JSON),  # government departments in a joint mediation
    sa.Column("wages_recovered_fen", sa.BigInteger),
    sa.Column("workers_covered", sa.Integer),
    sa.Column("reports_count", sa.Integer, nullable=False),
    _at("opened_at"),
    sa.Column("opened_year", sa.Integer, nullable=False, index=True),  # in China time (UTC+8)
    _at("updated_at"),
    _at("resolved_at", nullable=True),
    sa.Index("ix_cases_status_opened", "status", "opened_at"),
)

# One row per risk with an open case: the merge target. Its primary key makes two
# simultaneous first reports of the same risk collide instead of opening two cases.
open_risks = sa.Table(
    "open_risks", metadata,
    sa.Column("risk_key", sa.String(300), primary_key=True),
    sa.Column("case_id", sa.String(32), sa.ForeignKey("cases.id"), nullable=False),
    _at("last_report_at"),
)

reports = sa.Table(
    "reports", metadata,
    _id(),
    sa.Column("pseudonym", sa.String(16), nullable=False, unique=True),
    sa.Column("informant_id", sa.String(16), sa.ForeignKey("informants.id"), nullable=False,
           index=True),
    sa.Column("case_id", sa.String(32), sa.ForeignKey("cases.id"), nullable=False, index=True),
    sa.Column("receipt_hash", sa.String(64), unique=True),  # anonymous reports only
    sa.Column("credit_code", sa.String(18)),
    sa.Column("enterprise_name", sa.String(200), nullable=False),
    sa.Column("address", sa.String(300)),
    sa.Column("community_code", sa.String(100), nullable=False),
    sa.Column("category", sa.String(40), nullable=False),
    sa.Column("workers_affected", sa.Integer, nullable=False),
    sa.Column("amount_owed_fen", sa.BigInteger, nullable=False),
    _at("expected_at", nullable=True),
    sa.Column("description", sa.Text, nullable=False),
    sa.Column("reward_policy_version", sa.Integer, nullable=False),
    _at("received_at"),
    # The caller's id for this submission: the same id again answers with this report
    # instead of filing another (a retried or redelivered request, on any replica).
    sa.Column("request_id", sa.String(64)),
    sa.Index("ux_reports_request_id", "request_id", unique=True),
    # Anonymous reports: the gateway's keyed hash of the client and the report's content,
    # so the same report from the same client soon after is recognised, not filed again.
    sa.Column("resubmission_hash", sa.String(64)),
    sa.Index("ix_reports_resubmission_hash", "resubmission_hash"),
)

# Idempotency-Key: the answers given to keyed requests (shared.idempotency).
idempotency_keys = sa.Table(idempotency.TABLE, metadata, *idempotency.columns())

timeline = sa.Table(
    "case_timeline", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("case_id", sa.String(32), sa.ForeignKey("cases.id"), nullable=False, index=True),
    _at("at"),
    sa.Column("kind", sa.String(30), nullable=False),
    sa.Column("actor", sa.String(100)),  # a staff user or an informant pseudonym, never a name
    sa.Column("detail", sa.JSON, nullable=False),
)

visits = sa.Table(
    "visits", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("enterprise_key", sa.String(300), nullable=False, index=True),
    sa.Column("credit_code", sa.String(18)),
    sa.Column("enterprise_name", sa.String(200), nullable=False),
    sa.Column("district_code", sa.String(100), index=True),
    sa.Column("street_code", sa.String(100), index=True),
    sa.Column("community_code", sa.String(100), nullable=False, index=True),
    sa.Column("path", sa.JSON, nullable=False),
    sa.Column("case_id", sa.String(32), sa.ForeignKey("cases.id"), index=True),
    sa.Column("kind", sa.String(10), nullable=False),  # visit | revisit | interview
    _at("at"),
    sa.Column("year", sa.Integer, nullable=False, index=True),  # in China time (UTC+8)
    sa.Column("irregular_practice", sa.Boolean, nullable=False),
    sa.Column("workers_affected", sa.Integer),
    sa.Column("amount_owed_fen", sa.BigInteger),
    sa.Column("findings", sa.Text, nullable=False),
    sa.Column("recorded_by", sa.String(100), nullable=False),
)

# --- rewards and policies -------------------------------------------------------------

policies = sa.Table(
    "policies", metadata,
    sa.Column("kind", sa.String(10), primary_key=True),  # grading | rewards
    sa.Column("version", sa.Integer, primary_key=True),
    _at("effective_from"),
    sa.Column("body", sa.JSON, nullable=False),
    sa.Column("published_by", sa.String(100), nullable=False),
    _at("published_at"),
)

rewards = sa.Table(
    "rewards", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("informant_id", sa.String(16), sa.ForeignKey("informants.id"), nullable=False,
           index=True),
    sa.Column("report_id", sa.String(32), sa.ForeignKey("reports.id"), nullable=False),
    sa.Column("case_id", sa.String(32), sa.ForeignKey("cases.id"), nullable=False, index=True),
    sa.Column("stage", sa.String(10), nullable=False),  # verified | resolved
    sa.Column("amount_fen", sa.BigInteger, nullable=False),
    sa.Column("policy_version", sa.Integer, nullable=False),
    sa.Column("explanation", sa.JSON, nullable=False),
    sa.Column("month", sa.String(7), nullable=False),  # YYYY-MM the cap counts against
    sa.Column("status", sa.String(10), nullable=False),  # pending | approved | paid
    _at("created_at"),
    _at("approved_at", nullable=True),
    sa.Column("approved_by", sa.String(100)),
    _at("paid_at", nullable=True),
    sa.Column("paid_by", sa.String(100)),
    sa.UniqueConstraint("report_id", "stage", name="uq_rewards_report_stage"),
    sa.Index("ix_rewards_informant_month", "informant_id", "month"),
)

# --- rate limiting and settings -------------------------------------------------------

rate_hits = rate_hits_table(metadata, UtcDateTime)  # "officer:<id>", "source:<hash>"

settings = sa.Table(
    "settings", metadata,
    sa.Column("key", sa.String(40), primary_key=True),
    sa.Column("value", sa.Text, nullable=False),
)
