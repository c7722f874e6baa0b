"""One provider as the orchestrator sees it: its policies and live state."""

from __future__ import annotations

import asyncio
import functools
import inspect
from collections.abc import Awaitable, Callable
from typing import Any

from broadcastio._breaker import BreakerPolicy, CircuitBreaker
from broadcastio._clock import Clock
from broadcastio._errors import ConfigurationError
from broadcastio._health import HealthCache, HealthPolicy
from broadcastio._models import DeliveryResult, Message, ProviderHealth
from broadcastio._provider import check_provider
from broadcastio._ratelimit import RateLimit, TokenBucket
from broadcastio._retry import RetryPolicy

__all__ = ["ProviderSlot", "check_max_in_flight"]

_ALWAYS_HEALTHY = ProviderHealth(healthy=True, detail="provider has no health check")


def _as_async(function: Callable[..., Any]) -> Callable[..., Awaitable[Any]]:
    """An awaitable version of a provider method; plain ones run in a thread."""
    if inspect.iscoroutinefunction(function):
        return function

    async def in_thread(*args: Any) -> Any:
        value = await asyncio.to_thread(function, *args)
        if inspect.isawaitable(value):
            value = await value
        return value

    return functools.update_wrapper(in_thread, function)


def check_max_in_flight(name: str, value: object) -> int | None:
    """``value`` as a cap on a provider's concurrent attempts, or None for no cap."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigurationError(f"provider {name!r}: max_in_flight must be an integer >= 1 or None, got {value!r}")
    return value


def check_throttling_codes(name: str, value: object) -> frozenset[str]:
    """A provider's own throttling codes, as a frozenset of strings."""
    if isinstance(value, str) or not isinstance(value, (set, frozenset, tuple, list)):
        raise ConfigurationError(f"provider {name!r}: throttling_codes must be a set of error codes, got {value!r}")
    if not all(isinstance(code, str) and code for code in value):
        raise ConfigurationError(f"provider {name!r}: throttling_codes must hold non-empty strings")
    return frozenset(value)


class ProviderSlot:
    """A provider plus its retry policy, breaker, health cache and rate limit."""

    __slots__ = (
        "breaker",
        "breaker_policy",
        "bucket",
        "channel",
        "health",
        "idempotent",
        "in_flight",
        "max_in_flight",
        "name",
        "provider",
        "retry_policy",
        "send",
        "throttled_until",
        "throttling_codes",
    )

    def __init__(
        self,
        provider: Any,
        *,
        default_retry: RetryPolicy,
        breaker: BreakerPolicy,
        health: HealthPolicy,
        rate_limit: RateLimit | None,
        clock: Clock,
        max_in_flight: int | None = None,
    ) -> None:
        check_provider(provider)
        self.provider = provider
        self.name: str = provider.name
        self.channel: str = provider.channel
        self.idempotent = bool(getattr(provider, "idempotent", False))
        self.retry_policy: RetryPolicy = getattr(provider, "retry_policy", None) or default_retry
        self.send: Callable[[Message, str], Awaitable[DeliveryResult]] = _as_async(provider.send)
        self.breaker = CircuitBreaker(breaker)
        self.breaker_policy = breaker
        check = getattr(provider, "health", None)
        if callable(check):
            self.health = HealthCache(_as_async(check), health, clock)
        else:

            async def always_healthy() -> ProviderHealth:
                return _ALWAYS_HEALTHY

            self.health = HealthCache(always_healthy, health, clock)
        self.bucket = TokenBucket(rate_limit, clock) if rate_limit is not None else None
        limit = max_in_flight if max_in_flight is not None else getattr(provider, "max_in_flight", None)
        self.max_in_flight: int | None = check_max_in_flight(self.name, limit)
        # Shared by every send and broadcast of the orchestrator: the cap is per provider, not per caller.
        self.in_flight = asyncio.Semaphore(limit) if limit is not None else None
        # Monotonic time before which a throttled provider gets no new attempt (429, SMTP 421/4.7.x).
        self.throttled_until = 0.0
        self.throttling_codes = check_throttling_codes(self.name, getattr(provider, "throttling_codes", frozenset()))

    async def aclose(self) -> None:
        """Close the provider if it has anything to close."""
        close = getattr(self.provider, "aclose", None)
        if callable(close):
            await _as_async(close)()
