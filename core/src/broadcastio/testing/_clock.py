"""A clock for tests: sleeping advances time instantly."""

from __future__ import annotations

import asyncio
import datetime as dt

__all__ = ["FakeClock"]

_EPOCH = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)


class FakeClock:
    """Monotonic and wall time that move only through :meth:`sleep` or :meth:`advance`.

    Every requested sleep is recorded in :attr:`sleeps`.
    """

    def __init__(self, start: float = 0.0) -> None:
        self.time = start
        self.sleeps: list[float] = []

    def monotonic(self) -> float:
        return self.time

    def now(self) -> dt.datetime:
        return _EPOCH + dt.timedelta(seconds=self.time)

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        if seconds > 0:
            self.time += seconds
        await asyncio.sleep(0)

    def advance(self, seconds: float) -> None:
        """Move time forward without sleeping."""
        self.time += seconds
