"""PostgreSQL: messages, parts, reports and replies partitioned by time

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-01 17:00:00

On PostgreSQL each of the four tables becomes a partitioned table, by range
of its id (the parts: of their message's id). New ids carry their UTC day
(`hongyan_day_id`: day << 35 | the sequence's low 35 bits), so a day's rows
land in that day's partition, which housekeeping makes ahead of time
(store/partitions.py). The table as it was becomes the first partition,
`<table>_p0`, below day 1: every id made before lies there, attached as it
is (its rows checked once, not copied), and goes with retention like any
other. SQLite keeps its tables; nothing changes there.
"""

from __future__ import annotations

from alembic import op

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None

SHIFT = 35
LEGACY_TOP = 1 << SHIFT

# Day << 35 | the low 35 bits of the sequence (34359738367 = 2^35 - 1).
DAY_ID = """
CREATE FUNCTION hongyan_day_id(seq regclass) RETURNS bigint
LANGUAGE sql VOLATILE AS $$
    SELECT (floor(extract(epoch FROM now()) / 86400)::bigint << 35)
        | (nextval(seq) & 34359738367)
$$
"""

# table: (partition key, primary key, has an id sequence)
TABLES = {
    "messages": ("id", "id", True),
    "message_parts": ("message_id", "message_id, seq", False),
    "reports": ("id", "id", True),
    "replies": ("id", "id", True),
}

# Indexes as migrations 0001-0019 left them: (name, table, definition).
INDEXES = [
    ("ix_messages_account_id_created_at_id", "messages", "(account_id, created_at, id)"),
    ("ix_messages_account_id_mobile_created_at", "messages", "(account_id, mobile, created_at)"),
    ("ix_messages_submission_id", "messages", "(submission_id)"),
    (
        "ix_messages_failed",
        "messages",
        "(account_id, created_at, id) WHERE state = 'failed'",
    ),
    ("ix_messages_state_due_at", "messages", "(state, due_at)"),
    ("ix_messages_mobile_created_at_id", "messages", "(mobile, created_at, id)"),
    ("ix_messages_channel_created_at_id", "messages", "(channel, created_at, id)"),
    ("ix_messages_created_at_id", "messages", "(created_at, id)"),
    ("ix_messages_failed_all", "messages", "(created_at, id) WHERE state = 'failed'"),
    ("ix_message_parts_channel_upstream_id", "message_parts", "(channel, upstream_id)"),
    ("ix_reports_account_id_fetched_at_id", "reports", "(account_id, fetched_at, id)"),
    ("ix_reports_message_id", "reports", "(message_id)"),
    ("ix_replies_account_id_fetched_at_id", "replies", "(account_id, fetched_at, id)"),
    ("ix_replies_account_id_received_at_id", "replies", "(account_id, received_at, id)"),
]

# Foreign keys of the four tables: (name, table, column, target).
FOREIGN_KEYS = [
    ("fk_messages_account_id_accounts", "messages", "account_id", "accounts(id)"),
    ("fk_messages_submission_id_submissions", "messages", "submission_id", "submissions(id)"),
    ("fk_reports_account_id_accounts", "reports", "account_id", "accounts(id)"),
    ("fk_replies_account_id_accounts", "replies", "account_id", "accounts(id)"),
]
# Foreign keys onto messages, which a partitioned `messages` does without:
# to drop one of its partitions PostgreSQL would first look for rows of
# parts and reports pointing into it, joining tables of millions of rows
# while it holds `messages` locked against every send. Parts and reports
# are written in the transactions that make their message final, and go
# with it; SQLite keeps these keys.
ONTO_MESSAGES = [
    ("fk_message_parts_message_id_messages", "message_parts", "message_id", "messages(id)"),
    ("fk_reports_message_id_messages", "reports", "message_id", "messages(id)"),
]


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(DAY_ID)
    _drop_foreign_keys(ONTO_MESSAGES + FOREIGN_KEYS)
    for table, (key, primary, sequence) in TABLES.items():
        legacy = f"{table}_p0"
        op.execute(f"ALTER TABLE {table} RENAME TO {legacy}")
        op.execute(f"ALTER INDEX pk_{table} RENAME TO pk_{legacy}")
        for name, owner, _ in INDEXES:
            if owner == table:
                op.execute(f"ALTER INDEX {name} RENAME TO {name}_p0")
        if sequence:
            op.execute(f"ALTER TABLE {legacy} ALTER COLUMN id DROP DEFAULT")
        op.execute(
            f"CREATE TABLE {table} (LIKE {legacy} INCLUDING DEFAULTS) PARTITION BY RANGE ({key})"
        )
        if sequence:
            op.execute(
                f"ALTER TABLE {table} ALTER COLUMN id SET DEFAULT hongyan_day_id('{table}_id_seq')"
            )
            op.execute(f"ALTER SEQUENCE {table}_id_seq OWNED BY {table}.id")
        # Rows are checked against the bound once; the indexes below find
        # their equals on the old table and adopt them rather than build anew.
        op.execute(
            f"ALTER TABLE {table} ATTACH PARTITION {legacy}"
            f" FOR VALUES FROM (MINVALUE) TO ({LEGACY_TOP})"
        )
        _primary_key_and_indexes(table, primary)
    _add_foreign_keys(FOREIGN_KEYS)


def downgrade() -> None:
    """Back to plain tables: the rows copied into them, partitions dropped."""
    if op.get_bind().dialect.name != "postgresql":
        return
    _drop_foreign_keys(FOREIGN_KEYS)
    for table, (_, primary, sequence) in TABLES.items():
        plain = f"{table}_plain"
        op.execute(f"CREATE TABLE {plain} (LIKE {table} INCLUDING DEFAULTS)")
        op.execute(f"INSERT INTO {plain} SELECT * FROM {table}")  # noqa: S608 (constants only)
        if sequence:
            op.execute(f"ALTER TABLE {plain} ALTER COLUMN id SET DEFAULT nextval('{table}_id_seq')")
            op.execute(f"ALTER SEQUENCE {table}_id_seq OWNED BY {plain}.id")
        op.execute(f"DROP TABLE {table}")
        op.execute(f"ALTER TABLE {plain} RENAME TO {table}")
        _primary_key_and_indexes(table, primary)
    _add_foreign_keys(FOREIGN_KEYS + ONTO_MESSAGES)
    op.execute("DROP FUNCTION hongyan_day_id(regclass)")


def _primary_key_and_indexes(table: str, primary: str) -> None:
    op.execute(f"ALTER TABLE {table} ADD CONSTRAINT pk_{table} PRIMARY KEY ({primary})")
    for name, owner, definition in INDEXES:
        if owner == table:
            op.execute(f"CREATE INDEX {name} ON {table} {definition}")


def _drop_foreign_keys(keys: list[tuple[str, str, str, str]]) -> None:
    for name, table, _, _ in keys:
        op.execute(f"ALTER TABLE {table} DROP CONSTRAINT {name}")


def _add_foreign_keys(keys: list[tuple[str, str, str, str]]) -> None:
    for name, table, column, target in keys:
        op.execute(
            f"ALTER TABLE {table} ADD CONSTRAINT {name} FOREIGN KEY ({column}) REFERENCES {target}"
        )
