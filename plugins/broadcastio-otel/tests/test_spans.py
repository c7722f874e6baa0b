"""Spans through a real Orchestrator with memory providers scripted to fail and fall back."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from broadcastio import (
    DeliveryError,
    MemoryProvider,
    Message,
    Metadata,
    Orchestrator,
    Recipient,
    RetryPolicy,
    redact_key,
)
from broadcastio.providers import DeliveredWithError
from broadcastio.testing import isolated_plugin_manager
from broadcastio_otel import OpenTelemetryHooks
from opentelemetry import trace
from opentelemetry.trace import SpanKind, StatusCode

NO_WAIT_RETRY = RetryPolicy(max_attempts=2, backoff="none")
PHONE = "+15550001234"
EMAIL = "ada@example.org"
TEXT = "your code is 424242"


def _ns(when: dt.datetime) -> int:
    return (when - dt.datetime(1970, 1, 1, tzinfo=dt.UTC)) // dt.timedelta(microseconds=1) * 1_000


class SlowMemoryProvider(MemoryProvider):
    """A memory provider whose sends take ``seconds`` on the fake clock."""

    def __init__(self, clock: Any, seconds: float, **options: Any) -> None:
        super().__init__(**options)
        self._fake_clock = clock
        self._seconds = seconds

    async def send(self, message: Message, address: str) -> Any:
        self._fake_clock.advance(self._seconds)
        return await super().send(message, address)


class TestIdempotencyKeys:
    async def test_keys_are_hashed_unless_revealed(self, telemetry: Any) -> None:
        """Spans carry a keyed hash of the key, the same for the same secret; reveal_keys shows it in clear."""
        key = f"campaign-42:{PHONE}"
        for reveal in (False, True):
            hooks = OpenTelemetryHooks(
                tracer_provider=telemetry.tracer_provider, reveal_keys=reveal, key_secret="shared-secret"
            )
            message = Message(recipient=PHONE, text=TEXT, metadata=Metadata(idempotency_key=key))
            providers = [MemoryProvider("only", "sms")]
            async with Orchestrator(providers, hooks=[hooks], plugin_manager=isolated_plugin_manager()) as orch:
                await orch.asend(message)
        hashed, clear = (span.attributes["broadcastio.idempotency_key"] for span in telemetry.spans("broadcastio.send"))
        assert clear == key
        assert hashed == redact_key(key, secret="shared-secret") != redact_key(key)
        assert PHONE not in str(hashed)


class TestSendSpan:
    async def test_one_send_span_per_message_with_the_result(self, telemetry: Any, orchestrator: Any) -> None:
        """A delivered message gives one broadcastio.send span naming the provider, channel and attempt count."""
        primary, backup = MemoryProvider("primary", "sms"), MemoryProvider("backup", "sms")
        primary.script(DeliveryError.transient("rate_limited", "slow down"), DeliveryError.transient("timeout", "t/o"))
        message = Message(recipient=PHONE, text=TEXT, metadata=Metadata(idempotency_key="key-1"))
        async with orchestrator([primary, backup], retry=NO_WAIT_RETRY) as orch:
            result = await orch.asend(message)
        assert result.provider == "backup"
        [send] = telemetry.spans("broadcastio.send")
        assert send.kind is SpanKind.INTERNAL
        assert send.status.status_code is StatusCode.UNSET
        assert send.attributes["broadcastio.result.status"] == "delivered"
        assert send.attributes["broadcastio.provider"] == "backup"
        assert send.attributes["broadcastio.channel"] == "sms"
        assert send.attributes["broadcastio.attempt.count"] == 3
        assert send.attributes["broadcastio.idempotency_key"] == redact_key("key-1")
        assert send.attributes["broadcastio.providers"] == ("primary", "backup")
        assert "broadcastio.error.code" not in send.attributes

    async def test_failed_send_has_error_status_code_and_class(self, telemetry: Any, orchestrator: Any) -> None:
        """When no provider delivers, the send span is ERROR with the last error's code and class."""
        only = MemoryProvider("only", "sms")
        only.script(DeliveryError.permanent("invalid_recipient", f"{PHONE} is not a number"))
        async with orchestrator([only]) as orch:
            result = await orch.asend(Message(recipient=PHONE, text=TEXT))
        assert not result.ok
        [send] = telemetry.spans("broadcastio.send")
        assert send.status.status_code is StatusCode.ERROR
        assert send.status.description == "invalid_recipient"
        assert send.attributes["broadcastio.result.status"] == "failed"
        assert send.attributes["broadcastio.error.code"] == "invalid_recipient"
        assert send.attributes["broadcastio.error.class"] == "permanent"
        assert send.attributes["error.type"] == "invalid_recipient"
        assert send.attributes["broadcastio.provider"] == "only"

    async def test_ambiguous_result_is_reported_as_unknown(self, telemetry: Any, orchestrator: Any) -> None:
        """A timeout after sending ends the send span as ERROR with status unknown and class ambiguous."""
        first, second = MemoryProvider("first", "sms"), MemoryProvider("second", "sms")
        first.script(DeliveredWithError(DeliveryError.ambiguous("timeout", "no answer after sending")))
        async with orchestrator([first, second]) as orch:
            result = await orch.asend(Message(recipient=PHONE, text=TEXT))
        assert result.status == "unknown"
        [send] = telemetry.spans("broadcastio.send")
        assert send.status.status_code is StatusCode.ERROR
        assert send.attributes["broadcastio.result.status"] == "unknown"
        assert send.attributes["broadcastio.error.class"] == "ambiguous"
        assert send.attributes["broadcastio.attempt.count"] == 1
        assert second.calls == 0

    async def test_send_span_times_come_from_the_events(self, telemetry: Any, orchestrator: Any, clock: Any) -> None:
        """The send span starts at the send's start and lasts the delivery's duration, on the orchestrator's clock."""
        provider = SlowMemoryProvider(clock, 0.25, name="slow", channel="sms")
        async with orchestrator([provider]) as orch:
            await orch.asend(Message(recipient=PHONE, text=TEXT))
        [send] = telemetry.spans("broadcastio.send")
        assert send.start_time == _ns(clock.now() - dt.timedelta(seconds=0.25))
        assert send.end_time - send.start_time == 250_000_000

    async def test_send_span_is_a_child_of_the_callers_span(self, telemetry: Any, orchestrator: Any) -> None:
        """With asend, the caller's current span becomes the send span's parent."""
        tracer = telemetry.tracer_provider.get_tracer("test")
        async with orchestrator([MemoryProvider("m", "sms")]) as orch:
            with tracer.start_as_current_span("request") as outer:
                await orch.asend(Message(recipient=PHONE, text=TEXT))
        [send] = telemetry.spans("broadcastio.send")
        assert send.parent is not None
        assert send.parent.span_id == outer.get_span_context().span_id

    def test_sync_facade_reports_the_same_spans(self, telemetry: Any, orchestrator: Any) -> None:
        """send() on the private loop thread reports a send span and its attempt."""
        with orchestrator([MemoryProvider("m", "sms")]) as orch:
            assert orch.send(Message(recipient=PHONE, text=TEXT)).ok
        assert len(telemetry.spans("broadcastio.send")) == 1
        assert len(telemetry.spans("broadcastio.attempt")) == 1


class TestAttemptSpans:
    async def test_one_child_span_per_attempt(self, telemetry: Any, orchestrator: Any) -> None:
        """Every attempt is a CLIENT child of the send span with provider, number, ok and error."""
        primary, backup = MemoryProvider("primary", "sms"), MemoryProvider("backup", "sms")
        primary.script(DeliveryError.transient("rate_limited", "slow down"), DeliveryError.transient("timeout", "t/o"))
        async with orchestrator([primary, backup], retry=NO_WAIT_RETRY) as orch:
            await orch.asend(Message(recipient=PHONE, text=TEXT))
        [send] = telemetry.spans("broadcastio.send")
        attempts = sorted(telemetry.spans("broadcastio.attempt"), key=lambda span: span.start_time)
        assert [
            (a.attributes["broadcastio.provider"], a.attributes["broadcastio.attempt.number"]) for a in attempts
        ] == [
            ("primary", 1),
            ("primary", 2),
            ("backup", 1),
        ]
        for span in attempts:
            assert span.kind is SpanKind.CLIENT
            assert span.parent is not None
            assert span.parent.span_id == send.context.span_id
            assert span.context.trace_id == send.context.trace_id
            assert span.attributes["broadcastio.channel"] == "sms"
        first, second, third = attempts
        assert first.attributes["broadcastio.attempt.ok"] is False
        assert first.attributes["broadcastio.error.code"] == "rate_limited"
        assert first.attributes["broadcastio.error.class"] == "transient"
        assert first.status.status_code is StatusCode.ERROR
        assert second.attributes["broadcastio.error.code"] == "timeout"
        assert third.attributes["broadcastio.attempt.ok"] is True
        assert "broadcastio.error.code" not in third.attributes
        assert third.status.status_code is StatusCode.UNSET

    async def test_attempt_span_has_the_attempts_own_start_and_duration(
        self, telemetry: Any, orchestrator: Any, clock: Any
    ) -> None:
        """An attempt span starts at attempt.started_at and ends start + duration_ms later."""
        provider = SlowMemoryProvider(clock, 0.125, name="slow", channel="sms")
        async with orchestrator([provider]) as orch:
            result = await orch.asend(Message(recipient=PHONE, text=TEXT), trace=True)
        assert result.trace is not None
        [attempt] = result.trace.attempts
        [span] = telemetry.spans("broadcastio.attempt")
        assert span.start_time == _ns(attempt.started_at)
        assert span.end_time == span.start_time + 125_000_000

    async def test_retry_delay_is_recorded_on_the_attempt(self, telemetry: Any, orchestrator: Any) -> None:
        """A retry after a backoff carries the wait before it."""
        provider = MemoryProvider("m", "sms")
        provider.script(DeliveryError.transient("server_error", "500"))
        policy = RetryPolicy(max_attempts=2, backoff="fixed", base_delay=0.5, jitter=False)
        async with orchestrator([provider], retry=policy) as orch:
            await orch.asend(Message(recipient=PHONE, text=TEXT))
        retry = next(
            s for s in telemetry.spans("broadcastio.attempt") if s.attributes["broadcastio.attempt.number"] == 2
        )
        assert retry.attributes["broadcastio.attempt.delay_before_ms"] == 500.0


class TestSpanEvents:
    async def test_fallback_is_a_span_event(self, telemetry: Any, orchestrator: Any) -> None:
        """Moving on to the next provider adds a broadcastio.fallback event with both names and the error."""
        primary, backup = MemoryProvider("primary", "sms"), MemoryProvider("backup", "sms")
        primary.script(DeliveryError.permanent("rejected", "no"))
        async with orchestrator([primary, backup]) as orch:
            await orch.asend(Message(recipient=PHONE, text=TEXT))
        [send] = telemetry.spans("broadcastio.send")
        [event] = [e for e in send.events if e.name == "broadcastio.fallback"]
        assert dict(event.attributes) == {
            "broadcastio.fallback.from_provider": "primary",
            "broadcastio.fallback.to_provider": "backup",
            "broadcastio.error.code": "rejected",
            "broadcastio.error.class": "permanent",
        }

    async def test_skipped_provider_is_a_span_event(self, telemetry: Any, orchestrator: Any) -> None:
        """A provider whose channel has no address is reported as a skip with its reason."""
        sms, email = MemoryProvider("sms", "sms"), MemoryProvider("mail", "email")
        async with orchestrator([sms, email]) as orch:
            result = await orch.asend(Message(recipient=Recipient(email=EMAIL), text=TEXT))
        assert result.provider == "mail"
        [send] = telemetry.spans("broadcastio.send")
        [event] = [e for e in send.events if e.name == "broadcastio.provider_skipped"]
        assert dict(event.attributes) == {"broadcastio.provider": "sms", "broadcastio.skip.reason": "no_address"}
        assert send.attributes["broadcastio.attempt.count"] == 1


class TestPrivacy:
    async def test_no_address_or_text_in_any_span(self, telemetry: Any, orchestrator: Any) -> None:
        """Phone numbers, email addresses, names and message text never reach attributes or events."""
        primary, backup, mail = (
            MemoryProvider("p", "sms"),
            MemoryProvider("b", "whatsapp"),
            MemoryProvider("e", "email"),
        )
        primary.script(DeliveryError.permanent("invalid_recipient", f"{PHONE} ({EMAIL}) refused: {TEXT}"))
        backup.script(DeliveryError.transient("timeout", f"{PHONE} timed out"))
        mail.script(DeliveryError.permanent("rejected", f"{EMAIL} refused"))
        recipient = Recipient(phone=PHONE, email=EMAIL, name="Ada Lovelace")
        async with orchestrator([primary, backup, mail]) as orch:
            await orch.asend(Message(recipient=recipient, text=TEXT, subject="Secret subject"))
        seen = []
        for span in telemetry.spans():
            seen.append(span.status.description or "")
            seen.extend(str(value) for value in (span.attributes or {}).values())
            for event in span.events:
                seen.extend(str(value) for value in (event.attributes or {}).values())
        blob = " ".join(seen)
        for private in (PHONE, "5550001234", EMAIL, "Ada", TEXT, "424242", "Secret subject"):
            assert private not in blob


class TestBoundedState:
    async def test_state_is_empty_after_each_result(self, hooks: OpenTelemetryHooks, orchestrator: Any) -> None:
        """Per-send state is dropped at the result event, delivered or not."""
        failing = MemoryProvider("f", "sms")
        failing.script(*[DeliveryError.permanent("rejected", "no")] * 50)
        async with orchestrator([failing]) as orch:
            messages = [Message(recipient=PHONE, text=TEXT) for _ in range(200)]
            results = [result async for result in orch.abroadcast(messages, concurrency=16)]
        assert len(results) == 200
        assert hooks.pending == 0

    async def test_aborted_send_ends_its_span_and_frees_its_state(
        self, telemetry: Any, hooks: OpenTelemetryHooks, orchestrator: Any
    ) -> None:
        """A delivery that raises ends its span with ERROR and the exception's type, and leaves no state."""
        from broadcastio import ConfigurationError

        broken = MemoryProvider("broken", "sms")
        broken.script(ConfigurationError("bad credentials"))
        async with orchestrator([broken]) as orch:
            with pytest.raises(ConfigurationError):
                await orch.asend(Message(recipient=PHONE, text=TEXT))
        (span,) = telemetry.spans("broadcastio.send")
        assert span.status.status_code is StatusCode.ERROR
        assert span.attributes["broadcastio.result.status"] == "aborted"
        assert span.attributes["error.type"] == "ConfigurationError"
        assert hooks.pending == 0
        assert "bad credentials" not in str(dict(span.attributes))

    async def test_unfinished_sends_are_capped(self, telemetry: Any, orchestrator: Any) -> None:
        """Beyond max_pending, the oldest send without a result is ended as unfinished."""
        hooks = OpenTelemetryHooks(telemetry.tracer_provider, telemetry.meter_provider, max_pending=2)
        from broadcastio.events import SendStartedEvent

        messages = [Message(recipient=PHONE, text=TEXT) for _ in range(3)]
        at = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
        for number, message in enumerate(messages, 1):
            hooks.broadcastio_send_started(
                SendStartedEvent(send_id=number, message=message, providers=("m",), started_at=at)
            )
        assert hooks.pending == 2
        [ended] = telemetry.spans("broadcastio.send")
        assert ended.attributes["broadcastio.unfinished"] is True
        assert ended.status.status_code is StatusCode.ERROR
        hooks.shutdown()
        assert hooks.pending == 0
        assert len(telemetry.spans("broadcastio.send")) == 3

    def test_max_pending_must_be_positive(self) -> None:
        """A cap below one is refused."""
        with pytest.raises(ValueError, match="max_pending"):
            OpenTelemetryHooks(max_pending=0)

    async def test_result_without_start_still_gives_a_span(self, telemetry: Any, orchestrator: Any) -> None:
        """A hook object that missed the start of a send still reports its result."""
        from broadcastio import DeliveryResult
        from broadcastio.events import ResultEvent

        hooks = OpenTelemetryHooks(telemetry.tracer_provider, telemetry.meter_provider)
        at = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
        result = DeliveryResult(status="delivered", provider="m", channel="sms")
        message = Message(recipient=PHONE, text=TEXT)
        hooks.broadcastio_result(ResultEvent(send_id=9, message=message, result=result, started_at=at, duration_ms=2.0))
        [send] = telemetry.spans("broadcastio.send")
        assert send.end_time - send.start_time == 2_000_000
        assert send.attributes["broadcastio.provider"] == "m"


def test_default_tracer_is_a_no_op_without_an_sdk() -> None:
    """Without providers configured, the hooks run against OpenTelemetry's no-op API."""
    hooks = OpenTelemetryHooks(tracer_provider=trace.NoOpTracerProvider())
    from broadcastio import Orchestrator
    from broadcastio.testing import isolated_plugin_manager

    with Orchestrator([MemoryProvider("m", "sms")], hooks=[hooks], plugin_manager=isolated_plugin_manager()) as orch:
        assert orch.send(Message(recipient=PHONE, text=TEXT)).ok
    assert hooks.pending == 0


class TestSharedInstance:
    async def test_two_orchestrators_with_the_same_send_ids_keep_their_spans_apart(
        self, telemetry: Any, hooks: OpenTelemetryHooks
    ) -> None:
        """One hooks object serving two orchestrators (as the default instance does) parents each attempt correctly."""
        import asyncio

        from broadcastio import Orchestrator
        from broadcastio.testing import isolated_plugin_manager

        class Slow(MemoryProvider):
            async def send(self, message: Message, address: str) -> Any:
                await asyncio.sleep(0.01)  # both sends are in flight at once, each with send_id 1
                return await super().send(message, address)

        first = Orchestrator([Slow("first", "sms")], hooks=[hooks], plugin_manager=isolated_plugin_manager())
        second = Orchestrator([Slow("second", "sms")], hooks=[hooks], plugin_manager=isolated_plugin_manager())
        async with first, second:
            await asyncio.gather(
                first.asend(Message(recipient=PHONE, text=TEXT)), second.asend(Message(recipient=PHONE, text=TEXT))
            )
        sends = {span.attributes["broadcastio.provider"]: span for span in telemetry.spans("broadcastio.send")}
        assert set(sends) == {"first", "second"}
        for attempt in telemetry.spans("broadcastio.attempt"):
            parent = sends[attempt.attributes["broadcastio.provider"]]
            assert attempt.parent is not None
            assert attempt.parent.span_id == parent.context.span_id
        assert hooks.pending == 0
