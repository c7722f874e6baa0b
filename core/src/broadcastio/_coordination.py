"""Limits shared between processes: the Coordinator interface.

An orchestrator alone keeps a provider's rate limit, ``max_in_flight`` cap and
circuit breaker in its own memory, so four worker processes send four times
the configured rate. A :class:`Coordinator` moves those three to a store every
process shares (Redis, in ``broadcastio-redis``).

The interface never blocks and never sleeps: each call answers at once with a
:class:`Permit` (go ahead, or wait this long), and the orchestrator does the
waiting on its own clock (``_delivery.py``). When the shared store cannot be
reached a coordinator raises :class:`CoordinationError`; the orchestrator
then makes no attempt and returns the message as a transient
``coordination_unavailable`` failure (the outbox defers it), never sending
unlimited.
"""

from __future__ import annotations

import abc
from collections.abc import Callable
from typing import Literal

from msgspec import Struct

from broadcastio._breaker import BreakerPolicy
from broadcastio._errors import BroadcastioError
from broadcastio._ratelimit import RateLimit

__all__ = ["DEFAULT_RETRY_AFTER", "CoordinationError", "Coordinator", "CoordinatorType", "Permit", "ProbeOutcome"]

DEFAULT_RETRY_AFTER = 1.0
"""Seconds a message is deferred by when the coordinator's store is unreachable."""


class CoordinationError(BroadcastioError):
    """A coordinator's shared store cannot be reached (connection refused, timeout).

    Raised by :class:`Coordinator` methods; the orchestrator turns it into a
    transient ``coordination_unavailable`` result with ``retry_after`` and
    makes no attempt, so shared limits are never silently lifted.
    """

    def __init__(self, message: str, *, retry_after: float = DEFAULT_RETRY_AFTER) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class Permit(Struct, frozen=True, kw_only=True):
    """A coordinator's answer: go ahead, or ask again after ``wait`` seconds.

    ``token`` names what was granted when it must be handed back (an
    in-flight slot, a half-open probe); empty otherwise.
    """

    granted: bool
    wait: float = 0.0
    token: str = ""


ProbeOutcome = Literal["ok", "failed", "none"]
"""``"ok"`` (the provider answered), ``"failed"`` (transient or ambiguous) or ``"none"`` (no verdict)."""


class Coordinator(abc.ABC):
    """Makes providers' rate limits, ``max_in_flight`` and breaker state shared.

    Every process whose orchestrator uses a coordinator on the same store (and
    namespace) shares, per provider name: one token bucket (the provider's
    :class:`RateLimit`), one cap on concurrent attempts, and one "open until"
    of its circuit breaker. Each process's own :class:`CircuitBreaker` keeps
    counting its own failures; when it opens, the orchestrator calls
    :meth:`open_provider`, and every process asks :meth:`check_breaker`
    before each attempt.

    Methods answer at once (no sleeping inside) and raise
    :class:`CoordinationError` when the store is unreachable. One coordinator
    belongs to one orchestrator and event loop, like a provider; the
    orchestrator's ``aclose`` closes it.
    """

    @abc.abstractmethod
    async def take_token(self, provider: str, limit: RateLimit) -> Permit:
        """Take one token of ``provider``'s shared bucket, or say how long until one is due."""

    @abc.abstractmethod
    async def acquire_slot(self, provider: str, limit: int) -> Permit:
        """Take one of ``limit`` shared in-flight slots (a lease that expires), or say when to ask again.

        A granted permit's token must be handed to :meth:`release_slot`; a
        process that dies holding it loses it when its lease runs out.
        """

    @abc.abstractmethod
    async def release_slot(self, provider: str, token: str) -> None:
        """Give back the in-flight slot ``token``."""

    @abc.abstractmethod
    async def check_breaker(self, provider: str, policy: BreakerPolicy) -> Permit:
        """Whether ``provider`` may be called, as far as the shared breaker knows.

        Not granted while another process has it open (``wait``: seconds of
        cooldown left) or while the shared half-open probes are all taken.
        Once the cooldown is over, at most ``policy.half_open_probes`` calls
        are admitted across every process, each with a ``token`` that must be
        handed to :meth:`probe_done`, until one succeeds (closed everywhere)
        or fails (open everywhere again). May answer from a cache at most one
        second old.
        """

    @abc.abstractmethod
    async def open_provider(self, provider: str, cooldown: float) -> None:
        """Publish that this process's breaker of ``provider`` opened, for ``cooldown`` seconds."""

    @abc.abstractmethod
    async def probe_done(self, provider: str, token: str, outcome: ProbeOutcome, policy: BreakerPolicy) -> None:
        """Report how a half-open probe admitted by :meth:`check_breaker` ended."""

    async def aclose(self) -> None:
        """Release connections; the orchestrator's ``aclose`` calls it."""


class CoordinatorType(Struct, frozen=True, kw_only=True):
    """A coordinator a plugin offers, for ``[coordination] type = "<name>"`` in ``broadcastio.toml``.

    ``factory(**settings)`` builds it from the section's ``settings`` table.
    """

    name: str
    factory: Callable[..., Coordinator]
    description: str = ""
