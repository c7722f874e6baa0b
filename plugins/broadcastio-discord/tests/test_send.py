"""``discord``: Execute Webhook against the local Discord stand-in."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from broadcastio import (
    Attachment,
    ConfigurationError,
    DeliveryResult,
    ErrorClass,
    ErrorCode,
    Message,
    Orchestrator,
    Recipient,
    RetryPolicy,
)
from broadcastio.testing import FakeClock, isolated_plugin_manager
from broadcastio.testing.servers import closed_port
from broadcastio_discord import DiscordProvider


def make(discord: Any, **overrides: Any) -> DiscordProvider:
    settings: dict[str, Any] = {"url": discord.hook_url, "timeout": 5.0}
    settings.update(overrides)
    return DiscordProvider(**settings)


async def send(provider: DiscordProvider, message: Message) -> DeliveryResult:
    try:
        return await provider.send(message, "alerts")
    finally:
        await provider.aclose()


async def test_json_wire_shape(discord: Any) -> None:
    """content, no pings by default, wait=true so the message id comes back."""
    message = Message(recipient="alerts", text="@everyone disk full", subject="db-1")
    result = await send(make(discord, username="broadcastio"), message)
    assert result.ok, result.error
    assert result.provider_message_id == "1100000000000000000"
    (call,) = discord.calls
    assert call.query == {"wait": "true"}
    assert call.headers["Content-Type"] == "application/json"
    assert call.payload == {
        "content": "**db-1**\n@everyone disk full",
        "allowed_mentions": {"parse": []},
        "username": "broadcastio",
    }


async def test_thread_and_mentions(discord: Any) -> None:
    result = await send(make(discord, thread_id="555", allow_mentions=True), Message(recipient="a", text="hi"))
    assert result.ok, result.error
    assert discord.calls[0].query == {"wait": "true", "thread_id": "555"}
    assert "allowed_mentions" not in discord.calls[0].payload


async def test_attachments_go_as_multipart(discord: Any) -> None:
    png = b"\x89PNG\r\n\x1a\n" + b"\x01" * 64
    message = Message(
        recipient="alerts",
        text="graphs",
        attachments=(
            Attachment(filename="cpu.png", content=png, mime_type="image/png"),
            Attachment(filename="log.txt", content=b"line\n", mime_type="text/plain"),
        ),
    )
    result = await send(make(discord), message)
    assert result.ok, result.error
    (call,) = discord.calls
    assert call.headers["Content-Type"].startswith("multipart/form-data")
    assert call.payload["content"] == "graphs"
    assert call.payload["attachments"] == [{"id": 0, "filename": "cpu.png"}, {"id": 1, "filename": "log.txt"}]
    assert call.files == [
        ("files[0]", "cpu.png", "image/png", png),
        ("files[1]", "log.txt", "text/plain", b"line\n"),
    ]


async def test_too_long_text_fails_without_a_request(discord: Any) -> None:
    result = await send(make(discord), Message(recipient="a", text="x" * 2001))
    assert result.error is not None
    assert result.error.code == "discord.content_too_long"
    assert discord.calls == []


async def test_rate_limit_reads_retry_after_from_the_body(discord: Any) -> None:
    """The fake's bucket allows one message; the second gets 429 with retry_after 2.5 (a float)."""
    discord.limit = 1
    provider = make(discord)
    try:
        first = await provider.send(Message(recipient="a", text="1"), "a")
        second = await provider.send(Message(recipient="a", text="2"), "a")
    finally:
        await provider.aclose()
    assert first.ok
    assert second.error is not None
    assert second.error.code == ErrorCode.RATE_LIMITED
    assert second.error.error_class is ErrorClass.TRANSIENT
    assert second.error.retry_after == 2.5
    assert "shared" in second.error.message


async def test_global_rate_limit_falls_back_to_the_header(discord: Any) -> None:
    discord.reply(429, {"message": "You are being rate limited.", "global": True}, Retry_After="9")
    result = await send(make(discord), Message(recipient="a", text="x"))
    assert result.error is not None
    assert result.error.retry_after == 9.0
    assert "global" in result.error.message


async def test_orchestrator_waits_out_the_rate_limit(discord: Any) -> None:
    discord.reply(429, {"message": "You are being rate limited.", "retry_after": 1.25, "global": False})
    clock = FakeClock()
    orchestrator = Orchestrator(
        [make(discord)],
        retry=RetryPolicy(max_attempts=2, backoff="none"),
        clock=clock,
        plugin_manager=isolated_plugin_manager(),
    )
    async with orchestrator:
        result = await orchestrator.asend(Message(recipient=Recipient(addresses={"discord": "ops"}), text="x"))
    assert result.ok, result.error
    assert clock.sleeps == [1.25]
    assert len(discord.calls) == 2


@pytest.mark.parametrize(
    ("status", "body", "code", "error_class"),
    [
        (400, {"message": "Cannot send an empty message", "code": 50006}, "discord.50006", ErrorClass.PERMANENT),
        (400, {"message": "Invalid Form Body", "code": 50035}, "discord.50035", ErrorClass.PERMANENT),
        (403, {"message": "Missing Permissions", "code": 50013}, "discord.50013", ErrorClass.PERMANENT),
        (413, {"message": "Request entity too large", "code": 40005}, "discord.40005", ErrorClass.PERMANENT),
        (500, {"message": "Internal Server Error", "code": 0}, "discord.0", ErrorClass.TRANSIENT),
        (502, "<html>502 Bad Gateway</html>", ErrorCode.SERVER_ERROR, ErrorClass.TRANSIENT),
        (503, "upstream", ErrorCode.SERVICE_UNAVAILABLE, ErrorClass.TRANSIENT),
    ],
)
async def test_documented_errors(discord: Any, status: int, body: Any, code: str, error_class: ErrorClass) -> None:
    discord.reply(status, body)
    result = await send(make(discord), Message(recipient="a", text="x"))
    assert result.error is not None
    assert result.error.code == code
    assert result.error.error_class is error_class


async def test_wrong_token_raises_without_it(discord: Any) -> None:
    wrong = f"{discord.url}/api/webhooks/{discord.HOOK_ID}/WrongTokenWrongTokenWrongToken"
    with pytest.raises(ConfigurationError, match="webhook") as info:
        await send(make(discord, url=wrong), Message(recipient="a", text="x"))
    assert "WrongTokenWrongTokenWrongToken" not in str(info.value)


async def test_unknown_webhook_raises(discord: Any) -> None:
    unknown = f"{discord.url}/api/webhooks/42/{discord.TOKEN}"
    with pytest.raises(ConfigurationError, match="Unknown Webhook") as info:
        await send(make(discord, url=unknown), Message(recipient="a", text="x"))
    assert discord.TOKEN not in str(info.value)


async def test_timeout_is_ambiguous_and_hides_the_token(discord: Any) -> None:
    discord.reply(200, {"id": "1"}, delay=1.0)
    result = await send(make(discord, timeout=0.2), Message(recipient="a", text="x"))
    assert result.status == "unknown"
    assert result.error is not None
    assert result.error.error_class is ErrorClass.AMBIGUOUS
    assert discord.TOKEN not in result.error.message


async def test_token_never_reaches_the_logs(discord: Any, caplog: pytest.LogCaptureFixture) -> None:
    url = f"http://127.0.0.1:{closed_port()}/api/webhooks/{discord.HOOK_ID}/{discord.TOKEN}"
    with caplog.at_level(logging.DEBUG):
        provider = make(discord, url=url, timeout=2.0)
        logging.getLogger("httpx").info("HTTP Request: POST %s?wait=true", url)
        down = await send(provider, Message(recipient="a", text="x"))
        await send(
            make(discord), Message(recipient="a", text="x", attachments=(Attachment(filename="a", content=b"a"),))
        )
    assert down.error is not None
    assert discord.TOKEN not in down.error.message
    assert caplog.records
    assert all(discord.TOKEN not in record.getMessage() for record in caplog.records)


async def test_health_gets_the_webhook(discord: Any) -> None:
    provider = make(discord)
    try:
        health = await provider.health()
    finally:
        await provider.aclose()
    assert health.healthy, health.detail
    assert health.detail == "webhook 'alerts'"
    assert discord.calls == []


async def test_health_of_a_deleted_webhook(discord: Any) -> None:
    provider = make(discord, url=f"{discord.url}/api/webhooks/42/{discord.TOKEN}")
    try:
        health = await provider.health()
    finally:
        await provider.aclose()
    assert not health.healthy
    assert "Unknown Webhook" in health.detail
    assert discord.TOKEN not in health.detail


@pytest.mark.parametrize(
    ("settings", "complaint"),
    [
        ({"url": "https://discord.com/api/channels/1/messages"}, "url"),
        ({"url": "discord.com/api/webhooks/1/abcdefghijkl"}, "url"),
        ({"url": "https://discord.com/api/webhooks/1/abcdefghijkl", "thread_id": "t1"}, "thread_id"),
        ({"url": "https://discord.com/api/webhooks/1/abcdefghijkl", "username": ""}, "username"),
    ],
)
def test_bad_settings_raise(settings: dict[str, Any], complaint: str) -> None:
    with pytest.raises(ConfigurationError, match=complaint) as info:
        DiscordProvider(**settings)
    assert "abcdefghijkl" not in str(info.value)


def test_repr_and_defaults() -> None:
    provider = DiscordProvider(url="https://discord.com/api/v10/webhooks/1/abcdefghijklmnop")
    assert "abcdefghijklmnop" not in repr(provider)
    assert provider.idempotent is False
    assert provider.channel == "discord"


def test_log_filter_masks_any_webhook_token_by_shape(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="httpx"):
        DiscordProvider(url="https://discord.com/api/webhooks/1/abcdefghijklmnop")
        logging.getLogger("httpx").info("HTTP Request: POST https://discord.com/api/webhooks/22/tok-en_x?wait=true")
    assert caplog.records[-1].getMessage() == "HTTP Request: POST https://discord.com/api/webhooks/22/***?wait=true"
