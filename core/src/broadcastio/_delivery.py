"""Delivering one message: routing, retries, fallback, trace and events.

All control flow of broadcastio lives here. Providers make one attempt each
time they are called; this module decides whether to call one at all,
whether to call it again, and whether to move on to the next.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import itertools
import random
from collections.abc import Sequence

import msgspec

from broadcastio._breaker import BreakerState
from broadcastio._classify import error_from_exception
from broadcastio._clock import Clock
from broadcastio._coordination import Coordinator
from broadcastio._dispatch import HookDispatcher
from broadcastio._errors import BroadcastioError, ErrorClass, ErrorCode, InvalidMessageError, NoHealthyProviderError
from broadcastio._health import HealthPolicy
from broadcastio._models import (
    DeliveryAttempt,
    DeliveryError,
    DeliveryResult,
    DeliveryTrace,
    Message,
    ProviderHealth,
    SkippedProvider,
    SkipReason,
)
from broadcastio._ratelimit import TokenBucket
from broadcastio._routing import ProviderSlot
from broadcastio._scrub import mask_address, provider_secrets, scrub_error
from broadcastio._shared import Deferred, SharedLimits
from broadcastio._throttle import is_throttling, pause_for
from broadcastio.events import (
    AttemptEvent,
    BreakerChangeEvent,
    FallbackEvent,
    HealthChangeEvent,
    ResultEvent,
    SendAbortedEvent,
    SendStartedEvent,
    SkipEvent,
)

__all__ = ["Deliverer"]

_send_ids = itertools.count(1)
"""Process-wide, so hook plugins shared by several orchestrators can key by send_id."""

_PASSING_SKIPS: frozenset[str] = frozenset({"unhealthy", "circuit_open", "throttled"})
"""Skip reasons that pass with time: a message skipped only for these may be tried again later."""


class _Run:
    """Mutable bookkeeping of one message's delivery (never escapes this module)."""

    __slots__ = (
        "attempts",
        "last_error",
        "last_failed",
        "possibly_delivered",
        "send_id",
        "skip_notes",
        "skipped",
    )

    def __init__(self, send_id: int, trace: bool) -> None:
        self.send_id = send_id
        self.attempts: list[DeliveryAttempt] | None = [] if trace else None
        self.skipped: list[SkippedProvider] | None = [] if trace else None
        self.last_error: DeliveryError | None = None
        self.last_failed: str | None = None
        self.possibly_delivered = False
        self.skip_notes: list[tuple[str, str, str, float | None]] | None = None


class Deliverer:
    """Delivers one message at a time through an ordered list of providers."""

    def __init__(
        self,
        *,
        health: HealthPolicy,
        fallback_on_ambiguous: bool,
        dispatcher: HookDispatcher,
        clock: Clock,
        rng: random.Random,
        coordinator: Coordinator | None = None,
    ) -> None:
        self._health = health
        self._fallback_on_ambiguous = fallback_on_ambiguous
        self._hooks = dispatcher
        self._clock = clock
        self._rng = rng
        self._shared = SharedLimits(coordinator, clock) if coordinator is not None else None

    async def deliver(
        self,
        message: Message,
        slots: Sequence[ProviderSlot],
        *,
        trace: bool = False,
        buckets: dict[str, TokenBucket] | None = None,
    ) -> DeliveryResult:
        """Try ``slots`` in order until one delivers; return the final result."""
        clock, hooks = self._clock, self._hooks
        run = _Run(next(_send_ids), trace)
        observe_result = hooks.wants("broadcastio_result")
        started_mono = clock.monotonic()
        observe_end = observe_result or hooks.wants("broadcastio_send_aborted")
        started_at = clock.now() if (trace or observe_end) else None
        if hooks.wants("broadcastio_send_started"):
            started_at = started_at or clock.now()
            hooks.fire(
                "broadcastio_send_started",
                SendStartedEvent(
                    send_id=run.send_id,
                    message=message,
                    providers=tuple(slot.name for slot in slots),
                    started_at=started_at,
                ),
            )

        try:
            result, delivered_by = await self._route(run, message, slots, buckets)
        except BaseException as exc:
            if started_at is not None and hooks.wants("broadcastio_send_aborted"):
                hooks.fire(
                    "broadcastio_send_aborted",
                    SendAbortedEvent(
                        send_id=run.send_id,
                        message=message,
                        error_type=type(exc).__name__,
                        error=str(exc),
                        started_at=started_at,
                        duration_ms=(clock.monotonic() - started_mono) * 1000.0,
                    ),
                )
            raise
        final = self._finish(run, message, result, delivered_by, started_at)
        if observe_result:
            assert started_at is not None
            hooks.fire(
                "broadcastio_result",
                ResultEvent(
                    send_id=run.send_id,
                    message=message,
                    result=final,
                    started_at=started_at,
                    duration_ms=(clock.monotonic() - started_mono) * 1000.0,
                ),
            )
        return final

    async def _route(
        self,
        run: _Run,
        message: Message,
        slots: Sequence[ProviderSlot],
        buckets: dict[str, TokenBucket] | None,
    ) -> tuple[DeliveryResult | None, ProviderSlot | None]:
        """Walk the providers in order; the success and who delivered it, or (None, None)."""
        result: DeliveryResult | None = None
        delivered_by: ProviderSlot | None = None
        saw_healthy = not self._health.enabled
        saw_unhealthy = False
        for slot in slots:
            if run.possibly_delivered and not self._fallback_on_ambiguous:
                break  # falling back could deliver the message twice
            address = message.address_for(slot.channel)
            if address is None:
                self._skip(run, message, slot, "no_address", f"recipient has no {slot.channel} address")
                continue
            if self._health.enabled:
                health = slot.health.fresh()
                if health is None:
                    health = await self._check_health(slot)
                if not health.healthy:
                    saw_unhealthy = True
                    self._skip(run, message, slot, "unhealthy", health.detail, slot.health.expires_in())
                    continue
                saw_healthy = True
            try:
                result = await self._try_provider(run, message, slot, address, buckets)
            except Deferred as deferred:  # shared limits unknown: no attempt here, and no fallback
                run.last_error = deferred.error
                break
            if result is not None:
                delivered_by = slot
                break

        if result is None and saw_unhealthy and not saw_healthy and self._health.strict:
            raise NoHealthyProviderError(
                f"no healthy provider for message {message.metadata.idempotency_key}: "
                + "; ".join(f"{s.name}: {s.health.last.detail if s.health.last else 'unknown'}" for s in slots)
            )
        return result, delivered_by

    async def _try_provider(
        self,
        run: _Run,
        message: Message,
        slot: ProviderSlot,
        address: str,
        buckets: dict[str, TokenBucket] | None,
    ) -> DeliveryResult | None:
        """Attempt ``slot`` until success, a non-retryable error, or the budget
        is spent. Returns the success, or None after recording the failure."""
        clock, hooks, shared = self._clock, self._hooks, self._shared
        policy = slot.retry_policy
        observe_attempts = run.attempts is not None or hooks.wants("broadcastio_attempt")
        number = 0
        delay_before = 0.0
        while True:
            allowed, change = slot.breaker.acquire(clock.monotonic())
            if change is not None:
                self._breaker_changed(slot, change, "open")
            if not allowed:
                if number == 0:
                    retry_in = slot.breaker.retry_in(clock.monotonic())
                    self._skip(run, message, slot, "circuit_open", "circuit breaker is open", retry_in)
                return None
            probe = ""
            if shared is not None and slot.breaker_policy.enabled:
                try:
                    verdict = await shared.check_breaker(slot)
                except BaseException:
                    slot.breaker.release()
                    raise
                if not verdict.granted:
                    slot.breaker.release()
                    if number == 0:
                        detail = "circuit breaker is open (shared)"
                        self._skip(run, message, slot, "circuit_open", detail, verdict.wait)
                    return None
                probe = verdict.token
            paused = slot.throttled_until - clock.monotonic()
            if paused > 0:
                if paused > policy.max_delay:  # too long to hold the message here: it is deferred
                    slot.breaker.release()
                    if shared is not None:
                        await shared.end_probe(slot, probe, "none")
                    if number == 0:
                        self._skip(
                            run, message, slot, "throttled", f"provider asked to slow down for {paused:.1f}s", paused
                        )
                    return None
                await clock.sleep(paused)
            number += 1
            if number == 1 and run.last_failed is not None and hooks.wants("broadcastio_fallback"):
                assert run.last_error is not None
                hooks.fire(
                    "broadcastio_fallback",
                    FallbackEvent(
                        send_id=run.send_id,
                        message=message,
                        from_provider=run.last_failed,
                        to_provider=slot.name,
                        error=run.last_error,
                    ),
                )
            gate = slot.in_flight
            lease = ""
            if shared is None:
                bucket = slot.bucket
                if bucket is not None:
                    await bucket.acquire()
                if buckets is not None and slot.name in buckets:
                    await buckets[slot.name].acquire()
                if gate is not None:
                    try:
                        await gate.acquire()
                    except asyncio.CancelledError:
                        slot.breaker.release()
                        raise
            else:
                try:
                    lease = await shared.enter(slot, buckets)
                except BaseException:
                    slot.breaker.release()
                    await shared.end_probe(slot, probe, "none")
                    raise
            started_at = clock.now() if observe_attempts else None
            started = clock.monotonic()
            try:
                outcome = await slot.send(message, address)
            except InvalidMessageError as exc:  # this provider cannot take this message: it fails alone
                reason = str(exc).replace(address, mask_address(address)) if address else str(exc)
                outcome = DeliveryResult.failure(DeliveryError.permanent(ErrorCode.INVALID_RECIPIENT, reason))
            except BroadcastioError:
                slot.breaker.release()
                if shared is not None:
                    await shared.end_probe(slot, probe, "none")
                raise
            except asyncio.CancelledError:
                slot.breaker.release()
                if shared is not None:
                    await shared.end_probe(slot, probe, "none")
                raise
            except Exception as exc:  # a misbehaving provider must not kill a broadcast
                outcome = DeliveryResult.failure(error_from_exception(exc))
            finally:
                if gate is not None:
                    gate.release()
                if lease and shared is not None:
                    await shared.release(slot, lease)
            duration_ms = (clock.monotonic() - started) * 1000.0

            error = self._error_of(outcome, slot)
            throttled = error is not None and is_throttling(error, slot.throttling_codes)
            previous_state = slot.breaker.state
            change = slot.breaker.record(error, clock.monotonic(), throttled=throttled)
            if change is not None:
                self._breaker_changed(slot, change, previous_state)
            if shared is not None:
                await shared.record(slot, probe, error, throttled, change)
            if observe_attempts:
                assert started_at is not None
                attempt = DeliveryAttempt(
                    provider=slot.name,
                    channel=slot.channel,
                    number=number,
                    started_at=started_at,
                    duration_ms=duration_ms,
                    ok=error is None,
                    error=error,
                    provider_message_id=outcome.provider_message_id if error is None else None,
                    delay_before_ms=delay_before * 1000.0,
                )
                if run.attempts is not None:
                    run.attempts.append(attempt)
                if hooks.wants("broadcastio_attempt"):
                    hooks.fire(
                        "broadcastio_attempt", AttemptEvent(send_id=run.send_id, message=message, attempt=attempt)
                    )
            if error is None:
                return outcome

            run.last_error, run.last_failed = error, slot.name
            if throttled:
                slot.throttled_until = max(slot.throttled_until, clock.monotonic() + pause_for(error))
            if error.error_class is ErrorClass.AMBIGUOUS:
                run.possibly_delivered = True
            if number >= policy.max_attempts or not policy.allows(error, idempotent=slot.idempotent):
                return None
            delay = policy.delay_before_retry(number, error, self._rng)
            if delay is None:  # the provider asks for a longer wait than the policy allows
                return None
            delay_before = delay
            await clock.sleep(delay)

    @staticmethod
    def _error_of(outcome: object, slot: ProviderSlot) -> DeliveryError | None:
        """The attempt's error with the provider named, or None on success."""
        if not isinstance(outcome, DeliveryResult):
            return DeliveryError(
                code=ErrorCode.PROVIDER_EXCEPTION,
                message=f"send() returned {type(outcome).__name__}, not a DeliveryResult",
                error_class=ErrorClass.PERMANENT,
                provider=slot.name,
            )
        if outcome.status == "delivered":
            return None
        error = outcome.error
        if error is None:
            return DeliveryError(
                code=ErrorCode.PROVIDER_EXCEPTION,
                message=f"send() returned status {outcome.status!r} without an error",
                error_class=ErrorClass.AMBIGUOUS if outcome.status == "unknown" else ErrorClass.PERMANENT,
                provider=slot.name,
            )
        if error.provider is None:
            error = msgspec.structs.replace(error, provider=slot.name)
        # Once, here, for every plugin: provider text must not carry secrets or addresses onwards.
        return scrub_error(error, provider_secrets(slot.provider))

    async def _check_health(self, slot: ProviderSlot) -> ProviderHealth:
        health, previous, ran_check = await slot.health.get()
        changed = previous is None or previous.healthy != health.healthy
        if ran_check and changed and self._hooks.wants("broadcastio_health_changed"):
            self._hooks.fire(
                "broadcastio_health_changed",
                HealthChangeEvent(
                    provider=slot.name,
                    health=health,
                    previously_healthy=None if previous is None else previous.healthy,
                ),
            )
        return health

    def _skip(
        self,
        run: _Run,
        message: Message,
        slot: ProviderSlot,
        reason: SkipReason,
        detail: str,
        retry_in: float | None = None,
    ) -> None:
        """Record that ``slot`` was not called; ``retry_in`` is when it may be, for reasons that pass."""
        if run.skip_notes is None:
            run.skip_notes = []
        run.skip_notes.append((slot.name, reason, detail, retry_in))  # formatted only if nothing was tried
        if run.skipped is not None:
            run.skipped.append(SkippedProvider(provider=slot.name, reason=reason, detail=detail))
        if self._hooks.wants("broadcastio_provider_skipped"):
            self._hooks.fire(
                "broadcastio_provider_skipped",
                SkipEvent(send_id=run.send_id, message=message, provider=slot.name, reason=reason, detail=detail),
            )

    def _breaker_changed(self, slot: ProviderSlot, state: BreakerState, previous: BreakerState) -> None:
        if self._hooks.wants("broadcastio_breaker_changed"):
            self._hooks.fire(
                "broadcastio_breaker_changed",
                BreakerChangeEvent(provider=slot.name, state=state, previous=previous, at=self._clock.now()),
            )

    def _finish(
        self,
        run: _Run,
        message: Message,
        success: DeliveryResult | None,
        delivered_by: ProviderSlot | None,
        started_at: dt.datetime | None,
    ) -> DeliveryResult:
        trace = None
        if run.attempts is not None and run.skipped is not None:
            assert started_at is not None
            trace = DeliveryTrace(
                idempotency_key=message.metadata.idempotency_key,
                started_at=started_at,
                finished_at=self._clock.now(),
                attempts=tuple(run.attempts),
                skipped=tuple(run.skipped),
                possibly_delivered=run.possibly_delivered,
            )
        metadata = message.metadata
        if success is not None and delivered_by is not None:
            return DeliveryResult(
                status="delivered",
                provider=delivered_by.name,
                channel=delivered_by.channel,
                provider_message_id=success.provider_message_id,
                idempotency_key=metadata.idempotency_key,
                reference_id=metadata.reference_id,
                trace=trace,
            )
        error = run.last_error or _nothing_tried(run.skip_notes or ())
        return DeliveryResult(
            status="unknown" if run.possibly_delivered else "failed",
            provider=error.provider,
            error=error,
            idempotency_key=metadata.idempotency_key,
            reference_id=metadata.reference_id,
            trace=trace,
        )


def _nothing_tried(notes: Sequence[tuple[str, str, str, float | None]]) -> DeliveryError:
    """The error of a message no provider was called for.

    Transient, with ``retry_after`` set to when the first skipped provider may
    be tried again, when any skip passes with time (an open breaker, a failed
    health check, a throttled provider): a one-second outage must not turn a
    campaign's untried messages into final failures. Permanent only when no
    provider could ever take it (no address for any channel).
    """
    text = "no provider could be tried: " + "; ".join(
        f"{name} skipped ({reason}: {detail})" for name, reason, detail, _ in notes
    )
    waits = [retry_in or 0.0 for _, reason, _, retry_in in notes if reason in _PASSING_SKIPS]
    if waits:
        return DeliveryError.transient(ErrorCode.NO_PROVIDER_AVAILABLE, text, retry_after=min(waits))
    return DeliveryError.permanent(ErrorCode.NO_PROVIDER_AVAILABLE, text)
