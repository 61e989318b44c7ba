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

import sqlalchemy as sa

metadata = sa.MetaData()

CODE = sa.String(100)
CREDIT_CODE = sa.String(18)
PATH = sa.String(1000).with_variant(sa.String(1000, collation="C"), "postgresql")

organizations = sa.Table(
    "organizations",
    metadata,
    sa.Column("code", CODE, primary_key=True),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("kind", sa.String(32), nullable=False),
    sa.Column("tier", sa.String(16), nullable=False),
    sa.Column("parent_code", CODE, sa.ForeignKey("organizations.code"), nullable=True, index=True),
    sa.Column("path", PATH, nullable=False, index=True, unique=True),
    sa.Column("party_name", sa.String(200), nullable=True),
    sa.Column("party_kind", sa.String(40), nullable=True),
    sa.Column("enterprise_credit_code", CREDIT_CODE, nullable=True, index=True),
    sa.Column("contacts", sa.JSON, nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False,
              server_default=sa.func.now()),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False,
              server_default=sa.func.now()),
)

enterprises = sa.Table(
    "enterprises",
    metadata,
    sa.Column("credit_code", CREDIT_CODE, primary_key=True),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("address", sa.String(500), nullable=True),
    sa.Column("community_code", CODE, sa.ForeignKey("organizations.code"), nullable=False),
    sa.Column("headcount", sa.Integer, nullable=False),
    sa.Column("union_status", sa.String(8), nullable=False),
    sa.Column("union_code", CODE, nullable=True, index=True),
    sa.Column("key_enterprise", sa.Boolean, nullable=False),
    sa.Column("assigned_leader", sa.JSON(none_as_null=True), nullable=True),
    sa.Column("status", sa.String(8), nullable=False),
    sa.Column("closed_reason", sa.String(500), nullable=True),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False,
              server_default=sa.func.now()),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False,
              server_default=sa.func.now()),
    # Pages of a subtree's enterprises walk this index, community by community.
    sa.Index("ix_enterprises_community_credit", "community_code", "credit_code"),
)

organization_stats = sa.Table(
    "organization_stats",
    metadata,
    sa.Column("code", CODE, sa.ForeignKey("organizations.code"), primary_key=True),
    sa.Column("enterprises", sa.Integer, nullable=False, server_default="0"),
    sa.Column("workers", sa.BigInteger, nullable=False, server_default="0"),
    sa.Column("own_union", sa.Integer, nullable=False, server_default="0"),
    sa.Column("covered", sa.Integer, nullable=False, server_default="0"),
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
