"""End to end: the orchestrator drives the SMS provider against the local Twilio."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from broadcastio import (
    ConfigurationError,
    ErrorClass,
    ErrorCode,
    HealthPolicy,
    MemoryProvider,
    Message,
    Orchestrator,
    Recipient,
    RetryPolicy,
)
from broadcastio.testing import FakeClock, isolated_plugin_manager
from broadcastio_sms import TwilioSmsProvider

MakeProvider = Callable[..., TwilioSmsProvider]


async def test_rate_limit_is_retried_after_twilios_hint(make_provider: MakeProvider, twilio: Any) -> None:
    """A 20429 is retried on the same provider after waiting Twilio's Retry-After."""
    twilio.reply_error(20429, "Too Many Requests", 429, Retry_After="3")
    clock = FakeClock()
    orchestrator = Orchestrator(
        [make_provider()],
        retry=RetryPolicy(max_attempts=2, backoff="none"),
        clock=clock,
        plugin_manager=isolated_plugin_manager(),
    )
    async with orchestrator:
        result = await orchestrator.asend(Message(recipient=twilio.TO_NUMBER, text="retry me"), trace=True)
    assert result.ok, result.error
    assert result.provider_message_id is not None
    assert result.provider_message_id.startswith("SM")
    assert [attempt.ok for attempt in result.trace.attempts] == [False, True]
    assert result.trace.attempts[0].error.code == "twilio.20429"
    assert clock.sleeps == [3.0]
    assert len(twilio.received) == 2


async def test_invalid_number_falls_back_to_email(make_provider: MakeProvider, twilio: Any) -> None:
    """An invalid phone number fails SMS at once and the message goes out by the next channel."""
    email = MemoryProvider(name="email", channel="email")
    orchestrator = Orchestrator(
        [make_provider(), email],
        retry=RetryPolicy(max_attempts=3, backoff="none"),
        clock=FakeClock(),
        plugin_manager=isolated_plugin_manager(),
    )
    recipient = Recipient(phone="+1415555", email="ada@example.com")
    async with orchestrator:
        result = await orchestrator.asend(Message(recipient=recipient, text="hi"), trace=True)
    assert result.ok
    assert result.provider == "email"
    first = result.trace.attempts[0]
    assert first.provider == "sms"
    assert first.error.code == ErrorCode.INVALID_RECIPIENT
    assert len(result.trace.attempts) == 2  # the permanent failure was not retried
    assert twilio.received == []
    assert email.sent[0].address == "ada@example.com"


async def test_ambiguous_timeout_is_not_retried(make_provider: MakeProvider, twilio: Any) -> None:
    """Without idempotency a timeout after sending is not retried: one request, possibly delivered."""
    twilio.reply(201, {"sid": "SMlate", "status": "queued"}, delay=1.0)
    orchestrator = Orchestrator(
        [make_provider(timeout=0.2)],
        retry=RetryPolicy(max_attempts=3, backoff="none"),
        clock=FakeClock(),
        plugin_manager=isolated_plugin_manager(),
    )
    async with orchestrator:
        result = await orchestrator.asend(Message(recipient=twilio.TO_NUMBER, text="once"), trace=True)
    assert result.status == "unknown"
    assert result.error.error_class is ErrorClass.AMBIGUOUS
    assert result.trace.possibly_delivered
    assert len(result.trace.attempts) == 1
    assert len(twilio.received) == 1


async def test_bad_credentials_make_the_provider_unhealthy(make_provider: MakeProvider, twilio: Any) -> None:
    """With health checks on, rejected credentials show up before any send and the provider is skipped."""
    backup = MemoryProvider(name="backup", channel="sms")
    orchestrator = Orchestrator([make_provider(auth_token="wrong"), backup], plugin_manager=isolated_plugin_manager())
    async with orchestrator:
        result = await orchestrator.asend(Message(recipient=twilio.TO_NUMBER, text="x"), trace=True)
    assert result.provider == "backup"
    assert [(skip.provider, skip.reason) for skip in result.trace.skipped] == [("sms", "unhealthy")]
    assert twilio.received == []


async def test_bad_credentials_stop_orchestration(make_provider: MakeProvider, twilio: Any) -> None:
    """Without health checks, rejected credentials raise out of the orchestrator instead of falling back."""
    backup = MemoryProvider(name="backup", channel="sms")
    orchestrator = Orchestrator(
        [make_provider(auth_token="wrong"), backup],
        health=HealthPolicy(enabled=False),
        plugin_manager=isolated_plugin_manager(),
    )
    async with orchestrator:
        with pytest.raises(ConfigurationError):
            await orchestrator.asend(Message(recipient=twilio.TO_NUMBER, text="x"))
    assert backup.calls == 0


def test_sync_facade_delivers(make_provider: MakeProvider, twilio: Any) -> None:
    """The sync facade sends through Twilio too."""
    with Orchestrator([make_provider()], plugin_manager=isolated_plugin_manager()) as orchestrator:
        result = orchestrator.send(Message(recipient=Recipient(phone="+44 7911 123456"), text="sync"))
    assert result.ok
    assert result.provider == "sms"
    assert twilio.received[0]["To"] == "+447911123456"
