"""Receipts in the journal: matching, recording, receipt-driven fallback and escalation timers.

Like ``_store``, every function runs inside the writer's transaction
(``BEGIN IMMEDIATE``, so one process at a time), which makes each of them
one atomic claim: a receipt is stored once (``receipts.receipt_id`` is the
primary key) and a row escalates at most once away from each provider
(``escalations`` is keyed by row and provider), whatever the number of
processes recording receipts or firing timers.

A receipt is matched to its row by the provider's message id (the
``accepts`` table remembers every acceptance, so a late receipt from an
earlier provider still finds its row), else by the idempotency key. Per
row, the level of its current provider only rises; ``FAILED`` is terminal
for that provider, and changes nothing once ``delivered`` was recorded:

- ``sent`` row, FAILED: the channel has definitely not delivered it. The
  row goes back to ``pending`` at once with that provider in ``skip``
  (the runner sends it through the rest of its route), or to ``failed``
  when no provider is left.
- ``unknown`` row: delivered/read settles it as ``sent`` (never resent);
  FAILED makes it ``pending`` again (safe to resend, same provider allowed).
- a receipt of the escalation's level cancels its timer.

A receipt that arrives before its send's outcome is committed (a fast
carrier, a provider that echoes no key) is stored as orphaned, and applied
to the row when the acceptance it is about is recorded.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from broadcastio._errors import ErrorClass
from broadcastio._models import DeliveryError
from broadcastio.outbox._db import Db, is_postgres
from broadcastio.receipts._model import Receipt, ReceiptLevel, RecordOutcome

__all__ = ["adopt_orphans", "fire_escalations", "next_escalation", "record_receipt"]

_FAILED = int(ReceiptLevel.FAILED)
_ROW = "SELECT id, state, provider, route, skip, receipt_level, escalate_unless FROM outbox WHERE {} = ?"


def _row_sql(conn: Db, column: str) -> str:
    """The row a receipt is about; on PostgreSQL locked, as two processes may record receipts of one row at once."""
    return _ROW.format(column) + (" FOR UPDATE" if is_postgres(conn) else "")


def arrival_order(conn: Db) -> str:
    """The column that orders receipts as they were stored (SQLite's rowid, PostgreSQL's identity)."""
    return "seq" if is_postgres(conn) else "rowid"


def _find(conn: Db, receipt: Receipt) -> tuple[Any, ...] | None:
    """The row the receipt is about and the provider that sent it, or None."""
    message_id = receipt.provider_message_id
    if message_id is not None:
        if receipt.provider is not None:
            hit = conn.execute(
                "SELECT outbox_id, provider FROM accepts WHERE provider_message_id = ? AND provider = ?",
                (message_id, receipt.provider),
            ).fetchone()
        else:
            hit = conn.execute(
                "SELECT outbox_id, provider FROM accepts WHERE provider_message_id = ?", (message_id,)
            ).fetchone()
        if hit is not None:
            row = conn.execute(_row_sql(conn, "id"), (hit[0],)).fetchone()
            return None if row is None else (*row, hit[1])
    if receipt.idempotency_key is not None:
        row = conn.execute(_row_sql(conn, "idempotency_key"), (receipt.idempotency_key,)).fetchone()
        if row is not None:
            return (*row, receipt.provider or row[2])
    return None


def _not_higher(current: int | None, new: int) -> bool:
    """Whether ``new`` changes nothing: levels only rise, FAILED is terminal, and a
    FAILED after ``delivered`` changes nothing either (the message did arrive)."""
    if current is None:
        return False
    if current == _FAILED:
        return True
    if new == _FAILED:
        return current >= int(ReceiptLevel.DELIVERED)
    return current >= new


def remaining_route(route: str | None, provider: str | None, skip: str | None) -> list[str]:
    """The providers of ``route`` after ``provider``, less those already ruled out."""
    names = route.split(",") if route else []
    ruled_out = set(skip.split(",")) if skip else set()
    if provider in names:
        names = names[names.index(provider) + 1 :]
    return [name for name in names if name not in ruled_out and name != provider]


def _add_skip(skip: str | None, provider: str) -> str:
    names = skip.split(",") if skip else []
    return ",".join([*names, provider] if provider not in names else names)


def record_receipt(conn: Db, receipt: Receipt, now: float) -> RecordOutcome:
    """Store ``receipt`` once and apply it to its row (see the module docstring)."""
    error = receipt.error
    # Storing the receipt first is its claim: a second process with the same receipt waits for
    # this transaction (PostgreSQL) or for the write lock (SQLite), then finds it there.
    claimed = conn.execute(
        "INSERT INTO receipts (receipt_id, outbox_id, provider, provider_type, provider_message_id, "
        "idempotency_key, level, status, error_code, error_class, error_message, occurred_at, received_at, outcome) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (receipt_id) DO NOTHING",
        (
            receipt.receipt_id,
            None,
            receipt.provider,
            receipt.provider_type,
            receipt.provider_message_id,
            receipt.idempotency_key,
            int(receipt.level),
            receipt.status,
            None if error is None else error.code,
            None if error is None else error.error_class.value,
            None if error is None else error.message,
            receipt.occurred_at.timestamp(),
            now,
            "orphaned",
        ),
    ).rowcount
    if claimed != 1:
        return "duplicate"
    found = _find(conn, receipt)
    if found is None:
        return "orphaned"
    outcome: RecordOutcome = _apply(conn, found, receipt, now)
    conn.execute(
        "UPDATE receipts SET outbox_id = ?, provider = ?, outcome = ? WHERE receipt_id = ?",
        (found[0], found[7], outcome, receipt.receipt_id),
    )
    return outcome


def _apply(conn: Db, row: tuple[Any, ...], receipt: Receipt, now: float) -> RecordOutcome:
    row_id, state, current_provider, route, skip, level, _unless, provider = row
    new = int(receipt.level)
    if current_provider is not None and provider != current_provider:
        return "stale"  # about an earlier provider of this row: kept for the history only
    if _not_higher(level, new):
        return "stale"
    conn.execute(
        "UPDATE outbox SET receipt_level = ?, receipt_status = ?, receipt_at = ?, updated_at = ?, "
        "escalate_at = CASE WHEN escalate_unless IS NOT NULL AND ? >= escalate_unless THEN NULL ELSE escalate_at END "
        "WHERE id = ?",
        (new, receipt.status, receipt.occurred_at.timestamp(), now, new, row_id),
    )
    if new == _FAILED:
        _failed_after_accept(conn, row_id, state, provider, route, skip, receipt, now)
    elif new >= int(ReceiptLevel.DELIVERED) and state == "unknown":
        conn.execute(  # reconciled: the ambiguous attempt did deliver it, so it is never resent
            "UPDATE outbox SET state = 'sent', owner = NULL, next_attempt_at = NULL, error_code = NULL, "
            "error_class = NULL, error_message = NULL, provider = coalesce(?, provider), "
            "provider_message_id = coalesce(?, provider_message_id) WHERE id = ?",
            (provider, receipt.provider_message_id, row_id),
        )
    return "recorded"


def _failed_after_accept(
    conn: Db,
    row_id: int,
    state: str,
    provider: str | None,
    route: str | None,
    skip: str | None,
    receipt: Receipt,
    now: float,
) -> None:
    error = receipt.error
    code = error.code if error is not None else f"receipt.{receipt.status}"
    error_class = error.error_class.value if error is not None else "permanent"
    text = error.message if error is not None else f"the provider reported {receipt.status!r} after accepting it"
    if state == "unknown":  # definitely not delivered: safe to send again, the same provider included
        conn.execute(
            "UPDATE outbox SET state = 'pending', owner = NULL, next_attempt_at = NULL, error_code = ?, "
            "error_class = ?, error_message = ?, escalate_at = NULL, receipt_level = NULL, receipt_status = NULL, "
            "receipt_at = NULL WHERE id = ?",  # the next send's receipts start afresh (this one stays in the history)
            (code, error_class, text, row_id),
        )
        return
    if state != "sent" or provider is None:
        return  # pending or being sent again: its runner records the new outcome
    escalate(conn, row_id, provider, route, skip, "failed", now, code=code, error_class=error_class, text=text)


def escalate(
    conn: Db,
    row_id: int,
    provider: str,
    route: str | None,
    skip: str | None,
    reason: str,
    now: float,
    *,
    code: str | None = None,
    error_class: str | None = None,
    text: str | None = None,
) -> bool:
    """Move a ``sent`` row on to the next provider of its route, at most once per provider.

    True when the row was escalated; False when it had been already, or no
    provider is left (a FAILED receipt then makes it ``failed``).
    """
    left = remaining_route(route, provider, skip)
    if not left:
        if code is not None:
            conn.execute(
                "UPDATE outbox SET state = 'failed', escalate_at = NULL, error_code = ?, error_class = ?, "
                "error_message = ?, updated_at = ? WHERE id = ? AND state = 'sent'",
                (code, error_class, text, now, row_id),
            )
        else:
            conn.execute("UPDATE outbox SET escalate_at = NULL WHERE id = ?", (row_id,))
        return False
    claimed = conn.execute(
        "INSERT INTO escalations (outbox_id, from_provider, reason, at) VALUES (?, ?, ?, ?) "
        "ON CONFLICT (outbox_id, from_provider) DO NOTHING",
        (row_id, provider, reason, now),
    ).rowcount
    if claimed != 1:
        conn.execute("UPDATE outbox SET escalate_at = NULL WHERE id = ?", (row_id,))
        return False
    conn.execute(
        "UPDATE outbox SET state = 'pending', owner = NULL, next_attempt_at = NULL, escalate_at = NULL, "
        "skip = ?, error_code = coalesce(?, error_code), error_class = coalesce(?, error_class), "
        "error_message = coalesce(?, error_message), updated_at = ? WHERE id = ? AND state = 'sent'",
        (_add_skip(skip, provider), code, error_class, text, now, row_id),
    )
    return True


def fire_escalations(conn: Db, campaign: int | None, now: float, limit: int = 500) -> int:
    """Fire the escalation timers due by ``now`` (of one campaign, or all); returns how many escalated.

    A timer fires only on a ``sent`` row whose receipt level is still below
    the escalation's level; the row becomes ``pending`` for the next provider.
    """
    scope, params = ("campaign = ? AND ", (campaign,)) if campaign is not None else ("", ())
    rows = conn.execute(
        f"SELECT id, provider, route, skip FROM outbox WHERE {scope}state = 'sent' AND escalate_at IS NOT NULL "
        "AND escalate_at <= ? AND (receipt_level IS NULL OR (receipt_level >= 0 AND receipt_level < escalate_unless)) "
        "ORDER BY escalate_at LIMIT ?",
        (*params, now, limit),
    ).fetchall()
    fired = 0
    for row_id, provider, route, skip in rows:
        if provider is None:
            continue
        fired += escalate(conn, row_id, provider, route, skip, "silence", now)
    return fired


def next_escalation(conn: Db, campaign: int | None) -> float | None:
    """When the earliest armed escalation timer falls due, or None."""
    scope, params = ("campaign = ? AND ", (campaign,)) if campaign is not None else ("", ())
    row = conn.execute(
        f"SELECT min(escalate_at) FROM outbox WHERE {scope}state = 'sent' AND escalate_at IS NOT NULL",
        params,
    ).fetchone()
    return None if row is None or row[0] is None else float(row[0])


_ORPHANS = (
    "SELECT receipt_id, provider_type, idempotency_key, level, status, error_code, error_class, error_message, "
    "occurred_at FROM receipts WHERE outbox_id IS NULL AND provider_message_id = ? AND (provider IS NULL OR "
    "provider = ?) ORDER BY occurred_at, {}"
)


def adopt_orphans(conn: Db, accepted: Sequence[tuple[Any, ...]]) -> None:
    """Apply the orphaned receipts of acceptances just recorded (``(message id, provider, row, time)``).

    One indexed look-up per batch when there are no orphans, which is the usual case.
    """
    if not accepted or conn.execute("SELECT 1 FROM receipts WHERE outbox_id IS NULL LIMIT 1").fetchone() is None:
        return
    for message_id, provider, row_id, now in accepted:
        for found in conn.execute(_ORPHANS.format(arrival_order(conn)), (message_id, provider)).fetchall():
            receipt_id, provider_type, key, level, status, code, error_class, text, occurred = found
            error = None
            if code is not None:
                error = DeliveryError(
                    code=code, message=text or "", error_class=ErrorClass(error_class or "permanent"), provider=provider
                )
            receipt = Receipt(
                provider_type=provider_type,
                receipt_id=receipt_id,
                provider_message_id=message_id,
                idempotency_key=key,
                level=ReceiptLevel(level),
                status=status,
                error=error,
                occurred_at=dt.datetime.fromtimestamp(occurred, dt.UTC),
                provider=provider,
            )
            row = conn.execute(_row_sql(conn, "id"), (row_id,)).fetchone()
            if row is None:
                continue
            outcome = _apply(conn, (*row, provider), receipt, now)
            conn.execute(
                "UPDATE receipts SET outbox_id = ?, provider = ?, outcome = ? WHERE receipt_id = ?",
                (row_id, provider, outcome, receipt_id),
            )
