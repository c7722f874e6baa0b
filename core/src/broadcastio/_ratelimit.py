"""Per-provider rate limits: a token bucket that waits instead of failing."""

from __future__ import annotations

import asyncio

from msgspec import Struct

from broadcastio._checks import check_int, check_number
from broadcastio._clock import Clock
from broadcastio._errors import ConfigurationError

__all__ = ["RateLimit", "TokenBucket"]


class RateLimit(Struct, frozen=True, kw_only=True):
    """At most ``per_second`` calls per second on average, bursts up to ``burst``."""

    per_second: float
    burst: int = 1

    def __post_init__(self) -> None:
        check_number(self.per_second, "RateLimit.per_second", ConfigurationError, exclusive=True)
        check_int(self.burst, "RateLimit.burst", ConfigurationError, minimum=1)


class TokenBucket:
    """A token bucket on an injectable clock; waiters are served in order."""

    __slots__ = ("_clock", "_lock", "_tokens", "_updated", "limit")

    def __init__(self, limit: RateLimit, clock: Clock) -> None:
        self.limit = limit
        self._clock = clock
        self._tokens = float(limit.burst)
        self._updated = clock.monotonic()
        self._lock = asyncio.Lock()

    def _refill(self) -> None:
        now = self._clock.monotonic()
        self._tokens = min(float(self.limit.burst), self._tokens + (now - self._updated) * self.limit.per_second)
        self._updated = now

    async def acquire(self) -> float:
        """Take one token, waiting for it if needed; returns seconds waited."""
        waited = 0.0
        async with self._lock:
            self._refill()
            while self._tokens < 1.0:
                wait = (1.0 - self._tokens) / self.limit.per_second
                await self._clock.sleep(wait)
                waited += wait
                # A clock whose sleep does not advance time still makes progress.
                before = self._updated
                self._refill()
                if self._updated == before:
                    self._tokens += wait * self.limit.per_second
            self._tokens -= 1.0
        return waited
