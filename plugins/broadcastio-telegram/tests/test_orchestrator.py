"""End to end: the orchestrator drives the Telegram provider against the local Bot API."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from broadcastio import (
    Attachment,
    ConfigurationError,
    ErrorCode,
    HealthPolicy,
    MemoryProvider,
    Message,
    Orchestrator,
    Recipient,
    RetryPolicy,
)
from broadcastio.testing import FakeClock, isolated_plugin_manager
from broadcastio_telegram import TelegramProvider

MakeProvider = Callable[..., TelegramProvider]


async def test_rate_limit_retry_after_is_honoured(make_provider: MakeProvider, bot: Any) -> None:
    """A 429 is retried after exactly Telegram's retry_after, then delivered."""
    bot.reply_error(429, "Too Many Requests: retry after 5", retry_after=5)
    clock = FakeClock()
    orchestrator = Orchestrator(
        [make_provider()],
        retry=RetryPolicy(max_attempts=2, backoff="none"),
        clock=clock,
        plugin_manager=isolated_plugin_manager(),
    )
    async with orchestrator:
        result = await orchestrator.asend(Message(recipient=Recipient(telegram=bot.CHAT), text="retry"), trace=True)
    assert result.ok, result.error
    assert result.provider == "telegram"
    assert [attempt.ok for attempt in result.trace.attempts] == [False, True]
    assert result.trace.attempts[0].error.code == ErrorCode.RATE_LIMITED
    assert clock.sleeps == [5.0]
    assert len(bot.calls) == 2


async def test_retry_after_beyond_max_delay_moves_on(make_provider: MakeProvider, bot: Any) -> None:
    """A retry_after longer than the policy's max_delay is not waited out: fallback goes on at once."""
    bot.reply_error(429, "Too Many Requests: retry after 120", retry_after=120)
    backup = MemoryProvider(name="backup", channel="telegram")
    clock = FakeClock()
    orchestrator = Orchestrator(
        [make_provider(), backup],
        retry=RetryPolicy(max_attempts=3, backoff="none", max_delay=30.0),
        clock=clock,
        plugin_manager=isolated_plugin_manager(),
    )
    async with orchestrator:
        result = await orchestrator.asend(Message(recipient=bot.CHAT, text="hurry"))
    assert result.provider == "backup"
    assert all(seconds < 120 for seconds in clock.sleeps)
    assert len(bot.calls) == 1


async def test_blocked_bot_falls_back_to_email(make_provider: MakeProvider, bot: Any) -> None:
    """A user who blocked the bot gets the message by the next channel, without retries on Telegram."""
    email = MemoryProvider(name="email", channel="email")
    orchestrator = Orchestrator(
        [make_provider(), email],
        retry=RetryPolicy(max_attempts=3, backoff="none"),
        clock=FakeClock(),
        plugin_manager=isolated_plugin_manager(),
    )
    recipient = Recipient(telegram=bot.BLOCKED_CHAT, email="ada@example.com")
    async with orchestrator:
        result = await orchestrator.asend(Message(recipient=recipient, text="backup route"), trace=True)
    assert result.ok
    assert result.provider == "email"
    assert [attempt.provider for attempt in result.trace.attempts] == ["telegram", "email"]
    assert result.trace.attempts[0].error.code == "telegram.bot_blocked"
    assert len(bot.calls) == 1


async def test_documents_through_the_orchestrator(make_provider: MakeProvider, bot: Any) -> None:
    """Attachments travel through the orchestrator to sendDocument intact."""
    attachment = Attachment(filename="graph.png", content=b"\x89PNG\r\n\x1a\n" + b"\xff" * 300, mime_type="image/png")
    orchestrator = Orchestrator([make_provider()], plugin_manager=isolated_plugin_manager())
    async with orchestrator:
        result = await orchestrator.asend(Message(recipient=bot.CHAT, text="graph", attachments=(attachment,)))
    assert result.ok, result.error
    assert bot.calls[0].document == ("graph.png", "image/png", attachment.content)


async def test_bad_token_is_skipped_as_unhealthy(make_provider: MakeProvider, bot: Any) -> None:
    """With health checks on, getMe finds the bad token and the provider is skipped."""
    backup = MemoryProvider(name="backup", channel="telegram")
    wrong = "987654321:ZZHdqTcvCH1vGWJxfSeofSAs0K5PALDxyz"
    orchestrator = Orchestrator([make_provider(token=wrong), backup], plugin_manager=isolated_plugin_manager())
    async with orchestrator:
        result = await orchestrator.asend(Message(recipient=bot.CHAT, text="x"), trace=True)
    assert result.provider == "backup"
    assert [(skip.provider, skip.reason) for skip in result.trace.skipped] == [("telegram", "unhealthy")]
    assert bot.calls == []


async def test_bad_token_stops_orchestration(make_provider: MakeProvider, bot: Any) -> None:
    """Without health checks, a 401 raises ConfigurationError out of the orchestrator."""
    backup = MemoryProvider(name="backup", channel="telegram")
    wrong = "987654321:ZZHdqTcvCH1vGWJxfSeofSAs0K5PALDxyz"
    orchestrator = Orchestrator(
        [make_provider(token=wrong), backup],
        health=HealthPolicy(enabled=False),
        plugin_manager=isolated_plugin_manager(),
    )
    async with orchestrator:
        with pytest.raises(ConfigurationError) as info:
            await orchestrator.asend(Message(recipient=bot.CHAT, text="x"))
    assert wrong.split(":")[1] not in str(info.value)
    assert backup.calls == 0
