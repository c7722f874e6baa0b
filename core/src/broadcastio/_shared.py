"""The orchestrator's side of a Coordinator: asking, waiting, handing back.

``_delivery.py`` calls these around each attempt when the orchestrator has a
coordinator. Waiting happens here, on the orchestrator's clock, between
questions that the coordinator answers at once; one coroutine per provider
and kind (rate, slot) asks at a time and the others queue behind it in order,
so a process never floods the store with pollers.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import msgspec

from broadcastio._breaker import BreakerState
from broadcastio._clock import Clock
from broadcastio._coordination import CoordinationError, Coordinator, Permit, ProbeOutcome
from broadcastio._errors import ErrorClass, ErrorCode
from broadcastio._log import get_logger
from broadcastio._models import DeliveryError
from broadcastio._ratelimit import TokenBucket
from broadcastio._routing import ProviderSlot
from broadcastio._scrub import scrub

__all__ = ["Deferred", "SharedLimits"]

MIN_WAIT = 0.001
"""Shortest sleep between two questions to a coordinator: waiting never spins."""

_log = get_logger("broadcastio.coordination")


class Deferred(Exception):
    """The coordinator could not be asked: no attempt is made and the message is deferred."""

    def __init__(self, error: DeliveryError) -> None:
        super().__init__(error.message)
        self.error = error


class SharedLimits:
    """A coordinator as the deliverer uses it. Lives on one event loop."""

    __slots__ = ("_clock", "_coordinator", "_waits")

    def __init__(self, coordinator: Coordinator, clock: Clock) -> None:
        self._coordinator = coordinator
        self._clock = clock
        self._waits: dict[tuple[str, str], asyncio.Lock] = {}

    async def _ask(self, slot: ProviderSlot, question: Awaitable[Permit]) -> Permit:
        """The coordinator's answer, or :class:`Deferred` when its store cannot be reached."""
        try:
            return await question
        except CoordinationError as exc:
            text = scrub(f"shared limits of provider {slot.name!r} could not be checked: {exc}")
            error = DeliveryError.transient(ErrorCode.COORDINATION_UNAVAILABLE, text, retry_after=exc.retry_after)
            raise Deferred(msgspec.structs.replace(error, provider=slot.name)) from None

    async def _wait(self, slot: ProviderSlot, kind: str, ask: Callable[[], Awaitable[Permit]]) -> Permit:
        """Ask until granted, sleeping on the orchestrator's clock between questions."""
        lock = self._waits.get((slot.name, kind))
        if lock is None:
            lock = self._waits[(slot.name, kind)] = asyncio.Lock()
        if not lock.locked():  # nobody queued: ask at once (questions run in parallel while they are granted)
            permit = await self._ask(slot, ask())
            if permit.granted:
                return permit
        async with lock:
            while True:
                permit = await self._ask(slot, ask())
                if permit.granted:
                    return permit
                await self._clock.sleep(max(permit.wait, MIN_WAIT))

    async def check_breaker(self, slot: ProviderSlot) -> Permit:
        """The shared breaker's verdict on calling ``slot`` now (a token when it is a half-open probe)."""
        return await self._ask(slot, self._coordinator.check_breaker(slot.name, slot.breaker_policy))

    async def enter(self, slot: ProviderSlot, buckets: dict[str, TokenBucket] | None) -> str:
        """Wait for the shared rate limit, the broadcast's own, then a local and a shared in-flight slot.

        Returns the shared slot's lease token ("" without a cap); the local
        gate (``slot.in_flight``) is held on return and released by the caller.
        """
        coordinator = self._coordinator
        bucket = slot.bucket
        if bucket is not None:
            limit = bucket.limit
            await self._wait(slot, "rate", lambda: coordinator.take_token(slot.name, limit))
        if buckets is not None and slot.name in buckets:
            await buckets[slot.name].acquire()
        gate, cap = slot.in_flight, slot.max_in_flight
        if gate is None or cap is None:
            return ""
        await gate.acquire()
        try:
            permit = await self._wait(slot, "slot", lambda: coordinator.acquire_slot(slot.name, cap))
        except BaseException:
            gate.release()
            raise
        return permit.token

    async def release(self, slot: ProviderSlot, lease: str) -> None:
        """Give a shared slot back; if the store is gone, its lease runs out instead."""
        try:
            await self._coordinator.release_slot(slot.name, lease)
        except CoordinationError as exc:
            _log.warning("broadcastio.coordination_failed", provider=slot.name, step="release_slot", error=str(exc))

    async def end_probe(self, slot: ProviderSlot, probe: str, outcome: ProbeOutcome) -> None:
        """Report a half-open probe's end ("" = this attempt was no probe); if the store is gone, its lease runs out."""
        if not probe:
            return
        try:
            await self._coordinator.probe_done(slot.name, probe, outcome, slot.breaker_policy)
        except CoordinationError as exc:
            _log.warning("broadcastio.coordination_failed", provider=slot.name, step="probe_done", error=str(exc))

    async def record(
        self,
        slot: ProviderSlot,
        probe: str,
        error: DeliveryError | None,
        throttled: bool,
        change: BreakerState | None,
    ) -> None:
        """Share what an attempt says about its provider: a probe's verdict, this process's breaker opening."""
        if probe:
            verdict: ProbeOutcome = "ok"
            if error is not None:
                verdict = "none" if throttled or error.error_class is ErrorClass.PERMANENT else "failed"
            await self.end_probe(slot, probe, verdict)
        if change == "open" and slot.breaker_policy.enabled:
            try:
                await self._coordinator.open_provider(slot.name, slot.breaker_policy.cooldown)
            except CoordinationError as exc:  # this process's breaker is open all the same
                _log.warning("broadcastio.coordination_failed", provider=slot.name, step="open", error=str(exc))
