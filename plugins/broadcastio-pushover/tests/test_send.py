"""PushoverProvider against the local Pushover stand-in: wire shape, outcomes, secrecy, health."""

from __future__ import annotations

import base64
import logging
import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from broadcastio import (
    Attachment,
    ConfigurationError,
    ErrorClass,
    ErrorCode,
    Message,
    Metadata,
    Orchestrator,
    Recipient,
    RetryPolicy,
)
from broadcastio.testing import isolated_plugin_manager
from broadcastio.testing.servers import closed_port
from broadcastio_pushover import MESSAGE_LIMIT, PushoverProvider

Make = Callable[..., PushoverProvider]


async def _send(provider: PushoverProvider, message: Message, address: str) -> Any:
    try:
        return await provider.send(message, address)
    finally:
        await provider.aclose()


class TestWire:
    async def test_form_fields(self, make_provider: Make, pushover: Any) -> None:
        """token, user, message, title and priority go out as a urlencoded form; the request id comes back."""
        message = Message(
            recipient=Recipient(addresses={"pushover": pushover.USER}),
            text="disk full on db-1",
            subject="alert",
            metadata=Metadata(priority="high"),
        )
        result = await _send(make_provider(device="pixel7", sound="siren"), message, pushover.USER)
        assert result.ok, result.error
        assert result.provider_message_id.startswith("e460545a-")
        assert pushover.content_types == ["application/x-www-form-urlencoded"]
        assert pushover.received == [
            {
                "token": pushover.TOKEN,
                "user": pushover.USER,
                "message": "disk full on db-1",
                "title": "alert",
                "priority": "1",
                "device": "pixel7",
                "sound": "siren",
            }
        ]

    @pytest.mark.parametrize(("priority", "sent"), [("low", "-1"), ("normal", "0"), ("high", "1")])
    async def test_priority_mapping(self, make_provider: Make, pushover: Any, priority: str, sent: str) -> None:
        """low/normal/high map to Pushover's -1/0/1 (never 2, which needs retry and expire)."""
        message = Message(recipient=pushover.GROUP, text="x", metadata=Metadata(priority=priority))  # type: ignore[arg-type]
        assert (await _send(make_provider(), message, pushover.GROUP)).ok
        assert pushover.received[0]["priority"] == sent
        assert "title" not in pushover.received[0]

    async def test_html_only_message(self, make_provider: Make, pushover: Any) -> None:
        """A message with HTML and no text is sent as HTML (html=1)."""
        message = Message(recipient=pushover.USER, text="", html="<b>down</b>")
        assert (await _send(make_provider(), message, pushover.USER)).ok
        assert pushover.received[0]["message"] == "<b>down</b>"
        assert pushover.received[0]["html"] == "1"

    async def test_image_attachment(self, make_provider: Make, pushover: Any) -> None:
        """The first image attachment rides as attachment_base64 with its type."""
        image = Attachment(filename="graph.png", content=b"\x89PNG fake", mime_type="image/png")
        message = Message(recipient=pushover.USER, text="see graph", attachments=(image,))
        assert (await _send(make_provider(), message, pushover.USER)).ok
        assert base64.b64decode(pushover.received[0]["attachment_base64"]) == b"\x89PNG fake"
        assert pushover.received[0]["attachment_type"] == "image/png"


class TestOutcomes:
    async def test_bad_user_key_is_invalid_recipient(self, make_provider: Make, pushover: Any) -> None:
        """Pushover's {"user": "invalid"} is a permanent invalid_recipient; the key is not in the message."""
        other = "x" * 30
        result = await _send(make_provider(), Message(recipient=other, text="x"), other)
        assert result.error.error_class is ErrorClass.PERMANENT
        assert result.error.code == ErrorCode.INVALID_RECIPIENT
        assert "user identifier" in result.error.message
        assert other not in result.error.message

    @pytest.mark.parametrize("address", ["short", "u" * 31, "uQiRzpo4DXghDmr9QzzfQu27cmVR-G"])
    async def test_malformed_key_fails_without_request(self, make_provider: Make, pushover: Any, address: str) -> None:
        """A key that cannot be a Pushover key fails locally, masked."""
        result = await _send(make_provider(), Message(recipient=address, text="x"), address)
        assert result.error.code == ErrorCode.INVALID_RECIPIENT
        assert address not in result.error.message
        assert pushover.received == []

    async def test_rejected_token_raises(self, make_provider: Make, pushover: Any) -> None:
        """{"token": "invalid"} is a configuration error; the token is never in its text."""
        other = "b" * 30
        provider = make_provider(token=other)
        with pytest.raises(ConfigurationError, match="application token") as caught:
            await _send(provider, Message(recipient=pushover.USER, text="x"), pushover.USER)
        assert other not in str(caught.value)

    async def test_bad_device_is_permanent(self, make_provider: Make, pushover: Any) -> None:
        """A device name the user does not have is permanent."""
        pushover.reply(400, {"device": "invalid", "errors": ["device name is not valid for user"], "status": 0})
        result = await _send(make_provider(device="nope"), Message(recipient=pushover.USER, text="x"), pushover.USER)
        assert result.error.error_class is ErrorClass.PERMANENT
        assert result.error.code == "pushover.invalid_device"

    async def test_other_4xx_is_permanent(self, make_provider: Make, pushover: Any) -> None:
        """Any other refused field is permanent, with Pushover's own words."""
        pushover.reply(400, {"sound": "invalid", "errors": ["sound is invalid"], "status": 0})
        result = await _send(make_provider(), Message(recipient=pushover.USER, text="x"), pushover.USER)
        assert result.error.error_class is ErrorClass.PERMANENT
        assert result.error.code == "pushover.400"
        assert result.error.message == "sound is invalid"

    async def test_429_with_retry_after(self, make_provider: Make, pushover: Any) -> None:
        """429 is transient and honours Retry-After."""
        pushover.reply(429, {"errors": ["too many requests"], "status": 0}, Retry_After="30")
        result = await _send(make_provider(), Message(recipient=pushover.USER, text="x"), pushover.USER)
        assert result.error.error_class is ErrorClass.TRANSIENT
        assert result.error.code == ErrorCode.RATE_LIMITED
        assert result.error.retry_after == 30.0

    async def test_429_monthly_limit_waits_for_reset(self, make_provider: Make, pushover: Any) -> None:
        """Without Retry-After, a 429 waits until X-Limit-App-Reset."""
        pushover.remaining = 0
        pushover.reset = int(time.time()) + 3600
        result = await _send(make_provider(), Message(recipient=pushover.USER, text="x"), pushover.USER)
        assert result.error.code == ErrorCode.RATE_LIMITED
        assert 3500 < result.error.retry_after <= 3600

    @pytest.mark.parametrize(("status", "code"), [(500, ErrorCode.SERVER_ERROR), (503, ErrorCode.SERVICE_UNAVAILABLE)])
    async def test_5xx_is_transient(self, make_provider: Make, pushover: Any, status: int, code: str) -> None:
        """5xx (even an HTML page) is transient."""
        pushover.reply(status, "<html>oops</html>")
        result = await _send(make_provider(), Message(recipient=pushover.USER, text="x"), pushover.USER)
        assert result.error.error_class is ErrorClass.TRANSIENT
        assert result.error.code == code

    async def test_timeout_after_send_is_ambiguous(self, make_provider: Make, pushover: Any) -> None:
        """An answer later than the timeout may have been delivered."""
        pushover.reply(200, {"status": 1, "request": "late"}, delay=1.0)
        result = await _send(make_provider(timeout=0.2), Message(recipient=pushover.USER, text="x"), pushover.USER)
        assert result.status == "unknown"
        assert result.error.error_class is ErrorClass.AMBIGUOUS

    async def test_too_long_fails_locally(self, make_provider: Make, pushover: Any) -> None:
        """More than 1024 characters is refused before a request."""
        message = Message(recipient=pushover.USER, text="x" * (MESSAGE_LIMIT + 1))
        result = await _send(make_provider(), message, pushover.USER)
        assert result.error.code == "pushover.message_too_long"
        assert pushover.received == []


class TestConfiguration:
    @pytest.mark.parametrize(
        ("settings", "complaint"),
        [({"token": "short"}, "token"), ({"device": "has space"}, "device"), ({"sound": " "}, "sound")],
    )
    def test_bad_settings_raise(self, settings: dict[str, Any], complaint: str) -> None:
        """Malformed settings raise a ConfigurationError naming the setting."""
        with pytest.raises(ConfigurationError, match=complaint):
            PushoverProvider(**{"token": "a" * 30, **settings})

    def test_repr_hides_the_token(self) -> None:
        """The token never appears in repr."""
        provider = PushoverProvider(token="a" * 30)
        assert "a" * 30 not in repr(provider)
        assert "token='***'" in repr(provider)


class TestHealth:
    async def test_healthy_with_quota(self, make_provider: Make, pushover: Any) -> None:
        """The limits call proves the token and reports what is left; nothing is sent."""
        provider = make_provider()
        try:
            health = await provider.health()
        finally:
            await provider.aclose()
        assert health.healthy, health.detail
        assert "7496 of 10000" in health.detail
        assert pushover.limit_checks == 1
        assert pushover.received == []

    async def test_quota_exhausted_is_unhealthy(self, make_provider: Make, pushover: Any) -> None:
        """An app with no messages left this month is unhealthy."""
        pushover.remaining = 0
        provider = make_provider()
        try:
            health = await provider.health()
        finally:
            await provider.aclose()
        assert not health.healthy
        assert "limit" in health.detail

    async def test_rejected_token_is_unhealthy_and_masked(self, make_provider: Make) -> None:
        """A rejected token is unhealthy, and the token is not in the detail."""
        other = "c" * 30
        provider = make_provider(token=other)
        try:
            health = await provider.health()
        finally:
            await provider.aclose()
        assert not health.healthy
        assert other not in health.detail

    async def test_token_in_the_limits_url_is_masked_in_httpx_logs(
        self, make_provider: Make, caplog: pytest.LogCaptureFixture
    ) -> None:
        """On httpx's full path (a custom transport), its request log line shows token=***."""
        caplog.set_level(logging.INFO, logger="httpx")
        provider = make_provider(transport=httpx.AsyncHTTPTransport())
        try:
            assert (await provider.health()).healthy
        finally:
            await provider.aclose()
        assert "limits.json?token=***" in caplog.text
        assert provider.token not in caplog.text

    async def test_unreachable_is_unhealthy(self) -> None:
        """Nothing listening: unhealthy."""
        provider = PushoverProvider(token="a" * 30, base_url=f"http://127.0.0.1:{closed_port()}")
        try:
            health = await provider.health()
        finally:
            await provider.aclose()
        assert not health.healthy
        assert "a" * 30 not in health.detail


class TestOrchestrator:
    async def test_bad_user_key_is_not_retried(self, make_provider: Make, pushover: Any) -> None:
        """A permanent invalid_recipient is attempted once, even with retries allowed."""
        first = make_provider(name="primary", retry_policy=RetryPolicy(max_attempts=3, backoff="none"))
        recipient = Recipient(addresses={"pushover": "z" * 30})
        async with Orchestrator([first], plugin_manager=isolated_plugin_manager()) as orchestrator:
            result = await orchestrator.asend(Message(recipient=recipient, text="x"), trace=True)
        assert not result.ok
        assert result.error.code == ErrorCode.INVALID_RECIPIENT
        assert len(result.trace.attempts) == 1
        assert len(pushover.received) == 1
