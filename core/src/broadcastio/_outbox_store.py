"""The outbox's SQL: schema and the statements the writer thread runs.

Every function here takes the writer's connection, runs inside the writer's
current transaction and never commits: the writer groups many of them into
one transaction, so one fsync covers a whole batch of state changes.

Rows are leased: ``owner`` and ``next_attempt_at`` (a wall-clock epoch
time) say who may touch a row that is not final, and until when. A row
whose lease has expired may be taken over by any process.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Sequence
from typing import Any

import msgspec

from broadcastio._errors import ErrorClass
from broadcastio._models import DeliveryError, DeliveryResult, DeliveryStatus, Message

__all__ = [
    "FINAL_STATES",
    "OPEN_STATES",
    "SCHEMA_VERSION",
    "Decision",
    "claim_open",
    "create_schema",
    "journal_chunk",
    "finish_and_start",
    "mark_all_final",
    "mark_final",
    "mark_sending",
    "release",
    "renew",
    "stored_result",
]

SCHEMA_VERSION = 1
OPEN_STATES = ("pending", "sending", "unknown")
FINAL_STATES = ("sent", "failed")
INTERRUPTED_CODE = "outbox.interrupted"
BUSY_CODE = "outbox.in_progress"

_encoder = msgspec.msgpack.Encoder()
_decoder = msgspec.msgpack.Decoder(Message)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS outbox_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
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
    message BLOB NOT NULL
);
"""

# Columns read back to decide about a row or to rebuild its stored result.
_ROW_COLUMNS = (
    "id, idempotency_key, state, owner, next_attempt_at, route, reference_id, "
    "provider, provider_message_id, error_code, error_class, error_message"
)

Decision = tuple[str, Any, Any]
"""What to do with one message: ``("send", row_id, Message | None)``,
``("done", DeliveryResult, None)`` (stored result, nothing to send) or
``("busy", DeliveryResult, None)`` (another run holds the row)."""


def create_schema(conn: sqlite3.Connection) -> None:
    """Create the tables if missing and check the schema version."""
    for statement in _SCHEMA.split(";"):
        if statement.strip():
            conn.execute(statement)
    row = conn.execute("SELECT value FROM outbox_meta WHERE key = 'schema_version'").fetchone()
    if row is None:
        conn.execute("INSERT INTO outbox_meta (key, value) VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),))
    elif int(row[0]) != SCHEMA_VERSION:
        from broadcastio._errors import ConfigurationError

        raise ConfigurationError(f"outbox schema version {row[0]} is not supported (expected {SCHEMA_VERSION})")


def encode_message(message: Message) -> bytes:
    return _encoder.encode(message)


def decode_message(blob: bytes) -> Message:
    return _decoder.decode(blob)


_STATUS_OF_STATE: dict[str, DeliveryStatus] = {"sent": "delivered", "failed": "failed"}


def stored_result(row: Sequence[Any]) -> DeliveryResult:
    """The result a row records (a row read with ``_ROW_COLUMNS``)."""
    (_, key, state, _, _, _, reference_id, provider, message_id, code, error_class, error_message) = row
    error = None
    if code is not None:
        error = DeliveryError(
            code=code,
            message=error_message or "",
            error_class=ErrorClass(error_class or ErrorClass.AMBIGUOUS.value),
            provider=provider,
        )
    status = _STATUS_OF_STATE.get(state, "unknown")
    if status != "delivered" and error is None:
        error = DeliveryError.ambiguous(BUSY_CODE, "another run is sending this message now")
    return DeliveryResult(
        status=status,
        provider=provider,
        provider_message_id=message_id if status == "delivered" else None,
        error=error if status != "delivered" else None,
        idempotency_key=key,
        reference_id=reference_id,
    )


def _busy(row: Sequence[Any]) -> Decision:
    key, reference_id = row[1], row[6]
    error = DeliveryError.ambiguous(BUSY_CODE, "another run holds this message's lease and may be sending it")
    result = DeliveryResult(status="unknown", error=error, idempotency_key=key, reference_id=reference_id)
    return ("busy", result, None)


def _decide(
    conn: sqlite3.Connection,
    row: Sequence[Any],
    owner: str | None,
    now: float,
    lease_until: float | None,
    idempotent: frozenset[str],
) -> Decision:
    """Claim ``row`` for sending, or say why not (runs in the writer's transaction)."""
    row_id, state, row_owner, until, route = row[0], row[2], row[3], row[4], row[5]
    if state in FINAL_STATES:
        return ("done", stored_result(row), None)
    leased = row_owner is not None and until is not None and until > now
    if leased:  # held by a live run, ours included (a key given twice)
        return _busy(row)
    if state == "sending":  # its run died after marking it: the request may have left
        conn.execute(
            "UPDATE outbox SET state = 'unknown', owner = NULL, next_attempt_at = NULL, error_code = ?, "
            "error_class = 'ambiguous', error_message = ?, updated_at = ? WHERE id = ?",
            (INTERRUPTED_CODE, "the run sending this message stopped; it may have been delivered", now, row_id),
        )
        state = "unknown"
        patched = list(row)
        patched[2:5] = ["unknown", None, None]
        patched[9:12] = [
            INTERRUPTED_CODE,
            "ambiguous",
            "the run sending this message stopped; it may have been delivered",
        ]
        row = patched
    if state == "unknown":
        names = route.split(",") if route else []
        if not names or not all(name in idempotent for name in names):
            return ("done", stored_result(row), None)
    conn.execute("UPDATE outbox SET owner = ?, next_attempt_at = ? WHERE id = ?", (owner, lease_until, row_id))
    return ("send", row_id, None)


def journal_chunk(
    conn: sqlite3.Connection,
    messages: Sequence[Message],
    owner: str | None,
    now: float,
    lease_until: float | None,
    idempotent: frozenset[str],
) -> list[Decision]:
    """Journal new messages as ``pending`` rows leased to ``owner``; decide about known ones.

    Messages already journalled are not journalled again: their row decides
    (a final row gives its stored result, a row left behind by a dead run
    is taken over, a leased one is busy). A taken-over row is sent as stored.
    """
    keys = [message.metadata.idempotency_key for message in messages]
    known: dict[str, Sequence[Any]] = {}
    for start in range(0, len(keys), 500):
        part = keys[start : start + 500]
        marks = ",".join("?" * len(part))
        for row in conn.execute(f"SELECT {_ROW_COLUMNS} FROM outbox WHERE idempotency_key IN ({marks})", part):
            known[row[1]] = row
    decisions: list[Decision] = []
    fresh: dict[str, int] = {}  # new key -> its position in ``decisions``
    new_rows: list[tuple[Any, ...]] = []
    insert = (
        "INSERT INTO outbox (idempotency_key, state, owner, next_attempt_at, reference_id, created_at, "
        "updated_at, message) VALUES (?, 'pending', ?, ?, ?, ?, ?, ?)"
    )
    for message, key in zip(messages, keys, strict=True):
        row = known.get(key)
        if row is not None:
            decision = _decide(conn, row, owner, now, lease_until, idempotent)
            if decision[0] == "send":
                blob = conn.execute("SELECT message FROM outbox WHERE id = ?", (decision[1],)).fetchone()[0]
                decision = ("send", decision[1], decode_message(blob))
            known[key] = (*row[:3], owner, lease_until, *row[5:])  # a second copy in this chunk is busy
            decisions.append(decision)
            continue
        if key in fresh:  # the same new key twice in one chunk: the first copy is being sent
            decisions.append(_busy((None, key, None, None, None, None, message.metadata.reference_id)))
            continue
        fresh[key] = len(decisions)
        reference_id = message.metadata.reference_id
        new_rows.append((key, owner, lease_until, reference_id, now, now, encode_message(message)))
        decisions.append(("send", 0, None))  # the row id is known after the insert
    if new_rows:
        base = conn.execute("SELECT coalesce(max(id), 0) FROM outbox").fetchone()[0]
        conn.executemany(insert, new_rows)
        # Without AUTOINCREMENT, SQLite numbers new rows max(id)+1, +2, ... and this
        # transaction is the only writer; check it rather than trust it.
        if conn.execute("SELECT max(id) FROM outbox").fetchone()[0] == base + len(new_rows):
            ids = {row[0]: base + 1 + offset for offset, row in enumerate(new_rows)}
        else:
            ids = {}
            for start in range(0, len(new_rows), 500):
                part = [row[0] for row in new_rows[start : start + 500]]
                marks = ",".join("?" * len(part))
                query = f"SELECT idempotency_key, id FROM outbox WHERE idempotency_key IN ({marks})"
                ids.update(conn.execute(query, part).fetchall())
        for key, position in fresh.items():
            decisions[position] = ("send", ids[key], None)
    return decisions


def claim_open(
    conn: sqlite3.Connection,
    after_id: int,
    limit: int,
    owner: str,
    now: float,
    lease_until: float,
    idempotent: frozenset[str],
) -> tuple[int, list[Decision]]:
    """Claim up to ``limit`` rows that are not final, after row ``after_id``.

    Returns the last row id scanned (0 rows: the scan is over) and one
    decision per row; sendable rows come with their stored message.
    """
    rows = conn.execute(
        f"SELECT {_ROW_COLUMNS} FROM outbox WHERE id > ? AND state IN ('pending', 'sending', 'unknown') "
        "ORDER BY id LIMIT ?",
        (after_id, limit),
    ).fetchall()
    decisions: list[Decision] = []
    for row in rows:
        decision = _decide(conn, row, owner, now, lease_until, idempotent)
        if decision[0] == "send":
            blob = conn.execute("SELECT message FROM outbox WHERE id = ?", (row[0],)).fetchone()[0]
            decision = ("send", row[0], decode_message(blob))
        decisions.append(decision)
    return (rows[-1][0] if rows else after_id), decisions


_SENDING_SQL = (
    "UPDATE outbox SET state = 'sending', attempts = attempts + 1, next_attempt_at = ?, route = ?, "
    "updated_at = ? WHERE id = ? AND owner = ?"
)
_FINAL_SQL = (
    "UPDATE outbox SET state = ?, owner = NULL, next_attempt_at = NULL, provider = ?, provider_message_id = ?, "
    "error_code = ?, error_class = ?, error_message = ?, updated_at = ? WHERE id = ? AND state != 'sent'"
)
_STATE_OF_STATUS = {"delivered": "sent", "failed": "failed", "unknown": "unknown"}


def _final_params(row_id: int, result: DeliveryResult, now: float) -> tuple[Any, ...]:
    error = result.error
    if error is None:
        return (
            _STATE_OF_STATUS[result.status],
            result.provider,
            result.provider_message_id,
            None,
            None,
            None,
            now,
            row_id,
        )
    return (
        _STATE_OF_STATUS[result.status],
        result.provider,
        result.provider_message_id,
        error.code,
        error.error_class.value,
        error.message,
        now,
        row_id,
    )


def _still_ours(conn: sqlite3.Connection, claims: Sequence[tuple[int, str]]) -> list[bool]:
    """Which rows ``mark_sending`` could mark (the rare path: some lease was lost)."""
    answers = []
    for row_id, owner in claims:
        row = conn.execute("SELECT owner, state FROM outbox WHERE id = ?", (row_id,)).fetchone()
        answers.append(row is not None and row[0] == owner and row[1] == "sending")
    return answers


def mark_sending(conn: sqlite3.Connection, row_id: int, owner: str, now: float, lease_until: float, route: str) -> bool:
    """Mark a claimed row ``sending`` before its provider is called; False if the lease was lost."""
    return conn.execute(_SENDING_SQL, (lease_until, route, now, row_id, owner)).rowcount == 1


def _mark_sending_many(conn: sqlite3.Connection, calls: Sequence[tuple[Any, ...]]) -> list[bool]:
    cursor = conn.executemany(
        _SENDING_SQL, [(until, route, now, row_id, owner) for row_id, owner, now, until, route in calls]
    )
    if cursor.rowcount == len(calls):
        return [True] * len(calls)
    return _still_ours(conn, [(call[0], call[1]) for call in calls])


def mark_final(conn: sqlite3.Connection, row_id: int, result: DeliveryResult, now: float) -> None:
    """Record a delivery's outcome; a row already ``sent`` is never downgraded."""
    conn.execute(_FINAL_SQL, _final_params(row_id, result, now))


def _mark_final_many(conn: sqlite3.Connection, calls: Sequence[tuple[Any, ...]]) -> list[None]:
    conn.executemany(_FINAL_SQL, [_final_params(*call) for call in calls])
    return [None] * len(calls)


def finish_and_start(
    conn: sqlite3.Connection,
    done_id: int,
    result: DeliveryResult,
    now: float,
    next_id: int,
    owner: str,
    lease_until: float,
    route: str,
) -> bool:
    """Record one outcome and mark the same worker's next row ``sending``: one round trip, not two."""
    mark_final(conn, done_id, result, now)
    return mark_sending(conn, next_id, owner, now, lease_until, route)


def _finish_and_start_many(conn: sqlite3.Connection, calls: Sequence[tuple[Any, ...]]) -> list[bool]:
    conn.executemany(_FINAL_SQL, [_final_params(done_id, result, now) for done_id, result, now, *_ in calls])
    return _mark_sending_many(
        conn, [(next_id, owner, now, until, route) for _, _, now, next_id, owner, until, route in calls]
    )


# The writer runs many queued calls of these at once with ``executemany``.
mark_sending.many = _mark_sending_many  # type: ignore[attr-defined]
mark_final.many = _mark_final_many  # type: ignore[attr-defined]
finish_and_start.many = _finish_and_start_many  # type: ignore[attr-defined]


def mark_all_final(conn: sqlite3.Connection, outcomes: Sequence[tuple[int, DeliveryResult]], now: float) -> None:
    """Record outcomes a stopping run had not written yet."""
    for row_id, result in outcomes:
        mark_final(conn, row_id, result, now)


def renew(conn: sqlite3.Connection, row_ids: Iterable[int], owner: str, lease_until: float) -> None:
    """Extend the lease of rows this run still holds."""
    conn.executemany(
        "UPDATE outbox SET next_attempt_at = ? WHERE id = ? AND owner = ?",
        ((lease_until, row_id, owner) for row_id in row_ids),
    )


def release(conn: sqlite3.Connection, owner: str, now: float) -> None:
    """Give back every row a stopped run still holds: unsent ones become free
    at once, ``sending`` ones become ``unknown`` (their request may have left).

    ``owner`` is the run's own lease id, so no other run's rows are touched.
    """
    conn.execute(
        "UPDATE outbox SET state = 'unknown', owner = NULL, next_attempt_at = NULL, error_code = ?, "
        "error_class = 'ambiguous', error_message = ?, updated_at = ? WHERE owner = ? AND state = 'sending'",
        (INTERRUPTED_CODE, "the run was stopped while sending; it may have been delivered", now, owner),
    )
    conn.execute(
        "UPDATE outbox SET owner = NULL, next_attempt_at = NULL WHERE owner = ? AND state IN ('pending', 'unknown')",
        (owner,),
    )
