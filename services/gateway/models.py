"""The gateway's own tables: its users and their bearer tokens (stored hashed)."""

from sqlalchemy import (
    Column,
    DateTime,
    ForeignKey,
    Integer,
    MetaData,
    String,
    Table,
    func,
)

from shared.ratelimit import rate_hits_table

metadata = MetaData()

users = Table(
    "users",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(100), nullable=False, unique=True),
    Column("role", String(20), nullable=False),
    Column("org_code", String(64), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("revoked_at", DateTime(timezone=True), nullable=True),
)

tokens = Table(
    "tokens",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("user_id", Integer, ForeignKey("users.id"), nullable=False, index=True),
    # sha256 hex of the token (see auth.hash_token); the token itself is never stored.
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("revoked_at", DateTime(timezone=True), nullable=True),
)

# Password sign-in (services/gateway/sessions.py): a user's password, as Argon2id only.
passwords = Table(
    "passwords",
    metadata,
    Column("user_id", Integer, ForeignKey("users.id"), primary_key=True),
    Column("password_hash", String(200), nullable=False),
    Column("set_at", DateTime(timezone=True), nullable=False),
)

# Signed-in browser sessions: the cookie's value is never stored, only its SHA-256.
sessions = Table(
    "sessions",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("user_id", Integer, ForeignKey("users.id"), nullable=False, index=True),
    Column("session_hash", String(64), nullable=False, unique=True),
    Column("csrf_token", String(64), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=False),
    Column("revoked_at", DateTime(timezone=True), nullable=True),
)

# Failed sign-ins, counted per user name and per source address (shared.ratelimit).
rate_hits = rate_hits_table(metadata)
