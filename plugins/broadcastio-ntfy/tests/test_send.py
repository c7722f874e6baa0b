"""``ntfy``: publishing against the local ntfy server."""

from __future__ import annotations

from typing import Any

import pytest
from broadcastio import (
    Attachment,
    ConfigurationError,
    DeliveryResult,
    ErrorClass,
    ErrorCode,
    Message,
    Metadata,
    Orchestrator,
    Recipient,
    RetryPolicy,
)
from broadcastio.testing import FakeClock, isolated_plugin_manager
from broadcastio_ntfy import NtfyProvider, header_value


def make(ntfy: Any, **overrides: Any) -> NtfyProvider:
    settings: dict[str, Any] = {"base_url": ntfy.url, "timeout": 5.0}
    settings.update(overrides)
    return NtfyProvider(**settings)


async def send(provider: NtfyProvider, message: Message, topic: str) -> DeliveryResult:
    try:
        return await provider.send(message, topic)
    finally:
        await provider.aclose()


async def test_publish_wire_shape(ntfy: Any) -> None:
    """Body is the text; Title, Priority and Tags headers; the id comes back."""
    message = Message(
        recipient=Recipient(addresses={"ntfy": ntfy.TOPIC}),
        text="Backup failed on db-1",
        subject="Backup",
        metadata=Metadata(priority="high", tags=("warning", "db")),
    )
    result = await send(make(ntfy, markdown=True), message, ntfy.TOPIC)
    assert result.ok, result.error
    assert result.provider_message_id == "msg0000001"
    (item,) = ntfy.published
    assert item.topic == ntfy.TOPIC
    assert item.message == "Backup failed on db-1"
    assert item.title == "Backup"
    assert item.tags == ["warning", "db"]
    assert item.priority == 4
    assert item.headers["Title"] == "Backup"
    assert item.headers["Priority"] == "4"
    assert item.headers["Markdown"] == "yes"
    assert "Authorization" not in item.headers


async def test_unicode_title_and_tags_survive(ntfy: Any) -> None:
    """Non-ASCII header values go RFC 2047 encoded and ntfy decodes them."""
    message = Message(
        recipient="x", text="Sauvegarde réussie 😀", subject="Müller — backup ✅", metadata=Metadata(tags=("café",))
    )
    result = await send(make(ntfy), message, ntfy.TOPIC)
    assert result.ok, result.error
    (item,) = ntfy.published
    assert item.title == "Müller — backup ✅"
    assert item.tags == ["café"]
    assert item.message == "Sauvegarde réussie 😀"
    assert item.headers["Title"].startswith("=?utf-8?")


def test_header_value_keeps_ascii_and_flattens_newlines() -> None:
    assert header_value("plain title") == "plain title"
    assert header_value("two\nlines") == "two lines"


@pytest.mark.parametrize(("priority", "wire"), [("low", 2), ("normal", 3)])
async def test_priorities(ntfy: Any, priority: str, wire: int) -> None:
    message = Message(recipient="x", text="p", metadata=Metadata(priority=priority))  # type: ignore[arg-type]
    result = await send(make(ntfy), message, ntfy.TOPIC)
    assert result.ok, result.error
    assert ntfy.published[0].priority == wire


async def test_token_and_basic_auth_reach_a_protected_topic(ntfy: Any) -> None:
    by_token = await send(make(ntfy, token=ntfy.TOKEN), Message(recipient="x", text="a"), ntfy.PROTECTED)
    by_password = await send(
        make(ntfy, username=ntfy.USER, password=ntfy.PASSWORD), Message(recipient="x", text="b"), ntfy.PROTECTED
    )
    assert by_token.ok, by_token.error
    assert by_password.ok, by_password.error
    assert ntfy.published[0].headers["Authorization"] == f"Bearer {ntfy.TOKEN}"
    assert ntfy.published[1].headers["Authorization"].startswith("Basic ")


async def test_anonymous_on_a_protected_topic_raises(ntfy: Any) -> None:
    with pytest.raises(ConfigurationError, match="40301"):
        await send(make(ntfy), Message(recipient="x", text="a"), ntfy.PROTECTED)


async def test_wrong_token_raises_without_it(ntfy: Any) -> None:
    with pytest.raises(ConfigurationError, match="40101") as info:
        await send(make(ntfy, token="tk_wrongwrongwrong"), Message(recipient="x", text="a"), ntfy.TOPIC)
    assert "tk_wrongwrongwrong" not in str(info.value)


async def test_rate_limit(ntfy: Any) -> None:
    ntfy.limit = 0
    result = await send(make(ntfy), Message(recipient="x", text="a"), ntfy.TOPIC)
    assert result.error is not None
    assert result.error.code == ErrorCode.RATE_LIMITED
    assert result.error.error_class is ErrorClass.TRANSIENT


async def test_orchestrator_honours_retry_after(ntfy: Any) -> None:
    ntfy.reply(429, {"code": 42901, "http": 429, "error": "limit reached: too many requests"}, Retry_After="5")
    clock = FakeClock()
    orchestrator = Orchestrator(
        [make(ntfy)],
        retry=RetryPolicy(max_attempts=2, backoff="none"),
        clock=clock,
        plugin_manager=isolated_plugin_manager(),
    )
    async with orchestrator:
        result = await orchestrator.asend(Message(recipient=Recipient(addresses={"ntfy": ntfy.TOPIC}), text="x"))
    assert result.ok, result.error
    assert clock.sleeps == [5.0]
    assert len(ntfy.published) == 2


@pytest.mark.parametrize(
    ("status", "body", "code", "error_class"),
    [
        (507, {"code": 50701, "http": 507, "error": "insufficient storage"}, "ntfy.50701", ErrorClass.TRANSIENT),
        (500, {"code": 50001, "http": 500, "error": "internal server error"}, "ntfy.50001", ErrorClass.TRANSIENT),
        (502, "<html>Bad Gateway</html>", ErrorCode.SERVER_ERROR, ErrorClass.TRANSIENT),
        (413, {"code": 41301, "http": 413, "error": "attachment too large"}, "ntfy.41301", ErrorClass.PERMANENT),
        (400, {"code": 40007, "http": 400, "error": "priority invalid"}, "ntfy.40007", ErrorClass.PERMANENT),
    ],
)
async def test_documented_errors(ntfy: Any, status: int, body: Any, code: str, error_class: ErrorClass) -> None:
    ntfy.reply(status, body)
    result = await send(make(ntfy), Message(recipient="x", text="a"), ntfy.TOPIC)
    assert result.error is not None
    assert result.error.code == code
    assert result.error.error_class is error_class


async def test_timeout_is_ambiguous(ntfy: Any) -> None:
    ntfy.reply(200, {"id": "late"}, delay=1.0)
    result = await send(make(ntfy, timeout=0.2), Message(recipient="x", text="a"), ntfy.TOPIC)
    assert result.status == "unknown"
    assert result.error is not None
    assert result.error.error_class is ErrorClass.AMBIGUOUS


@pytest.mark.parametrize("topic", ["", "has space", "a/b", "x" * 65, "ümlaut"])
async def test_bad_topic_is_refused_without_a_request(ntfy: Any, topic: str) -> None:
    result = await send(make(ntfy), Message(recipient="x", text="a"), topic)
    assert result.error is not None
    assert result.error.code == ErrorCode.INVALID_RECIPIENT
    assert ntfy.published == []


async def test_attachments_are_refused_not_dropped(ntfy: Any) -> None:
    message = Message(recipient="x", text="f", attachments=(Attachment(filename="a.txt", content=b"a"),))
    result = await send(make(ntfy), message, ntfy.TOPIC)
    assert result.error is not None
    assert result.error.code == "ntfy.attachments_unsupported"
    assert ntfy.published == []


async def test_health(ntfy: Any) -> None:
    provider = make(ntfy)
    try:
        healthy = await provider.health()
        ntfy.healthy = False
        unhealthy = await provider.health()
    finally:
        await provider.aclose()
    assert healthy.healthy, healthy.detail
    assert not unhealthy.healthy
    assert ntfy.published == []


@pytest.mark.parametrize(
    ("settings", "complaint"),
    [
        ({"token": ""}, "token"),
        ({"username": "phil"}, "username and password"),
        ({"token": "tk_x", "username": "a", "password": "b"}, "not both"),
        ({"username": "a:b", "password": "c"}, "username"),
        ({"base_url": "ntfy.sh"}, "base_url"),
    ],
)
def test_bad_settings_raise(settings: dict[str, Any], complaint: str) -> None:
    with pytest.raises(ConfigurationError, match=complaint):
        NtfyProvider(**settings)


def test_repr_hides_secrets() -> None:
    provider = NtfyProvider(username="phil", password="hunter2-hunter2")
    assert "hunter2" not in repr(provider)
    assert provider.idempotent is False
    assert provider.base_url == "https://ntfy.sh"
