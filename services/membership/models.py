"""Membership's own tables, plus its read model of the registry (filled from events).

Personal data lives only in ``workers``: ``id_hash`` (a keyed hash, to find a worker by ID
number without storing it in clear) and ``sealed`` (ID number and phone, AES-GCM with a
key kept outside the database; see ``domain.MemberKeys``). Card numbers are keyed hashes too.
"""

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    func,
    text,
)

from shared.ratelimit import rate_hits_table
from shared.registry_readmodel import enterprise_columns, organization_columns

metadata = MetaData()

# SQLite only autoincrements INTEGER PRIMARY KEY; PostgreSQL gets bigint sequences.
Id = BigInteger().with_variant(Integer, "sqlite")
CODE = 100  # organization codes like longgang.bantian.nankeng, credit codes (18)


def _now():
    return Column("created_at", DateTime(timezone=True), nullable=False,
                  server_default=func.now())


# --- read model of the registry (``shared.registry_readmodel``) ---------------------

organizations = Table("organizations", metadata, *organization_columns())
enterprises = Table("enterprises", metadata, *enterprise_columns())

# Join-rate counters per organization, kept current in the transaction of every change.
org_stats = Table(
    "org_stats", metadata,
    Column("code", String(CODE), primary_key=True),
    Column("members", BigInteger, nullable=False, server_default="0"),
    Column("workers", BigInteger, nullable=False, server_default="0"),
)

# --- membership's own data ----------------------------------------------------------

workers = Table(
    "workers", metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("name", String(100), nullable=False),
    Column("id_hash", String(32), nullable=False, unique=True),
    Column("sealed", LargeBinary, nullable=False),
    _now(),
)

memberships = Table(
    "memberships", metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    # No foreign key to workers: it doubled the cost of a bulk import's COPY on
    # PostgreSQL. Memberships are only written with their worker, which is never deleted.
    Column("worker_id", Id, nullable=False),
    Column("union_code", String(CODE), nullable=False),
    Column("enterprise_credit_code", String(CODE), nullable=False),
    Column("status", String(12), nullable=False),
    Column("channel", String(10), nullable=False),
    Column("applied_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("decided_at", DateTime(timezone=True), nullable=True),
    Column("ended_at", DateTime(timezone=True), nullable=True),
    Column("reason", String(500), nullable=True),
    Column("previous_id", Id, nullable=True),  # the membership a transfer came from
    Column("entered_by", String(100), nullable=True),  # staff who entered or decided
    Index("ix_memberships_worker", "worker_id"),
    # An enterprise's members: counted when it moves, lapsed when it closes.
    Index("ix_memberships_enterprise_status", "enterprise_credit_code", "status"),
    # One current (pending or active) membership per worker: one union at a time.
    Index("uq_memberships_current_worker", "worker_id", unique=True,
          sqlite_where=text("status IN ('pending', 'active')"),
          postgresql_where=text("status IN ('pending', 'active')")),
)

cards = Table(
    "cards", metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("number_hash", String(32), nullable=False, unique=True),
    Column("last4", String(4), nullable=False),
    Column("worker_id", Id, ForeignKey("workers.id"), nullable=False, index=True),
    Column("membership_id", Id, nullable=False),
    Column("issued_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("valid_until", Date, nullable=False),
    Column("status", String(10), nullable=False),  # active, replaced
)

merchants = Table(
    "merchants", metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("name", String(200), nullable=False),
    Column("organization_code", String(CODE), nullable=False, index=True),
    Column("path", Text, nullable=False),  # JSON: the registry path of the organization
    Column("rule_kind", String(20), nullable=False),
    Column("percent_off", Integer, nullable=True),
    Column("markup_fen", Integer, nullable=True),
    Column("active", Boolean, nullable=False, server_default="1"),
    _now(),
)

service_requests = Table(
    "service_requests", metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("worker_id", Id, ForeignKey("workers.id"), nullable=False, index=True),
    Column("membership_id", Id, nullable=False),
    Column("kind", String(30), nullable=False),
    Column("status", String(20), nullable=False),
    Column("handling_organization_code", String(CODE), nullable=False, index=True),
    Column("path", Text, nullable=False),  # JSON: organizations whose staff may act on it
    Column("summary", Text, nullable=False),
    Column("note", Text, nullable=True),
    _now(),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

# Card checks per caller (MEMBERSHIP_RATE_LIMITS): key ``domain.card_check_key(caller)``.
rate_hits = rate_hits_table(metadata)

imports = Table(
    "imports", metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("source", String(300), nullable=False),
    Column("rows", Integer, nullable=False, server_default="0"),
    Column("imported", Integer, nullable=False, server_default="0"),
    Column("rejected", Integer, nullable=False, server_default="0"),
    Column("started_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("finished_at", DateTime(timezone=True), nullable=True),
)
