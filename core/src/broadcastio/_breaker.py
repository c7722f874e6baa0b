"""Passive circuit breaker: stop calling a provider that keeps failing.

Fed by attempt outcomes, so a dead provider costs nothing per message once
its breaker has opened. Permanent errors (a bad number, a refused message)
say nothing about the provider's health and do not count; neither do
throttling answers (429, SMTP 421/4.7.x), which pause the provider instead
(see ``_throttle.py``).
"""

from __future__ import annotations

from typing import Literal

from msgspec import Struct

from broadcastio._checks import check_bool, check_int, check_number
from broadcastio._errors import ConfigurationError, ErrorClass
from broadcastio._models import DeliveryError

__all__ = ["BreakerPolicy", "BreakerState", "CircuitBreaker"]

BreakerState = Literal["closed", "open", "half_open"]


class BreakerPolicy(Struct, frozen=True, kw_only=True):
    """When a provider's breaker opens and how it recovers.

    :param failure_threshold: consecutive transient or ambiguous failures that open it.
    :param cooldown: seconds it stays open before admitting probes.
    :param half_open_probes: attempts admitted at once while half-open.
    :param enabled: set False to never skip a provider for its failures.
    """

    failure_threshold: int = 5
    cooldown: float = 30.0
    half_open_probes: int = 1
    enabled: bool = True

    def __post_init__(self) -> None:
        check_int(self.failure_threshold, "BreakerPolicy.failure_threshold", ConfigurationError, minimum=1)
        check_number(self.cooldown, "BreakerPolicy.cooldown", ConfigurationError)
        check_int(self.half_open_probes, "BreakerPolicy.half_open_probes", ConfigurationError, minimum=1)
        check_bool(self.enabled, "BreakerPolicy.enabled", ConfigurationError)


class CircuitBreaker:
    """The breaker of one provider. Not thread-safe; lives on one event loop.

    :meth:`acquire` asks for permission before a call; every permitted call
    must be followed by exactly one :meth:`record` (or :meth:`release`).
    State changes are returned so the orchestrator can report them.
    """

    __slots__ = ("_failures", "_in_flight_probes", "_opened_at", "_policy", "state")

    def __init__(self, policy: BreakerPolicy) -> None:
        self._policy = policy
        self.state: BreakerState = "closed"
        self._failures = 0
        self._opened_at = 0.0
        self._in_flight_probes = 0

    def acquire(self, now: float) -> tuple[bool, BreakerState | None]:
        """Whether a call may go ahead now, and the new state if it changed."""
        if self.state == "closed" or not self._policy.enabled:
            return True, None
        changed: BreakerState | None = None
        if self.state == "open":
            if now - self._opened_at < self._policy.cooldown:
                return False, None
            self.state = changed = "half_open"
            self._in_flight_probes = 0
        if self._in_flight_probes >= self._policy.half_open_probes:
            return False, changed
        self._in_flight_probes += 1
        return True, changed

    def retry_in(self, now: float) -> float:
        """Seconds until :meth:`acquire` may admit a call again (0 unless open)."""
        if self.state != "open" or not self._policy.enabled:
            return 0.0
        return max(0.0, self._policy.cooldown - (now - self._opened_at))

    def release(self) -> None:
        """Give back a permission that ended without a health verdict."""
        if self.state == "half_open" and self._in_flight_probes > 0:
            self._in_flight_probes -= 1

    def record(self, error: DeliveryError | None, now: float, *, throttled: bool = False) -> BreakerState | None:
        """Feed one outcome in (None for success); returns the new state if it changed.

        ``throttled`` marks a throttling answer, which never counts as a failure.
        """
        if not self._policy.enabled:
            return None
        if error is None:
            self._failures = 0
            if self.state != "closed":
                self._in_flight_probes = 0
                self.state = "closed"
                return "closed"
            return None
        if error.error_class is ErrorClass.PERMANENT or throttled:
            self.release()
            return None
        self._failures += 1
        if self.state == "half_open" or (self.state == "closed" and self._failures >= self._policy.failure_threshold):
            self.state = "open"
            self._opened_at = now
            self._in_flight_probes = 0
            return "open"
        return None
