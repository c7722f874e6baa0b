"""The one place the orchestrator takes time from.

Every wait (backoff, Retry-After, rate limits) goes through a :class:`Clock`,
so tests swap in a fake clock, or switch waiting off, and never sleep.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from typing import Protocol, runtime_checkable

__all__ = ["Clock", "SystemClock", "set_testing", "is_testing"]

_testing = False


def set_testing(on: bool = True) -> None:
    """Make every :class:`SystemClock` skip its sleeps (for test suites)."""
    global _testing
    _testing = on


def is_testing() -> bool:
    """Whether :func:`set_testing` switched waiting off."""
    return _testing


@runtime_checkable
class Clock(Protocol):
    """Monotonic time, wall time and sleeping, injectable as one object."""

    def monotonic(self) -> float:
        """Seconds on a clock that never goes back."""
        ...

    def now(self) -> dt.datetime:
        """The current time, timezone-aware."""
        ...

    async def sleep(self, seconds: float) -> None:
        """Wait ``seconds``."""
        ...


class SystemClock:
    """The real clock; its sleeps are skipped while :func:`set_testing` is on."""

    def monotonic(self) -> float:
        return time.monotonic()

    def now(self) -> dt.datetime:
        return dt.datetime.now(dt.UTC)

    async def sleep(self, seconds: float) -> None:
        if seconds <= 0 or _testing:
            return
        await asyncio.sleep(seconds)
