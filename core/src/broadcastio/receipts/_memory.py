"""A receipt sink in memory, for tests, docs and ``receipts serve`` without an outbox."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable

from broadcastio.receipts._model import Receipt, ReceiptLevel, RecordOutcome

__all__ = ["MemoryReceiptSink"]


class MemoryReceiptSink:
    """Keeps receipts in lists, deduplicated by ``receipt_id``.

    :param known_ids: provider message ids and idempotency keys of the
        messages "sent"; a receipt matching none of them is kept as orphaned.
        None: every receipt matches a message.

    A receipt that does not raise its message's level (``delivered`` after
    ``read``, anything after ``failed``) is kept and answered ``stale``.
    """

    def __init__(self, known_ids: Iterable[str] | None = None) -> None:
        self.known_ids: set[str] | None = set(known_ids) if known_ids is not None else None
        self.receipts: list[Receipt] = []
        self.orphans: list[Receipt] = []
        self.outcomes: list[RecordOutcome] = []
        self._seen: set[str] = set()
        self._levels: dict[str, ReceiptLevel] = {}
        self._lock = asyncio.Lock()

    def _message_key(self, receipt: Receipt) -> str | None:
        for candidate in (receipt.provider_message_id, receipt.idempotency_key):
            if candidate is not None and (self.known_ids is None or candidate in self.known_ids):
                return candidate
        return None

    def level_of(self, message_id: str) -> ReceiptLevel | None:
        """The highest level recorded for a message id (or key), or None."""
        return self._levels.get(message_id)

    async def record(self, receipt: Receipt) -> RecordOutcome:
        """Store ``receipt`` once; say whether it was new, a replay, an orphan or stale."""
        async with self._lock:
            outcome = self._record(receipt)
            self.outcomes.append(outcome)
            return outcome

    def _record(self, receipt: Receipt) -> RecordOutcome:
        if receipt.receipt_id in self._seen:
            return "duplicate"
        self._seen.add(receipt.receipt_id)
        key = self._message_key(receipt)
        if key is None:
            self.orphans.append(receipt)
            return "orphaned"
        self.receipts.append(receipt)
        current = self._levels.get(key)
        if current is not None and _not_higher(current, receipt.level):
            return "stale"
        for alias in (receipt.provider_message_id, receipt.idempotency_key):
            if alias is not None:
                self._levels[alias] = receipt.level
        return "recorded"


def _not_higher(current: ReceiptLevel, new: ReceiptLevel) -> bool:
    """Whether ``new`` changes nothing: ``failed`` is terminal, other levels only rise."""
    if current is ReceiptLevel.FAILED:
        return True
    if new is ReceiptLevel.FAILED:
        return False
    return current >= new
