"""The journal's SQL: the statements the writer thread runs (the SQLite schema is ``_schema``).

Every function here takes the writer's connection, runs inside the writer's
current transaction and never commits: the writer groups many of them into
one transaction, so one fsync covers a whole batch of state changes.

Rows are leased: ``owner`` and ``next_attempt_at`` (a wall-clock epoch
time) say who may touch a row that is not final, and until when. A row
whose lease has expired, or whose owner is provably dead (this host, pid
not alive), may be taken over by any process. A ``pending`` row without an
owner but with ``next_attempt_at`` is *deferred*: nobody sends it before
that time (a transient failure, an open breaker, a rate limit).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import msgspec

from broadcastio._models import DeliveryError, DeliveryResult, Message
from broadcastio.outbox._db import Db, is_postgres
from broadcastio.outbox._receipts import adopt_orphans
from broadcastio.outbox._rows import (
    Decision,
    busy,
    decode_message,
    encode_message,
    owner_is_dead,
    stored_result,
)

__all__ = [
    "CANCELLED_CODE",
    "FINAL_STATES",
    "HELD_CAMPAIGN",
    "INTERRUPTED_CODE",
    "OPEN_STATES",
    "UNDECODABLE_CODE",
    "abandon",
    "campaign_journalled",
    "cancel_leftovers",
    "claim_due",
    "finish_and_start",
    "ingest_chunk",
    "mark_all_final",
    "mark_final",
    "mark_sending",
    "open_campaign",
    "release",
    "renew",
    "waiting",
]

OPEN_STATES = ("pending", "sending", "unknown")
FINAL_STATES = ("sent", "failed", "cancelled")
INTERRUPTED_CODE = "outbox.interrupted"
CANCELLED_CODE = "outbox.cancelled"
# Version 4: rows of a paused or cancelled campaign are not claimed, nor waited for.
HELD_CAMPAIGN = (
    "EXISTS (SELECT 1 FROM campaigns WHERE campaigns.id = outbox.campaign "
    "AND (campaigns.paused_at IS NOT NULL OR campaigns.cancelled_at IS NOT NULL))"
)
UNDECODABLE_CODE = "outbox.undecodable_row"

# Columns read back to decide about a row or to rebuild its stored result.
_ROW_COLUMNS = (
    "id, idempotency_key, state, owner, next_attempt_at, route, reference_id, "
    "provider, provider_message_id, error_code, error_class, error_message, attempts, row_number, campaign, skip"
)


def _interrupt(conn: Db, row: Sequence[Any], now: float) -> list[Any]:
    """A ``sending`` row whose run died: the request may have left, so it becomes ``unknown``."""
    text = "the run sending this message stopped; it may have been delivered"
    conn.execute(
        "UPDATE outbox SET state = 'unknown', owner = NULL, next_attempt_at = NULL, error_code = ?, "
        "error_class = 'ambiguous', error_message = ?, updated_at = ? WHERE id = ?",
        (INTERRUPTED_CODE, text, now, row[0]),
    )
    patched = list(row)
    patched[2:5] = ["unknown", None, None]
    patched[9:12] = [INTERRUPTED_CODE, "ambiguous", text]
    return patched


def _decide(
    conn: Db,
    row: Sequence[Any],
    owner: str | None,
    now: float,
    lease_until: float | None,
    idempotent: frozenset[str],
) -> Decision:
    """Claim ``row`` for sending, or say why not (runs in the writer's transaction)."""
    row_id, state, row_owner, until, route = row[0], row[2], row[3], row[4], row[5]
    if state in FINAL_STATES:
        return Decision("done", result=stored_result(row))
    held = row_owner is not None and until is not None and until > now and not owner_is_dead(row_owner)
    # A pending row this very run holds is its own claim, committed by a batch whose COMMIT the
    # writer could not confirm (the connection dropped) and ran again: it stays claimed.
    if held and not (row_owner == owner and state == "pending"):
        return busy(row[1], row[6])  # held by a live run, ours included (a key given twice)
    if row_owner is None and state == "pending" and until is not None and until > now:
        return Decision("deferred", row_id=row_id, until=until)
    if state == "sending":
        row = _interrupt(conn, row, now)
        state = "unknown"
    if state == "unknown":
        names = route.split(",") if route else []
        if not names or not all(name in idempotent for name in names):
            return Decision("done", result=stored_result(row))
    skip = tuple(row[15].split(",")) if row[15] else ()
    return Decision("send", row_id=row_id, attempts=int(row[12]), row_number=row[13], skip=skip)


def _load(conn: Db, decision: Decision, row: Sequence[Any], now: float) -> Decision:
    """Attach the stored message (read with the row) to a claimed row; a row that cannot be decoded fails alone."""
    blob = row[16]
    try:
        decision.message = decode_message(blob)
    except (msgspec.DecodeError, msgspec.ValidationError) as exc:
        text = f"the journalled message cannot be decoded, so it cannot be sent: {exc}"
        conn.execute(
            "UPDATE outbox SET state = 'failed', owner = NULL, next_attempt_at = NULL, error_code = ?, "
            "error_class = 'permanent', error_message = ?, updated_at = ? WHERE id = ?",
            (UNDECODABLE_CODE, text, now, decision.row_id),
        )
        error = DeliveryError.permanent(UNDECODABLE_CODE, text)
        result = DeliveryResult(status="failed", error=error, idempotency_key=row[1], reference_id=row[6])
        return Decision("done", result=result, row_number=row[13])
    return decision


def open_campaign(conn: Db, name: str, now: float) -> int:
    """The id of campaign ``name``, created if new."""
    conn.execute("INSERT INTO campaigns (name, created_at) VALUES (?, ?) ON CONFLICT (name) DO NOTHING", (name, now))
    return int(conn.execute("SELECT id FROM campaigns WHERE name = ?", (name,)).fetchone()[0])


def campaign_journalled(conn: Db, campaign: int, now: float) -> None:
    """Note that the whole input of ``campaign`` is in the journal."""
    conn.execute("UPDATE campaigns SET journalled_at = ? WHERE id = ?", (now, campaign))


_INSERT = (
    "INSERT INTO outbox (idempotency_key, state, reference_id, created_at, updated_at, message, campaign, "
    "row_number, escalate_after, escalate_unless) VALUES (?, 'pending', ?, ?, ?, ?, ?, ?, ?, ?) "
    "ON CONFLICT (idempotency_key) DO NOTHING"
)


def ingest_chunk(
    conn: Db,
    items: Sequence[tuple[int, Message]],
    campaign: int | None,
    now: float,
    escalate: tuple[float, int] | None = None,
) -> tuple[int, list[DeliveryResult]]:
    """Journal ``(row number, message)`` pairs as free ``pending`` rows of ``campaign``.

    Returns how many were new, and the results to give back at once for
    messages already journalled: a final row's stored result, a busy result
    for a row another live run holds (or a key given twice in this chunk).
    A known row that is not final joins ``campaign`` and is sent by the run.
    ``escalate`` (seconds, receipt level) arms an escalation on each new row
    once a provider accepts it.
    New keys are inserted first (one ``executemany``); only when some were
    already there are those rows read back, so a fresh campaign costs no lookups.
    """
    given: list[DeliveryResult] = []
    fresh: set[str] = set()
    new_rows: list[tuple[Any, ...]] = []
    encode = encode_message
    after, unless = escalate if escalate is not None else (None, None)
    for number, message in items:
        metadata = message.metadata
        key = metadata.idempotency_key
        if key in fresh:  # the same key twice in one chunk: the first copy is the one sent
            given.append(busy(key, metadata.reference_id).result)  # type: ignore[arg-type]
            continue
        fresh.add(key)
        new_rows.append((key, metadata.reference_id, now, now, encode(message), campaign, number, after, unless))
    if is_postgres(conn):  # one multi-row insert that says which keys were new
        from broadcastio.outbox._postgres import ingest_rows

        inserted = ingest_rows(conn, new_rows)
        added, known, newest = len(inserted), [row[0] for row in new_rows if row[0] not in inserted], None
    else:  # the writer holds SQLite's write lock: rows up to ``base`` are the ones that were there before
        base = conn.execute("SELECT coalesce(max(id), 0) FROM outbox").fetchone()[0]
        added = conn.executemany(_INSERT, new_rows).rowcount  # a key already there changes no row
        known, newest = [row[0] for row in new_rows], base
    if added == len(new_rows):
        return added, given
    adopt: list[int] = []
    for start in range(0, len(known), 500):
        part = known[start : start + 500]
        marks = ",".join("?" * len(part))
        query = f"SELECT {_ROW_COLUMNS} FROM outbox WHERE idempotency_key IN ({marks})"
        params: tuple[Any, ...] = tuple(part)
        if newest is not None:
            query, params = f"{query} AND id <= ?", (*params, newest)
        for row in conn.execute(query, params):
            state, row_owner, until = row[2], row[3], row[4]
            if state in FINAL_STATES:
                given.append(stored_result(row))
            elif row_owner is not None and until is not None and until > now and not owner_is_dead(row_owner):
                given.append(busy(row[1], row[6]).result)  # type: ignore[arg-type]
            elif row[14] != campaign:
                adopt.append(row[0])
    if adopt and campaign is not None:
        conn.executemany("UPDATE outbox SET campaign = ? WHERE id = ?", [(campaign, row_id) for row_id in adopt])
    return added, given


def claim_due(
    conn: Db,
    campaign: int | None,
    after_id: int,
    limit: int,
    owner: str,
    now: float,
    lease_until: float,
    idempotent: frozenset[str],
    rows: tuple[int, int] | None = None,
) -> tuple[int, list[Decision]]:
    """Decide about up to ``limit`` open rows after row ``after_id`` (of one
    campaign, or of all; with ``rows``, of that range of input row numbers);
    sendable rows are claimed and come with their message.

    Returns the last row id scanned (unchanged: the scan is over) and the decisions.
    """
    where = "campaign = ? AND id > ?" if campaign is not None else "id > ?"
    params: tuple[Any, ...] = (campaign, after_id) if campaign is not None else (after_id,)
    if rows is not None:
        where += " AND row_number BETWEEN ? AND ?"
        params = (*params, *rows)
    # PostgreSQL: rows another transaction is claiming right now are skipped, not waited for;
    # SQLite: the writer's BEGIN IMMEDIATE already makes the claim one process at a time.
    lock = " FOR UPDATE OF outbox SKIP LOCKED" if is_postgres(conn) else ""  # never lock a joined campaigns row
    found = conn.execute(
        f"SELECT {_ROW_COLUMNS}, message FROM outbox WHERE {where} AND state IN ('pending', 'sending', 'unknown') "
        f"AND NOT {HELD_CAMPAIGN} ORDER BY id LIMIT ?{lock}",
        (*params, limit),
    ).fetchall()
    decided = [(_decide(conn, row, owner, now, lease_until, idempotent), row) for row in found]
    claimed = [decision.row_id for decision, _ in decided if decision.kind == "send"]
    if claimed:
        marks = ",".join("?" * len(claimed))
        conn.execute(
            f"UPDATE outbox SET owner = ?, next_attempt_at = ? WHERE id IN ({marks})", (owner, lease_until, *claimed)
        )
    decisions: list[Decision] = []
    for decision, row in decided:
        if decision.kind == "send":
            decision = _load(conn, decision, row, now)
        elif decision.result is not None:
            decision.row_number = row[13]
        decisions.append(decision)
    return (found[-1][0] if found else after_id), decisions


_SENDING_SQL = (
    "UPDATE outbox SET state = 'sending', attempts = attempts + 1, next_attempt_at = ?, route = ?, "
    "updated_at = ? WHERE id = ? AND owner = ?"
)
# A new provider's acceptance starts its receipts afresh; an accepted row arms its escalation timer.
# Positional parameters only (both databases): state, next_attempt_at, provider x3, state, now,
# provider, message id, error code/class/message, now, row id (see ``_final_params``).
_FINAL_SQL = (
    "UPDATE outbox SET state = ?, owner = NULL, next_attempt_at = ?, "
    "receipt_level = CASE WHEN provider IS NOT NULL AND provider IS DISTINCT FROM ? THEN NULL ELSE receipt_level END, "
    "receipt_status = CASE WHEN provider IS NOT NULL AND provider IS DISTINCT FROM ? THEN NULL "
    "ELSE receipt_status END, "
    "receipt_at = CASE WHEN provider IS NOT NULL AND provider IS DISTINCT FROM ? THEN NULL ELSE receipt_at END, "
    "escalate_at = CASE WHEN ? = 'sent' AND escalate_after IS NOT NULL THEN ? + escalate_after ELSE NULL END, "
    "provider = ?, provider_message_id = ?, error_code = ?, error_class = ?, error_message = ?, "
    "updated_at = ? WHERE id = ? AND state != 'sent'"
)
_ACCEPT_SQL = (
    "INSERT INTO accepts (provider_message_id, provider, outbox_id, accepted_at) VALUES (?, ?, ?, ?) "
    "ON CONFLICT (provider_message_id, provider) DO NOTHING"
)
_STATE_OF_STATUS = {"delivered": "sent", "failed": "failed", "unknown": "unknown"}


def _final_params(row_id: int, result: DeliveryResult, now: float, defer_until: float | None) -> tuple[Any, ...]:
    """``defer_until`` set: the row goes back to ``pending`` until then, not to a final state."""
    state = "pending" if defer_until is not None else _STATE_OF_STATUS[result.status]
    error = result.error
    provider = result.provider
    code = error_class = text = None
    if error is not None:
        code, error_class, text = error.code, error.error_class.value, error.message
    return (
        state,
        defer_until,
        provider,
        provider,
        provider,
        state,
        now,
        provider,
        result.provider_message_id,
        code,
        error_class,
        text,
        now,
        row_id,
    )


def _still_ours(conn: Db, claims: Sequence[tuple[int, str]]) -> list[bool]:
    """Which rows ``mark_sending`` could mark (the rare path: some lease was lost)."""
    answers = []
    for row_id, owner in claims:
        row = conn.execute("SELECT owner, state FROM outbox WHERE id = ?", (row_id,)).fetchone()
        answers.append(row is not None and row[0] == owner and row[1] == "sending")
    return answers


def _accepts(calls: Iterable[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    """The (message id, provider, row, time) of each accepted outcome among ``mark_final`` calls,
    so receipts find the row by the provider's message id even after a later escalation."""
    return [
        (result.provider_message_id, result.provider, row_id, now)
        for row_id, result, now, defer_until in calls
        if defer_until is None and result.status == "delivered" and result.provider and result.provider_message_id
    ]


def _record_accepts(conn: Db, accepted: list[tuple[Any, ...]]) -> None:
    if accepted:
        if is_postgres(conn):
            from broadcastio.outbox._pgbulk import write_accepts

            write_accepts(conn, accepted)
        else:
            conn.executemany(_ACCEPT_SQL, accepted)
        adopt_orphans(conn, accepted)


def mark_sending(conn: Db, row_id: int, owner: str, now: float, lease_until: float, route: str) -> bool:
    """Mark a claimed row ``sending`` before its provider is called; False if the lease was lost."""
    return conn.execute(_SENDING_SQL, (lease_until, route, now, row_id, owner)).rowcount == 1


def _mark_sending_many(conn: Db, calls: Sequence[tuple[Any, ...]]) -> list[bool]:
    if is_postgres(conn):
        from broadcastio.outbox._pgbulk import write_sending

        return write_sending(conn, calls)
    cursor = conn.executemany(
        _SENDING_SQL, [(until, route, now, row_id, owner) for row_id, owner, now, until, route in calls]
    )
    if cursor.rowcount == len(calls):
        return [True] * len(calls)
    return _still_ours(conn, [(call[0], call[1]) for call in calls])


def mark_final(conn: Db, row_id: int, result: DeliveryResult, now: float, defer_until: float | None) -> None:
    """Record a delivery's outcome (or its deferral); a row already ``sent`` is never downgraded."""
    conn.execute(_FINAL_SQL, _final_params(row_id, result, now, defer_until))
    _record_accepts(conn, _accepts([(row_id, result, now, defer_until)]))


def _write_finals(conn: Db, params: list[tuple[Any, ...]]) -> None:
    if is_postgres(conn):
        from broadcastio.outbox._pgbulk import write_finals

        write_finals(conn, params)
    else:
        conn.executemany(_FINAL_SQL, params)


def _mark_final_many(conn: Db, calls: Sequence[tuple[Any, ...]]) -> list[None]:
    _write_finals(conn, [_final_params(*call) for call in calls])
    _record_accepts(conn, _accepts(calls))
    return [None] * len(calls)


def finish_and_start(
    conn: Db,
    done_id: int,
    result: DeliveryResult,
    now: float,
    defer_until: float | None,
    next_id: int,
    owner: str,
    lease_until: float,
    route: str,
) -> bool:
    """Record one outcome and mark the same worker's next row ``sending``: one round trip, not two."""
    mark_final(conn, done_id, result, now, defer_until)
    return mark_sending(conn, next_id, owner, now, lease_until, route)


def _finish_and_start_many(conn: Db, calls: Sequence[tuple[Any, ...]]) -> list[bool]:
    _write_finals(conn, [_final_params(*call[:4]) for call in calls])
    _record_accepts(conn, _accepts([call[:4] for call in calls]))
    return _mark_sending_many(conn, [(call[4], call[5], call[2], call[6], call[7]) for call in calls])


# The writer runs many queued calls of these at once with ``executemany``.
mark_sending.many = _mark_sending_many  # type: ignore[attr-defined]
mark_final.many = _mark_final_many  # type: ignore[attr-defined]
finish_and_start.many = _finish_and_start_many  # type: ignore[attr-defined]


def mark_all_final(conn: Db, outcomes: Sequence[tuple[int, DeliveryResult, float | None]], now: float) -> None:
    """Record outcomes a stopping run had not written yet."""
    for row_id, result, defer_until in outcomes:
        mark_final(conn, row_id, result, now, defer_until)


def abandon(conn: Db, row_id: int, owner: str, now: float, code: str, text: str) -> None:
    """Give a row back as ``pending``: its send stopped on a configuration error, which
    the provider raised before the message could leave."""
    conn.execute(
        "UPDATE outbox SET state = 'pending', owner = NULL, next_attempt_at = NULL, error_code = ?, "
        "error_class = 'transient', error_message = ?, updated_at = ? WHERE id = ? AND owner = ?",
        (code, text, now, row_id, owner),
    )


def renew(conn: Db, row_ids: Iterable[int], owner: str, lease_until: float) -> None:
    """Extend the lease of rows this run still holds."""
    conn.executemany(
        "UPDATE outbox SET next_attempt_at = ? WHERE id = ? AND owner = ?",
        ((lease_until, row_id, owner) for row_id in row_ids),
    )


def release(conn: Db, owner: str, now: float) -> None:
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
    cancel_leftovers(conn, None, now)


_CANCEL_SQL = (
    "UPDATE outbox SET state = 'cancelled', owner = NULL, next_attempt_at = NULL, error_code = ?, "
    "error_class = 'permanent', error_message = ?, updated_at = ? WHERE state = 'pending' AND {scope}campaign IN "
    "(SELECT id FROM campaigns WHERE cancelled_at IS NOT NULL)"
)
_CANCEL_TEXT = "the campaign was cancelled before this message was sent"


def cancel_leftovers(conn: Db, campaign: int | None, now: float) -> int:
    """Turn the ``pending`` rows of cancelled campaigns (one, or all) ``cancelled``: those
    never claimed, those a run claimed but had not marked ``sending`` (clearing their owner
    makes that run's ``mark_sending`` fail), and those a send that finished after the
    cancel put back to ``pending`` (a transient failure). Returns how many."""
    scope, params = ("campaign = ? AND ", (campaign,)) if campaign is not None else ("", ())
    sql = _CANCEL_SQL.format(scope=scope)
    return int(conn.execute(sql, (CANCELLED_CODE, _CANCEL_TEXT, now, *params)).rowcount)


def waiting(
    conn: Db, campaign: int | None, owner: str, now: float, rows: tuple[int, int] | None = None
) -> tuple[int, float | None, int, float | None]:
    """(rows waiting for a later attempt, the earliest due time: ``now`` when some
    are due already; rows leased by other live runs, the latest lease end);
    of one campaign, or one range of its input row numbers."""
    scope, params = ("campaign = ? AND ", (campaign,)) if campaign is not None else ("", ())
    if rows is not None:
        scope, params = f"{scope}row_number BETWEEN ? AND ? AND ", (*params, *rows)
    deferred, due = conn.execute(
        f"SELECT count(*), min(next_attempt_at) FROM outbox WHERE {scope}state = 'pending' AND owner IS NULL "
        f"AND next_attempt_at IS NOT NULL AND NOT {HELD_CAMPAIGN}",
        params,
    ).fetchone()
    if due is not None:
        due = max(due, now)
    leased = 0
    until: float | None = None
    for row_owner, row_until in conn.execute(
        f"SELECT owner, next_attempt_at FROM outbox WHERE {scope}state IN ('pending', 'sending', 'unknown') "
        "AND owner IS NOT NULL AND owner != ? AND next_attempt_at > ?",
        (*params, owner, now),
    ):
        if not owner_is_dead(row_owner):
            leased += 1
            until = row_until if until is None else max(until, row_until)
    return int(deferred), due, leased, until
