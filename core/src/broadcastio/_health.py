"""Active health checks, cached for a TTL and run once at a time per provider."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from msgspec import Struct

from broadcastio._checks import check_bool, check_number
from broadcastio._clock import Clock
from broadcastio._errors import ConfigurationError
from broadcastio._models import ProviderHealth

__all__ = ["HealthCache", "HealthPolicy"]


class HealthPolicy(Struct, frozen=True, kw_only=True):
    """How the orchestrator uses providers' active health checks.

    :param enabled: check health before routing to a provider; unhealthy
        providers are skipped (and the trace says so).
    :param ttl: seconds a health answer is reused.
    :param timeout: seconds a check may take before it counts as unhealthy.
    :param strict: raise :class:`~broadcastio.NoHealthyProviderError` when no
        provider for a message is healthy, instead of returning a failure.
    """

    enabled: bool = True
    ttl: float = 30.0
    timeout: float = 5.0
    strict: bool = False

    def __post_init__(self) -> None:
        check_bool(self.enabled, "HealthPolicy.enabled", ConfigurationError)
        check_bool(self.strict, "HealthPolicy.strict", ConfigurationError)
        check_number(self.ttl, "HealthPolicy.ttl", ConfigurationError)
        check_number(self.timeout, "HealthPolicy.timeout", ConfigurationError, exclusive=True)


class HealthCache:
    """Cached health of one provider; concurrent callers share one check."""

    __slots__ = ("_check", "_clock", "_expires_at", "_health", "_pending", "_policy")

    def __init__(self, check: Callable[[], Awaitable[ProviderHealth]], policy: HealthPolicy, clock: Clock) -> None:
        self._check = check
        self._policy = policy
        self._clock = clock
        self._health: ProviderHealth | None = None
        self._expires_at = 0.0
        self._pending: asyncio.Future[ProviderHealth] | None = None

    @property
    def last(self) -> ProviderHealth | None:
        """The most recent answer, fresh or not."""
        return self._health

    def fresh(self) -> ProviderHealth | None:
        """The cached answer if still within its TTL (no await: the hot path)."""
        if self._health is not None and self._clock.monotonic() < self._expires_at:
            return self._health
        return None

    async def get(self) -> tuple[ProviderHealth, ProviderHealth | None, bool]:
        """The current health, the answer before it, and whether this caller
        ran the check (so exactly one caller reports a change)."""
        cached = self.fresh()
        if cached is not None:
            return cached, cached, False
        previous = self._health
        owner = self._pending is None
        if owner:
            self._pending = asyncio.ensure_future(self._run_check())
        assert self._pending is not None
        # Shielded: one caller giving up must not cancel the check the others await.
        health = await asyncio.shield(self._pending)
        return health, previous, owner

    def expires_in(self) -> float:
        """Seconds until the cached answer goes stale and the next caller checks again."""
        return max(0.0, self._expires_at - self._clock.monotonic())

    def invalidate(self) -> None:
        """Forget the cached answer so the next call checks again."""
        self._expires_at = 0.0

    async def _run_check(self) -> ProviderHealth:
        started = self._clock.monotonic()
        try:
            answer: object = await asyncio.wait_for(self._check(), self._policy.timeout)
            if isinstance(answer, ProviderHealth):
                health = answer
            else:
                health = ProviderHealth(
                    healthy=False, detail=f"health() returned {type(answer).__name__}, not ProviderHealth"
                )
        except TimeoutError:
            health = ProviderHealth(healthy=False, detail=f"health check timed out after {self._policy.timeout}s")
        except Exception as exc:  # a failing check means unhealthy, never a crash
            health = ProviderHealth(healthy=False, detail=f"health check raised {type(exc).__name__}: {exc}")
        if health.checked_at is None or health.latency_ms is None:
            health = ProviderHealth(
                healthy=health.healthy,
                detail=health.detail,
                checked_at=health.checked_at or self._clock.now(),
                latency_ms=health.latency_ms
                if health.latency_ms is not None
                else (self._clock.monotonic() - started) * 1000,
            )
        self._health = health
        self._expires_at = self._clock.monotonic() + self._policy.ttl
        self._pending = None
        return health
