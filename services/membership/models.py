"""Membership's own tables, plus its read model of the registry (filled from events).

Personal data lives only in ``workers``: ``id_hash`` (a keyed hash, to find a worker by ID
number without storing it in clear) and ``sealed`` (ID number and phone, AES-GCM with a
key kept outside the database; see ``domain.MemberKeys``). Card numbers are keyed hashes too.
"""

import sqlalchemy as sa

from shared import idempotency
from shared.ratelimit import rate_hits_table
from shared.registry_readmodel import enterprise_columns, organization_columns

metadata = sa.MetaData()

# SQLite only autoincrements INTEGER PRIMARY KEY; PostgreSQL gets bigint sequences.
Id = sa.BigInteger().with_variant(sa.Integer, "sqlite")
CODE = 100  # organization codes like longgang.bantian.nankeng, credit codes (18)


def _now():
    return sa.Column("created_at", sa.DateTime(timezone=True), nullable=False,
                  server_default=sa.func.now())


# --- read model of the registry (``shared.registry_readmodel``) ---------------------

organizations = sa.Table("organizations", metadata, *organization_columns())
enterprises = sa.Table("enterprises", metadata, *enterprise_columns())

# Join-rate counters per organization, kept current in the transaction of every change.
org_stats = sa.Table(
    "org_stats", metadata,
    sa.Column("code", sa.String(CODE), primary_key=True),
    sa.Column("members", sa.BigInteger, nullable=False, server_default="0"),
    sa.Column("workers", sa.BigInteger, nullable=False, server_default="0"),
)

# --- membership's own data ----------------------------------------------------------

workers = sa.Table(
    "workers", metadata,
    sa.Column("id", Id, primary_key=True, autoincrement=True),
    sa.Column("name", sa.String(100), nullable=False),
    sa.Column("id_hash", sa.String(32), nullable=False, unique=True),
    sa.Column("sealed", sa.LargeBinary, nullable=False),
    _now(),
)

memberships = sa.Table(
    "memberships", metadata,
    sa.Column("id", Id, primary_key=True, autoincrement=True),
    # No foreign key to workers: it doubled the cost of a bulk import's COPY on
    # PostgreSQL. Memberships are only written with their worker, which is never deleted.
    sa.Column("worker_id", Id, nullable=False),
    sa.Column("union_code", sa.String(CODE), nullable=False),
    sa.Column("enterprise_credit_code", sa.String(CODE), nullable=False),
    sa.Column("status", sa.String(12), nullable=False),
    sa.Column("channel", sa.String(10), nullable=False),
    sa.Column("applied_at", sa.DateTime(timezone=True), nullable=False,
              server_default=sa.func.now()),
    sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("reason", sa.String(500), nullable=True),
    sa.Column("previous_id", Id, nullable=True),  # the membership a transfer came from
    sa.Column("entered_by", sa.String(100), nullable=True),  # staff who entered or decided
    sa.Index("ix_memberships_worker", "worker_id"),
    # An enterprise's members: counted when it moves, lapsed when it closes.
    sa.Index("ix_memberships_enterprise_status", "enterprise_credit_code", "status"),
    # One current (pending or active) membership per worker: one union at a time.
    sa.Index("uq_memberships_current_worker", "worker_id", unique=True,
          sqlite_where=sa.text("status IN ('pending', 'active')"),
          postgresql_where=sa.text("status IN ('pending', 'active')")),
)

cards = sa.Table(
    "cards", metadata,
    sa.Column("id", Id, primary_key=True, autoincrement=True),
    sa.Column("number_hash", sa.String(32), nullable=False, unique=True),
    sa.Column("last4", sa.String(4), nullable=False),
    sa.Column("worker_id", Id, sa.ForeignKey("workers.id"), nullable=False, index=True),
    sa.Column("membership_id", Id, nullable=False),
    sa.Column("issued_at", sa.DateTime(timezone=True), nullable=False,
              server_default=sa.func.now()),
    sa.Column("valid_until", sa.Date, nullable=False),
    sa.Column("status", sa.String(10), nullable=False),  # active, replaced
)

merchants = sa.Table(
    "merchants", metadata,
    sa.Column("id", Id, primary_key=True, autoincrement=True),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("organization_code", sa.String(CODE), nullable=False, index=True),
    sa.Column("path", sa.Text, nullable=False),  # JSON: the registry path of the organization
    sa.Column("rule_kind", sa.String(20), nullable=False),
    sa.Column("percent_off", sa.Integer, nullable=True),
    sa.Column("markup_fen", sa.Integer, nullable=True),
    sa.Column("active", sa.Boolean, nullable=False, server_default="1"),
    _now(),
)

service_requests = sa.Table(
    "service_requests", metadata,
    sa.Column("id", Id, primary_key=True, autoincrement=True),
    sa.Column("worker_id", Id, sa.ForeignKey("workers.id"), nullable=False, index=True),
    sa.Column("membership_id", Id, nullable=False),
    sa.Column("kind", sa.String(30), nullable=False),
    sa.Column("status", sa.String(20), nullable=False),
    sa.Column("handling_organization_code", sa.String(CODE), nullable=False, index=True),
    sa.Column("path", sa.Text, nullable=False),  # JSON: organizations whose staff may act on it
    sa.Column("summary", sa.Text, nullable=False),
    sa.Column("note", sa.Text, nullable=True),
    _now(),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False,
              server_default=sa.func.now()),
)

# The referrals of a request to a social organization, as incubation's events tell them
# (``request_referred``, ``referral_concluded``): shown on the request.
request_referrals = sa.Table(
    "request_referrals", metadata,
    sa.Column("referral_id", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("request_id", Id, sa.ForeignKey("service_requests.id"), nullable=False, index=True),
    sa.Column("organization_id", sa.BigInteger, nullable=False),
    sa.Column("organization_name", sa.String(200), nullable=False),
    sa.Column("status", sa.String(20), nullable=False),  # referred, served, declined
    sa.Column("as_of", sa.DateTime(timezone=True), nullable=True),
)

# Card checks per caller (MEMBERSHIP_RATE_LIMITS): key ``domain.card_check_key(caller)``.
rate_hits = rate_hits_table(metadata)

imports = sa.Table(
    "imports", metadata,
    sa.Column("id", Id, primary_key=True, autoincrement=True),
    sa.Column("source", sa.String(300), nullable=False),
    sa.Column("rows", sa.Integer, nullable=False, server_default="0"),
    sa.Column("imported", sa.Integer, nullable=False, server_default="0"),
    sa.Column("rejected", sa.Integer, nullable=False, server_default="0"),
    sa.Column("started_at", sa.DateTime(timezone=True), nullable=False,
              server_default=sa.func.now()),
    sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
)

# Idempotency-Key: the answers given to keyed requests (shared.idempotency).
idempotency_keys = sa.Table(idempotency.TABLE, metadata, *idempotency.columns())
