"""A byte budget for messages being built and sent at once.

An email is built whole in memory (headers, body, base64 attachments) and
aiosmtplib copies it a few times on its way to the socket, so ten 20 MB
attachments in flight cost over a gigabyte. The budget admits messages
while their estimated size fits, so memory follows the budget, not the
concurrency; a message larger than the whole budget runs alone.
"""

from __future__ import annotations

import asyncio

__all__ = ["ByteBudget"]


class ByteBudget:
    """A weighted semaphore in bytes, bound to the event loop that first waits on it."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._used = 0
        self._changed: asyncio.Condition | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def _condition(self) -> asyncio.Condition:
        loop = asyncio.get_running_loop()
        if self._changed is None or self._loop is not loop:
            self._changed, self._loop, self._used = asyncio.Condition(), loop, 0
        return self._changed

    async def acquire(self, size: int) -> int:
        """Wait until ``size`` bytes fit (capped at the limit); returns what to release."""
        weight = max(0, min(size, self.limit))
        changed = self._condition()
        async with changed:
            await changed.wait_for(lambda: self._used + weight <= self.limit)
            self._used += weight
        return weight

    async def release(self, weight: int) -> None:
        changed = self._condition()
        async with changed:
            self._used -= weight
            changed.notify_all()
