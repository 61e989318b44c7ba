"""workers reached by kind of activity: ``kind`` in the reach tables ("*" every kind)

The rows kept so far become the "*" rows; the rows of each kind are built from the
activities and their beneficiaries.

Revision ID: 0002
Revises: 0001
"""

import json
from datetime import date

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"

KEYS = {"reach": ["worker_key", "node", "kind", "year"],
        "reach_counts": ["node", "period", "kind"]}


def _columns(table, kind=True):
    if table == "reach":
        columns = [sa.Column("worker_key", sa.String(length=120), nullable=False),
                   sa.Column("node", sa.String(length=100), nullable=False),
                   sa.Column("year", sa.Integer(), nullable=False),
                   sa.Column("months", sa.Integer(), nullable=False)]
    else:
        columns = [sa.Column("node", sa.String(length=100), nullable=False),
                   sa.Column("period", sa.String(length=10), nullable=False),
                   sa.Column("workers", sa.BigInteger(), nullable=False)]
    if kind:
        columns.append(sa.Column("kind", sa.String(length=30), nullable=False))
    return columns


def _rekey(table, kind):
    """Add (``kind``) or drop the column ``kind`` and key ``table`` accordingly; the rows
    kept become (or stay, the others dropped) the "*" rows."""
    keys = KEYS[table] if kind else [key for key in KEYS[table] if key != "kind"]
    if op.get_context().dialect.name == "sqlite":  # SQLite alters no primary key
        names = [column.name for column in _columns(table, kind=False)]
        op.create_table(f"{table}_rekeyed", *_columns(table, kind),
                        sa.PrimaryKeyConstraint(*keys))
        listed = ", ".join(names)
        if kind:
            op.execute(f"INSERT INTO {table}_rekeyed ({listed}, kind) "
                       f"SELECT {listed}, '*' FROM {table}")
        else:
            op.execute(f"INSERT INTO {table}_rekeyed ({listed}) "
                       f"SELECT {listed} FROM {table} WHERE kind = '*'")
        op.drop_table(table)
        op.rename_table(f"{table}_rekeyed", table)
        return
    op.drop_constraint(f"{table}_pkey", table, type_="primary")
    if kind:
        op.add_column(table, sa.Column("kind", sa.String(length=30), nullable=False,
                                       server_default="*"))
        op.alter_column(table, "kind", server_default=None)
    else:
        op.execute(f"DELETE FROM {table} WHERE kind <> '*'")
        op.drop_column(table, "kind")
    op.create_primary_key(f"{table}_pkey", table, keys)


def _by_kind(connection):
    """(worker, place, kind, year) -> months, and the counts they make, from the
    activities reported so far."""
    masks = {}
    for key, kind, path, day in connection.execute(sa.text(
            "SELECT b.worker_key, a.kind, a.place_path, a.held_on FROM beneficiaries b "
            "JOIN activities a ON a.id = b.activity_id")):
        if isinstance(path, str):  # SQLite hands JSON and dates back as text
            path = json.loads(path)
        if isinstance(day, str):
            day = date.fromisoformat(day[:10])
        for node in path:
            mask = masks.get((key, node, kind, day.year), 0)
            masks[(key, node, kind, day.year)] = mask | 1 << (day.month - 1)
    counts, seen = {}, set()
    for (key, node, kind, year), months in masks.items():
        periods = [str(year)]
        if (key, node, kind) not in seen:
            seen.add((key, node, kind))
            periods.append("all")
        periods += [f"{year}-Q{quarter + 1}" for quarter in range(4)
                    if months & 0b111 << (3 * quarter)]
        periods += [f"{year}-{month + 1:02d}" for month in range(12) if months & 1 << month]
        for period in periods:
            counts[(node, period, kind)] = counts.get((node, period, kind), 0) + 1
    return masks, counts


def upgrade():
    connection = op.get_bind()
    masks, counts = _by_kind(connection)
    for table in KEYS:
        _rekey(table, kind=True)
    rows = [{"worker_key": key, "node": node, "kind": kind, "year": year, "months": months}
            for (key, node, kind, year), months in masks.items()]
    for start in range(0, len(rows), 5000):
        connection.execute(sa.text(
            "INSERT INTO reach (worker_key, node, kind, year, months) "
            "VALUES (:worker_key, :node, :kind, :year, :months)"), rows[start:start + 5000])
    rows = [{"node": node, "period": period, "kind": kind, "workers": workers}
            for (node, period, kind), workers in counts.items()]
    for start in range(0, len(rows), 5000):
        connection.execute(sa.text(
            "INSERT INTO reach_counts (node, period, kind, workers) "
            "VALUES (:node, :period, :kind, :workers)"), rows[start:start + 5000])


def downgrade():
    for table in KEYS:
        _rekey(table, kind=False)
