"""OpenTelemetry spans and metrics from broadcastio's delivery hooks.

One ``broadcastio.send`` span per message, opened at ``broadcastio_send_started``
and closed at ``broadcastio_result``; one ``broadcastio.attempt`` child span
per provider attempt, with the attempt's own start time and duration; span
events for fallback and skipped providers; counters and a duration histogram;
counters of circuit breaker transitions, health changes and delivery receipts.

Hooks run on the event loop, so each one does a few dictionary operations and
OpenTelemetry API calls, nothing more. The per-send state lives in a dict
that the result event always empties, and is capped so a send that never
reports a result (an exception in the caller's code path) cannot grow it.
"""

from __future__ import annotations

import datetime as dt
import threading
from typing import Any

from broadcastio import DeliveryError, hookimpl
from broadcastio.events import (
    AttemptEvent,
    BreakerChangeEvent,
    FallbackEvent,
    HealthChangeEvent,
    ReceiptEvent,
    ResultEvent,
    SendAbortedEvent,
    SendStartedEvent,
    SkipEvent,
)
from broadcastio.logs import redact_key
from opentelemetry import metrics, trace
from opentelemetry.context import Context

from broadcastio_otel import _names as n

__all__ = ["DEFAULT_MAX_PENDING", "INSTRUMENTATION_NAME", "OpenTelemetryHooks"]

INSTRUMENTATION_NAME = "broadcastio_otel"
DEFAULT_MAX_PENDING = 10_000

_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
_SendKey = tuple[int, int]


def _ns(when: dt.datetime) -> int:
    """Nanoseconds since the epoch, in integers (a float loses sub-microsecond precision)."""
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    delta = when - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000_000 + delta.microseconds * 1_000


def _key(send_id: int, message: object) -> _SendKey:
    # send_id is unique per orchestrator only; the default instance serves
    # every orchestrator of the process, so the message object disambiguates.
    return (send_id, id(message))


def _error_attributes(error: DeliveryError | None) -> dict[str, Any]:
    if error is None:
        return {}
    return {n.ERROR_CODE: error.code, n.ERROR_CLASS: error.error_class.value}


class _Send:
    """What one in-flight send needs between its events."""

    __slots__ = ("attempts", "context", "span")

    def __init__(self, span: trace.Span) -> None:
        self.span = span
        self.context: Context = trace.set_span_in_context(span)
        self.attempts = 0


class OpenTelemetryHooks:
    """A broadcastio hook plugin that emits OpenTelemetry spans and metrics.

    Register one with ``Orchestrator(hooks=[OpenTelemetryHooks(...)])``; the
    package also registers a default instance on the global providers through
    its entry point, so installing it is enough.

    :param tracer_provider: where spans go (default: the global tracer provider).
    :param meter_provider: where metrics go (default: the global meter provider).
    :param max_pending: sends tracked at once; beyond it the oldest unfinished
        send's span is ended as unfinished, so memory stays bounded.
    :param reveal_keys: put idempotency keys on spans in clear; by default a
        keyed hash (:func:`broadcastio.logs.redact_key`), as keys may carry personal data.
    :param key_secret: the HMAC key of that hash (default: random per process);
        give ``LoggingHooks`` the same one to match spans to log lines.
    """

    def __init__(
        self,
        tracer_provider: trace.TracerProvider | None = None,
        meter_provider: metrics.MeterProvider | None = None,
        *,
        max_pending: int = DEFAULT_MAX_PENDING,
        reveal_keys: bool = False,
        key_secret: bytes | str | None = None,
    ) -> None:
        from broadcastio_otel import __version__

        self._reveal_keys = reveal_keys
        self._key_secret = key_secret

        if max_pending < 1:
            raise ValueError(f"max_pending must be >= 1, got {max_pending}")
        self._tracer = trace.get_tracer(INSTRUMENTATION_NAME, __version__, tracer_provider=tracer_provider)
        meter = metrics.get_meter(INSTRUMENTATION_NAME, __version__, meter_provider=meter_provider)
        self._attempts = meter.create_counter(n.ATTEMPTS, unit="{attempt}", description="Provider attempts made")
        self._deliveries = meter.create_counter(n.DELIVERIES, unit="{message}", description="Messages delivered")
        self._failures = meter.create_counter(n.FAILURES, unit="{message}", description="Messages not delivered")
        self._duration = meter.create_histogram(
            n.ATTEMPT_DURATION, unit="ms", description="Duration of one provider attempt"
        )
        self._breaker_transitions = meter.create_counter(
            n.BREAKER_TRANSITIONS, unit="{transition}", description="Circuit breaker state changes"
        )
        self._health_changes = meter.create_counter(
            n.HEALTH_CHANGES, unit="{change}", description="Health check answers that changed"
        )
        self._receipts = meter.create_counter(
            n.RECEIPTS, unit="{receipt}", description="Delivery receipts received, by provider type, level and outcome"
        )
        self._max_pending = max_pending
        self._sends: dict[_SendKey, _Send] = {}
        self._lock = threading.Lock()  # orchestrators on other threads share the default instance

    def _key_attribute(self, key: str) -> str:
        return key if self._reveal_keys else redact_key(key, secret=self._key_secret)

    @property
    def pending(self) -> int:
        """Sends started and not yet finished (for tests and health checks)."""
        return len(self._sends)

    # --- hooks -----------------------------------------------------------------

    @hookimpl
    def broadcastio_send_started(self, event: SendStartedEvent) -> None:
        metadata = event.message.metadata
        span = self._tracer.start_span(
            n.SPAN_SEND,
            kind=trace.SpanKind.INTERNAL,
            start_time=_ns(event.started_at),
            attributes={
                n.IDEMPOTENCY_KEY: self._key_attribute(metadata.idempotency_key),
                n.PRIORITY: metadata.priority,
                n.PROVIDERS: list(event.providers),
            },
        )
        evicted: list[_Send] = []
        with self._lock:
            stale = self._sends.pop(_key(event.send_id, event.message), None)
            if stale is not None:
                evicted.append(stale)
            while len(self._sends) >= self._max_pending:
                evicted.append(self._sends.pop(next(iter(self._sends))))
            self._sends[_key(event.send_id, event.message)] = _Send(span)
        for send in evicted:
            self._end_unfinished(send)

    @hookimpl
    def broadcastio_attempt(self, event: AttemptEvent) -> None:
        attempt = event.attempt
        with self._lock:
            send = self._sends.get(_key(event.send_id, event.message))
            if send is not None:
                send.attempts += 1
        error_attributes = _error_attributes(attempt.error)
        attributes: dict[str, Any] = {
            n.PROVIDER: attempt.provider,
            n.CHANNEL: attempt.channel,
            n.ATTEMPT_NUMBER: attempt.number,
            n.ATTEMPT_OK: attempt.ok,
            **error_attributes,
        }
        if attempt.delay_before_ms:
            attributes[n.ATTEMPT_DELAY_BEFORE_MS] = attempt.delay_before_ms
        start = _ns(attempt.started_at)
        span = self._tracer.start_span(
            n.SPAN_ATTEMPT,
            context=send.context if send is not None else None,
            kind=trace.SpanKind.CLIENT,
            start_time=start,
            attributes=attributes,
        )
        if attempt.error is not None:
            span.set_attribute(n.ERROR_TYPE, attempt.error.code)
            span.set_status(trace.Status(trace.StatusCode.ERROR, attempt.error.code))
        span.end(end_time=start + int(attempt.duration_ms * 1_000_000))

        self._attempts.add(
            1, {n.PROVIDER: attempt.provider, n.CHANNEL: attempt.channel, n.ATTEMPT_OK: attempt.ok, **error_attributes}
        )
        self._duration.record(attempt.duration_ms, {n.PROVIDER: attempt.provider, n.ATTEMPT_OK: attempt.ok})

    @hookimpl
    def broadcastio_fallback(self, event: FallbackEvent) -> None:
        send = self._sends.get(_key(event.send_id, event.message))
        if send is not None:
            send.span.add_event(
                n.FALLBACK_EVENT,
                {
                    n.FROM_PROVIDER: event.from_provider,
                    n.TO_PROVIDER: event.to_provider,
                    **_error_attributes(event.error),
                },
            )

    @hookimpl
    def broadcastio_provider_skipped(self, event: SkipEvent) -> None:
        # The skip detail is left out: a health check's detail may quote a URL with a token in it.
        send = self._sends.get(_key(event.send_id, event.message))
        if send is not None:
            send.span.add_event(n.SKIP_EVENT, {n.PROVIDER: event.provider, n.SKIP_REASON: event.reason})

    @hookimpl
    def broadcastio_result(self, event: ResultEvent) -> None:
        with self._lock:
            send = self._sends.pop(_key(event.send_id, event.message), None)
        result = event.result
        if send is None:  # registered mid-send: still report the send, without its attempts
            span = self._tracer.start_span(n.SPAN_SEND, start_time=_ns(event.started_at))
            attempts = len(result.trace.attempts) if result.trace is not None else 0
        else:
            span, attempts = send.span, send.attempts
        attributes: dict[str, Any] = {
            n.RESULT_STATUS: result.status,
            n.ATTEMPT_COUNT: attempts,
            n.IDEMPOTENCY_KEY: self._key_attribute(event.message.metadata.idempotency_key),
            **_error_attributes(result.error),
        }
        if result.provider is not None:
            attributes[n.PROVIDER] = result.provider
        if result.channel is not None:
            attributes[n.CHANNEL] = result.channel
        span.set_attributes(attributes)
        if result.ok:  # status stays unset on success, as OpenTelemetry asks of instrumentations
            self._deliveries.add(1, {n.PROVIDER: result.provider or "", n.CHANNEL: result.channel or ""})
        else:
            code = result.error.code if result.error is not None else result.status
            span.set_attribute(n.ERROR_TYPE, code)
            span.set_status(trace.Status(trace.StatusCode.ERROR, code))
            self._failures.add(
                1,
                {n.PROVIDER: result.provider or "", n.RESULT_STATUS: result.status, **_error_attributes(result.error)},
            )
        span.end(end_time=_ns(event.started_at) + int(event.duration_ms * 1_000_000))

    @hookimpl
    def broadcastio_send_aborted(self, event: SendAbortedEvent) -> None:
        with self._lock:
            send = self._sends.pop(_key(event.send_id, event.message), None)
        if send is None:
            return
        send.span.set_attributes(
            {n.RESULT_STATUS: "aborted", n.ATTEMPT_COUNT: send.attempts, n.ERROR_TYPE: event.error_type}
        )
        send.span.set_status(trace.Status(trace.StatusCode.ERROR, event.error_type))
        self._failures.add(1, {n.RESULT_STATUS: "aborted", n.ERROR_TYPE: event.error_type})
        send.span.end(end_time=_ns(event.started_at) + int(event.duration_ms * 1_000_000))

    @hookimpl
    def broadcastio_breaker_changed(self, event: BreakerChangeEvent) -> None:
        self._breaker_transitions.add(1, {n.PROVIDER: event.provider, n.BREAKER_STATE: event.state})

    @hookimpl
    def broadcastio_health_changed(self, event: HealthChangeEvent) -> None:
        self._health_changes.add(1, {n.PROVIDER: event.provider, n.HEALTHY: event.health.healthy})

    @hookimpl
    def broadcastio_receipt(self, event: ReceiptEvent) -> None:
        receipt = event.receipt
        attributes = {
            n.PROVIDER_TYPE: receipt.provider_type,
            n.RECEIPT_LEVEL: receipt.level.name.lower(),
            n.RECEIPT_OUTCOME: event.outcome,
        }
        self._receipts.add(1, attributes)

    # --- helpers -----------------------------------------------------------------

    def _end_unfinished(self, send: _Send) -> None:
        """End the span of a send whose result never came, marked as such."""
        send.span.set_attribute(n.UNFINISHED, True)
        send.span.set_attribute(n.ATTEMPT_COUNT, send.attempts)
        send.span.set_status(trace.Status(trace.StatusCode.ERROR, "no result reported"))
        send.span.end()

    def shutdown(self) -> None:
        """End the spans of sends still open (call before exiting if sends may be cut short)."""
        with self._lock:
            pending, self._sends = list(self._sends.values()), {}
        for send in pending:
            self._end_unfinished(send)
