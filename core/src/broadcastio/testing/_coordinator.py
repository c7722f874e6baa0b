"""MemoryCoordinator: a Coordinator in this process's memory, for tests and examples.

Several orchestrators sharing one instance behave like several processes
sharing one Redis namespace: same token buckets, same in-flight leases, same
breaker "open until" and half-open probes. Time comes from a Clock, so a
FakeClock drives it.
"""

from __future__ import annotations

import collections
import uuid

from broadcastio._breaker import BreakerPolicy
from broadcastio._clock import Clock, SystemClock
from broadcastio._coordination import CoordinationError, Coordinator, Permit, ProbeOutcome
from broadcastio._ratelimit import RateLimit

__all__ = ["MemoryCoordinator"]

_PROBE_RECHECK = 1.0
"""Longest wait suggested while another process's probe is in flight."""


class MemoryCoordinator(Coordinator):
    """Shared limits in memory. Set :attr:`unreachable` to make every call fail as a dead store would.

    :param lease: seconds an in-flight slot or probe is held before it expires.
    :param poll: longest wait suggested while every in-flight slot is taken.
    :param clock: where time comes from (a :class:`~broadcastio.testing.FakeClock` in tests).
    """

    def __init__(self, *, lease: float = 30.0, poll: float = 0.01, clock: Clock | None = None) -> None:
        self.lease = lease
        self.poll = poll
        self.clock: Clock = clock or SystemClock()
        self.unreachable = False
        self.calls: collections.deque[str] = collections.deque(maxlen=10_000)  # the latest calls, by method name
        self._buckets: dict[str, tuple[float, float]] = {}
        self._slots: dict[str, dict[str, float]] = {}
        self._probes: dict[str, dict[str, float]] = {}
        self._open_until: dict[str, float] = {}
        self._tripped: set[str] = set()

    def _enter(self, call: str) -> float:
        self.calls.append(call)
        if self.unreachable:
            raise CoordinationError("memory coordinator is unreachable (test switch)")
        return self.clock.monotonic()

    @staticmethod
    def _take(holders: dict[str, float], limit: int, now: float, lease: float) -> Permit:
        for token, expiry in list(holders.items()):
            if expiry <= now:
                del holders[token]
        if len(holders) < limit:
            token = uuid.uuid4().hex
            holders[token] = now + lease
            return Permit(granted=True, token=token)
        return Permit(granted=False, wait=max(0.0, min(holders.values()) - now))

    async def take_token(self, provider: str, limit: RateLimit) -> Permit:
        now = self._enter("take_token")
        tokens, updated = self._buckets.get(provider, (float(limit.burst), now))
        tokens = min(float(limit.burst), tokens + max(0.0, now - updated) * limit.per_second)
        if tokens >= 1.0 - 1e-9:  # float dust from the refill must not cost another wait
            self._buckets[provider] = (max(0.0, tokens - 1.0), now)
            return Permit(granted=True)
        self._buckets[provider] = (tokens, now)
        return Permit(granted=False, wait=(1.0 - tokens) / limit.per_second)

    async def acquire_slot(self, provider: str, limit: int) -> Permit:
        now = self._enter("acquire_slot")
        permit = self._take(self._slots.setdefault(provider, {}), limit, now, self.lease)
        return permit if permit.granted else Permit(granted=False, wait=min(permit.wait, self.poll))

    async def release_slot(self, provider: str, token: str) -> None:
        self._enter("release_slot")
        self._slots.get(provider, {}).pop(token, None)

    def in_flight(self, provider: str) -> int:
        """Slots of ``provider`` held now (expired leases not counted)."""
        now = self.clock.monotonic()
        return sum(1 for expiry in self._slots.get(provider, {}).values() if expiry > now)

    async def check_breaker(self, provider: str, policy: BreakerPolicy) -> Permit:
        now = self._enter("check_breaker")
        left = self._open_until.get(provider, 0.0) - now
        if left > 0:
            return Permit(granted=False, wait=left)
        if provider not in self._tripped:
            return Permit(granted=True)
        permit = self._take(self._probes.setdefault(provider, {}), policy.half_open_probes, now, self.lease)
        return permit if permit.granted else Permit(granted=False, wait=min(permit.wait, _PROBE_RECHECK))

    async def open_provider(self, provider: str, cooldown: float) -> None:
        now = self._enter("open_provider")
        self._open_until[provider] = max(self._open_until.get(provider, 0.0), now + cooldown)
        self._tripped.add(provider)

    async def probe_done(self, provider: str, token: str, outcome: ProbeOutcome, policy: BreakerPolicy) -> None:
        now = self._enter("probe_done")
        self._probes.get(provider, {}).pop(token, None)
        if outcome == "ok":
            self._tripped.discard(provider)
        elif outcome == "failed":
            self._open_until[provider] = max(self._open_until.get(provider, 0.0), now + policy.cooldown)
            self._tripped.add(provider)
