"""The SQLite journal's schema, created and upgraded in place by broadcastio itself.

Version 1 had rows only; 2 added campaigns and row numbers; 3 receipts,
acceptances and escalation timers; 4 pause and cancel (``campaigns.paused_at``,
``cancelled_at``, the ``cancelled`` state). A file of any earlier version is
upgraded one version at a time when an :class:`~broadcastio.Outbox` opens it;
a newer one is refused. PostgreSQL's schema is ``_postgres``.
"""

from __future__ import annotations

from broadcastio._errors import ConfigurationError
from broadcastio.outbox._db import Db

__all__ = ["SCHEMA_VERSION", "create_schema"]

SCHEMA_VERSION = 4

_TABLES = """
CREATE TABLE IF NOT EXISTS campaigns (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    created_at REAL NOT NULL,
    journalled_at REAL,
    paused_at REAL,
    cancelled_at REAL
);
CREATE TABLE IF NOT EXISTS outbox (
    id INTEGER PRIMARY KEY,
    idempotency_key TEXT NOT NULL UNIQUE,
    state TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    owner TEXT,
    next_attempt_at REAL,
    route TEXT,
    reference_id TEXT,
    provider TEXT,
    provider_message_id TEXT,
    error_code TEXT,
    error_class TEXT,
    error_message TEXT,
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL,
    message BLOB NOT NULL,
    campaign INTEGER,
    row_number INTEGER,
    receipt_level INTEGER,
    receipt_status TEXT,
    receipt_at REAL,
    escalate_after REAL,
    escalate_unless INTEGER,
    escalate_at REAL,
    skip TEXT
);
CREATE INDEX IF NOT EXISTS outbox_by_campaign ON outbox (campaign);
CREATE INDEX IF NOT EXISTS outbox_by_campaign_row ON outbox (campaign, row_number);
CREATE INDEX IF NOT EXISTS outbox_by_owner ON outbox (owner) WHERE owner IS NOT NULL;
"""

# Version 3: receipts, the acceptances they are matched by, and escalations.
_RECEIPT_TABLES = """
CREATE TABLE IF NOT EXISTS receipts (
    receipt_id TEXT PRIMARY KEY,
    outbox_id INTEGER,
    provider TEXT,
    provider_type TEXT NOT NULL,
    provider_message_id TEXT,
    idempotency_key TEXT,
    level INTEGER NOT NULL,
    status TEXT NOT NULL,
    error_code TEXT,
    error_class TEXT,
    error_message TEXT,
    occurred_at REAL NOT NULL,
    received_at REAL NOT NULL,
    outcome TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS receipts_by_row ON receipts (outbox_id);
CREATE INDEX IF NOT EXISTS receipts_orphaned ON receipts (provider_message_id) WHERE outbox_id IS NULL;
CREATE TABLE IF NOT EXISTS accepts (
    provider_message_id TEXT NOT NULL,
    provider TEXT NOT NULL,
    outbox_id INTEGER NOT NULL,
    accepted_at REAL NOT NULL,
    PRIMARY KEY (provider_message_id, provider)
);
CREATE TABLE IF NOT EXISTS escalations (
    outbox_id INTEGER NOT NULL,
    from_provider TEXT NOT NULL,
    reason TEXT NOT NULL,
    at REAL NOT NULL,
    PRIMARY KEY (outbox_id, from_provider)
);
"""
_V3_COLUMNS = (
    "receipt_level INTEGER",
    "receipt_status TEXT",
    "receipt_at REAL",
    "escalate_after REAL",
    "escalate_unless INTEGER",
    "escalate_at REAL",
    "skip TEXT",
)


def create_schema(conn: Db) -> None:
    """Create the tables if missing, upgrading an older journal in place, one version at a time."""
    conn.execute("CREATE TABLE IF NOT EXISTS outbox_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
    row = conn.execute("SELECT value FROM outbox_meta WHERE key = 'schema_version'").fetchone()
    version = None if row is None else int(row[0])
    if version is not None and not 1 <= version <= SCHEMA_VERSION:
        raise ConfigurationError(f"outbox schema version {version} is not supported (expected {SCHEMA_VERSION})")
    if version == 1:  # add campaigns and row numbers; existing rows belong to no campaign
        conn.execute("ALTER TABLE outbox ADD COLUMN campaign INTEGER")
        conn.execute("ALTER TABLE outbox ADD COLUMN row_number INTEGER")
        version = 2
    if version == 2:  # receipts and escalation timers; existing rows have neither
        for column in _V3_COLUMNS:
            conn.execute(f"ALTER TABLE outbox ADD COLUMN {column}")
    if version is not None and version < 4:  # pause and cancel; a version 1 file has no campaigns table yet
        present = {row[1] for row in conn.execute("PRAGMA table_info(campaigns)")}
        for column in ("paused_at", "cancelled_at"):
            if present and column not in present:
                conn.execute(f"ALTER TABLE campaigns ADD COLUMN {column} REAL")
    for statement in (_TABLES + _RECEIPT_TABLES).split(";"):
        if statement.strip():
            conn.execute(statement)
    conn.execute(
        "INSERT INTO outbox_meta (key, value) VALUES ('schema_version', ?) "
        "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        (str(SCHEMA_VERSION),),
    )
