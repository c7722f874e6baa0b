"""The bot token is in every URL; it must not show up anywhere else."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import httpx
import pytest
import structlog
from broadcastio import ConfigurationError, ErrorClass, Message
from broadcastio.testing.servers import closed_port
from broadcastio_telegram import TelegramProvider, redact_tokens

MakeProvider = Callable[..., TelegramProvider]
TOKEN = "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw"
SECRET = TOKEN.split(":")[1]


async def test_httpx_request_log_is_redacted(
    make_provider: MakeProvider, bot: Any, caplog: pytest.LogCaptureFixture
) -> None:
    """Whatever the HTTP layer logs (httpx logs request URLs at INFO when its
    client machinery is used), the token in it is masked."""
    caplog.set_level(logging.INFO, logger="httpx")
    provider = make_provider()
    try:
        await provider.send(Message(recipient=bot.CHAT, text="x"), bot.CHAT)
        await provider.health()
    finally:
        await provider.aclose()
    lines = [record.getMessage() for record in caplog.records if record.name == "httpx"]
    assert all("/bot***/" in line for line in lines if "/bot" in line)
    assert SECRET not in caplog.text


def test_httpx_log_filter_masks_the_token(caplog: pytest.LogCaptureFixture) -> None:
    """A request line logged through httpx's logger is masked by the plugin's filter."""
    import broadcastio_telegram  # noqa: F401  (installs the filter)

    caplog.set_level(logging.INFO, logger="httpx")
    logging.getLogger("httpx").info('HTTP Request: POST https://api.telegram.org/bot%s/sendMessage "200 OK"', TOKEN)
    assert SECRET not in caplog.text
    assert "/bot***/" in caplog.text


async def test_structlog_events_hold_no_token(make_provider: MakeProvider, bot: Any) -> None:
    """The provider's own log events carry no token."""
    bot.reply_error(429, "Too Many Requests: retry after 5", retry_after=5)
    with structlog.testing.capture_logs() as logs:
        provider = make_provider()
        try:
            await provider.send(Message(recipient=bot.CHAT, text="x"), bot.CHAT)
            await provider.send(Message(recipient=bot.CHAT, text="x"), bot.CHAT)
        finally:
            await provider.aclose()
    assert logs
    assert SECRET not in repr(logs)


async def test_unreachable_error_holds_no_token() -> None:
    """A refused connection is transient and its message has no token."""
    provider = TelegramProvider(token=TOKEN, base_url=f"http://127.0.0.1:{closed_port()}", timeout=2.0)
    try:
        result = await provider.send(Message(recipient="1", text="x"), "1")
        health = await provider.health()
    finally:
        await provider.aclose()
    assert result.error is not None
    assert result.error.error_class is ErrorClass.TRANSIENT
    assert SECRET not in result.error.message
    assert not health.healthy
    assert SECRET not in health.detail


@pytest.mark.parametrize(
    "failure",
    [
        lambda request: httpx.ConnectError(f"cannot reach {request.url}", request=request),
        lambda request: httpx.ReadTimeout(f"no answer from {request.url}", request=request),
        lambda request: RuntimeError(f"transport bug at {request.url}"),
    ],
)
async def test_exception_texts_quoting_the_url_are_scrubbed(failure: Callable[[httpx.Request], Exception]) -> None:
    """Whatever a transport raises, quoting the URL, comes back classified and masked."""

    def handler(request: httpx.Request) -> httpx.Response:
        assert SECRET in str(request.url)  # the token really is in the URL
        raise failure(request)

    provider = TelegramProvider(token=TOKEN, transport=httpx.MockTransport(handler))
    try:
        result = await provider.send(Message(recipient="1", text="x"), "1")
    finally:
        await provider.aclose()
    assert result.error is not None
    assert SECRET not in result.error.message
    assert "/bot***/sendMessage" in result.error.message


def test_repr_masks_the_token() -> None:
    """repr shows that a token is set, never its value."""
    text = repr(TelegramProvider(token=TOKEN))
    assert "token='***'" in text
    assert SECRET not in text


def test_malformed_token_is_not_echoed() -> None:
    """A token that does not look right raises without repeating it."""
    almost = "123456789 AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw"
    with pytest.raises(ConfigurationError, match="token") as info:
        TelegramProvider(token=almost)
    assert "AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw" not in str(info.value)


def test_redact_tokens() -> None:
    """Token-shaped strings are masked, plain or percent-encoded; ports and ids are left alone."""
    assert redact_tokens(f"POST http://127.0.0.1:8081/bot{TOKEN}/getMe") == "POST http://127.0.0.1:8081/bot***/getMe"
    assert redact_tokens(f"/bot{TOKEN.replace(':', '%3A')}/x") == "/bot***/x"
    assert redact_tokens("chat 123456789 at 10:30") == "chat 123456789 at 10:30"
