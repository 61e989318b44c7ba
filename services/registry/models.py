"""The registry's tables: organizations, enterprises, and per-organization counts.

``organizations.path`` is the materialized path ``/longgang/longgang.bantian/.../`` (codes
never contain ``/``), so a subtree is one index range: ``path >= '/a/b/' AND
path < '/a/b0'`` (``0`` follows ``/`` in byte order). On PostgreSQL the column uses the
"C" collation so that the range means the same as on SQLite, whatever the database locale.

``organization_stats`` holds each organization's subtree counts, kept up to date by the
writes themselves (``domain.StatsDeltas``), so statistics are one primary-key read.
Whatever leaves the registry (answers, events) carries a path as the list of codes from
the district down to the organization itself (``path_codes``).
"""

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    func,
)

metadata = MetaData()

CODE = String(100)
CREDIT_CODE = String(18)
PATH = String(1000).with_variant(String(1000, collation="C"), "postgresql")

organizations = Table(
    "organizations",
    metadata,
    Column("code", CODE, primary_key=True),
    Column("name", String(200), nullable=False),
    Column("kind", String(32), nullable=False),
    Column("tier", String(16), nullable=False),
    Column("parent_code", CODE, ForeignKey("organizations.code"), nullable=True, index=True),
    Column("path", PATH, nullable=False, index=True, unique=True),
    Column("party_name", String(200), nullable=True),
    Column("party_kind", String(40), nullable=True),
    Column("enterprise_credit_code", CREDIT_CODE, nullable=True, index=True),
    Column("contacts", JSON, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

enterprises = Table(
    "enterprises",
    metadata,
    Column("credit_code", CREDIT_CODE, primary_key=True),
    Column("name", String(200), nullable=False),
    Column("address", String(500), nullable=True),
    Column("community_code", CODE, ForeignKey("organizations.code"), nullable=False),
    Column("headcount", Integer, nullable=False),
    Column("union_status", String(8), nullable=False),
    Column("union_code", CODE, nullable=True, index=True),
    Column("key_enterprise", Boolean, nullable=False),
    Column("assigned_leader", JSON(none_as_null=True), nullable=True),
    Column("status", String(8), nullable=False),
    Column("closed_reason", String(500), nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    # Pages of a subtree's enterprises walk this index, community by community.
    Index("ix_enterprises_community_credit", "community_code", "credit_code"),
)

organization_stats = Table(
    "organization_stats",
    metadata,
    Column("code", CODE, ForeignKey("organizations.code"), primary_key=True),
    Column("enterprises", Integer, nullable=False, server_default="0"),
    Column("workers", BigInteger, nullable=False, server_default="0"),
    Column("own_union", Integer, nullable=False, server_default="0"),
    Column("covered", Integer, nullable=False, server_default="0"),
)


# --- the path column: codes from the district down to the organization itself ----------

def path_text(path) -> str:
    """``("longgang", "longgang.bantian")`` as stored: ``/longgang/longgang.bantian/``."""
    return "/" + "".join(f"{code}/" for code in path)


def path_codes(text: str) -> tuple[str, ...]:
    return tuple(text.strip("/").split("/"))


def within(column, path):
    """SQL condition: ``column`` (a path) is ``path`` or below it; an index range."""
    prefix = path_text(path)
    return (column >= prefix) & (column < prefix[:-1] + "0")  # "0" sorts right after "/"
