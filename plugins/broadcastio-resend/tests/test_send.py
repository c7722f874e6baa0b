"""Sending through the local Resend stand-in: wire shape, idempotency, results and error mapping."""

from __future__ import annotations

import base64
from collections.abc import Callable
from typing import Any

import pytest
from broadcastio import (
    Attachment,
    ConfigurationError,
    ErrorClass,
    ErrorCode,
    Message,
    Metadata,
    Orchestrator,
    RetryPolicy,
)
from broadcastio.testing import isolated_plugin_manager
from broadcastio_resend import ResendProvider

MakeProvider = Callable[..., ResendProvider]


async def send(provider: ResendProvider, message: Message) -> Any:
    try:
        return await provider.send(message, str(message.recipient))
    finally:
        await provider.aclose()


class TestRequest:
    async def test_emails_body_and_idempotency_header(self, make_provider: MakeProvider, resend: Any) -> None:
        """from, to (a list), subject, text, html, reply_to, and the message's key as Idempotency-Key."""
        message = Message(
            recipient=resend.TO,
            subject="Hi",
            text="plain",
            html="<p>rich</p>",
            metadata=Metadata(idempotency_key="order-42"),
        )
        result = await send(make_provider(reply_to="support@example.com"), message)
        assert result.ok, result.error
        assert result.provider_message_id == "49a3999c-0ce1-4ea6-ab68-000000000001"
        assert resend.received == [
            {
                "from": resend.SENDER,
                "to": [resend.TO],
                "subject": "Hi",
                "text": "plain",
                "html": "<p>rich</p>",
                "reply_to": "support@example.com",
            }
        ]
        assert resend.headers[0]["Idempotency-Key"] == "order-42"
        assert resend.headers[0]["Authorization"] == f"Bearer {resend.API_KEY}"

    async def test_attachments(self, make_provider: MakeProvider, resend: Any) -> None:
        """Attachments are filename, base64 content and content_type."""
        attachment = Attachment(filename="a.txt", content=b"abc", mime_type="text/plain")
        result = await send(make_provider(), Message(recipient=resend.TO, text="x", attachments=(attachment,)))
        assert result.ok, result.error
        assert resend.received[0]["attachments"] == [
            {"filename": "a.txt", "content": base64.b64encode(b"abc").decode(), "content_type": "text/plain"}
        ]
        assert resend.received[0]["subject"] == "(no subject)"

    async def test_longest_key_passes_unchanged(self, make_provider: MakeProvider, resend: Any) -> None:
        """broadcastio's longest key (255 characters) is within Resend's 256 and goes out as it is."""
        message = Message(recipient=resend.TO, text="x", metadata=Metadata(idempotency_key="k" * 255))
        result = await send(make_provider(), message)
        assert result.ok, result.error
        assert resend.headers[0]["Idempotency-Key"] == "k" * 255


class TestIdempotency:
    def test_declares_idempotent(self, make_provider: MakeProvider) -> None:
        assert make_provider().idempotent is True

    async def test_repeat_with_same_key_sends_once(self, make_provider: MakeProvider, resend: Any) -> None:
        """Two sends of one message: Resend answers the same id and sends one email."""
        provider = make_provider()
        message = Message(recipient=resend.TO, text="once", metadata=Metadata(idempotency_key="k-1"))
        try:
            first = await provider.send(message, resend.TO)
            second = await provider.send(message, resend.TO)
        finally:
            await provider.aclose()
        assert first.ok
        assert second.ok
        assert first.provider_message_id == second.provider_message_id
        assert len(resend.sent) == 1

    async def test_same_key_other_payload_is_permanent(self, make_provider: MakeProvider, resend: Any) -> None:
        """A reused key with a different payload is 409 invalid_idempotent_request: permanent."""
        provider = make_provider()
        try:
            await provider.send(
                Message(recipient=resend.TO, text="a", metadata=Metadata(idempotency_key="k")), resend.TO
            )
            result = await provider.send(
                Message(recipient=resend.TO, text="b", metadata=Metadata(idempotency_key="k")), resend.TO
            )
        finally:
            await provider.aclose()
        assert result.error.code == "resend.invalid_idempotent_request"
        assert result.error.error_class is ErrorClass.PERMANENT

    def test_ambiguous_timeout_is_retried_without_double_delivery(
        self, make_provider: MakeProvider, resend: Any
    ) -> None:
        """Orchestrator retries after a timeout; the concurrent-key 409 is transient; one email goes out."""
        resend.send_delay = 0.8
        provider = make_provider(timeout=0.3)
        policy = RetryPolicy(max_attempts=6, backoff="fixed", base_delay=0.3, jitter=False)
        message = Message(recipient=resend.TO, text="exactly once", metadata=Metadata(idempotency_key="retry-1"))
        with Orchestrator([provider], retry=policy, plugin_manager=isolated_plugin_manager()) as orchestrator:
            result = orchestrator.send(message, trace=True)
        assert result.ok, result.error
        codes = [attempt.error.code for attempt in result.trace.attempts if attempt.error is not None]
        assert codes[0] == ErrorCode.TIMEOUT
        assert len(resend.sent) == 1
        assert result.provider_message_id == "49a3999c-0ce1-4ea6-ab68-000000000001"


class TestErrors:
    async def test_missing_field_is_permanent(self, make_provider: MakeProvider, resend: Any) -> None:
        resend.reply(422, {"statusCode": 422, "name": "missing_required_field", "message": "Missing `to` field."})
        result = await send(make_provider(), Message(recipient=resend.TO, text="x"))
        assert result.error.code == "resend.missing_required_field"
        assert result.error.error_class is ErrorClass.PERMANENT

    async def test_validation_error_masks_addresses(self, make_provider: MakeProvider, resend: Any) -> None:
        resend.reply(
            422, {"statusCode": 422, "name": "validation_error", "message": f"Invalid `to` field: {resend.TO}"}
        )
        result = await send(make_provider(), Message(recipient=resend.TO, text="x"))
        assert result.error.code == "resend.validation_error"
        assert resend.TO not in result.error.message

    async def test_concurrent_idempotent_request_is_transient(self, make_provider: MakeProvider, resend: Any) -> None:
        resend.reply(409, {"statusCode": 409, "name": "concurrent_idempotent_requests", "message": "in progress"})
        result = await send(make_provider(), Message(recipient=resend.TO, text="x"))
        assert result.error.code == "resend.concurrent_idempotent_requests"
        assert result.error.error_class is ErrorClass.TRANSIENT

    async def test_rate_limit_honours_retry_after(self, make_provider: MakeProvider, resend: Any) -> None:
        resend.reply(
            429,
            {"statusCode": 429, "name": "rate_limit_exceeded", "message": "Too many requests"},
            retry_after="2",
            ratelimit_reset="2",
        )
        result = await send(make_provider(), Message(recipient=resend.TO, text="x"))
        assert result.error.code == "resend.rate_limit_exceeded"
        assert result.error.error_class is ErrorClass.TRANSIENT
        assert result.error.retry_after == 2.0

    async def test_rate_limit_reset_without_retry_after(self, make_provider: MakeProvider, resend: Any) -> None:
        resend.reply(
            429, {"statusCode": 429, "name": "rate_limit_exceeded", "message": "slow down"}, ratelimit_reset="5"
        )
        result = await send(make_provider(), Message(recipient=resend.TO, text="x"))
        assert result.error.retry_after == 5.0

    async def test_5xx_is_transient(self, make_provider: MakeProvider, resend: Any) -> None:
        resend.reply(500, {"statusCode": 500, "name": "application_error", "message": "unexpected"})
        result = await send(make_provider(), Message(recipient=resend.TO, text="x"))
        assert result.error.error_class is ErrorClass.TRANSIENT

    async def test_bare_502_is_transient(self, make_provider: MakeProvider, resend: Any) -> None:
        resend.reply(502, "<html>bad gateway</html>")
        result = await send(make_provider(), Message(recipient=resend.TO, text="x"))
        assert result.error.code == "resend.http_502"
        assert result.error.error_class is ErrorClass.TRANSIENT

    async def test_invalid_key_raises(self, make_provider: MakeProvider, resend: Any) -> None:
        """The fake refuses a wrong key with 403 invalid_api_key: it raises, without the key in the message."""
        with pytest.raises(ConfigurationError) as raised:
            await send(make_provider(api_key="re_wrong"), Message(recipient=resend.TO, text="x"))
        assert "re_wrong" not in str(raised.value)
        assert "invalid_api_key" in str(raised.value)

    async def test_missing_key_raises(self, make_provider: MakeProvider, resend: Any) -> None:
        """401 missing_api_key raises."""
        resend.reply(401, {"statusCode": 401, "name": "missing_api_key", "message": "Missing API key"})
        with pytest.raises(ConfigurationError, match="missing_api_key"):
            await send(make_provider(), Message(recipient=resend.TO, text="x"))

    async def test_unverified_domain_raises(self, make_provider: MakeProvider, resend: Any) -> None:
        resend.reply(
            403, {"statusCode": 403, "name": "validation_error", "message": "The example.com domain is not verified."}
        )
        with pytest.raises(ConfigurationError, match="not verified"):
            await send(make_provider(), Message(recipient=resend.TO, text="x"))

    async def test_timeout_after_sending_is_ambiguous(self, make_provider: MakeProvider, resend: Any) -> None:
        resend.reply(200, {"id": "late"}, delay=1.0)
        result = await send(make_provider(timeout=0.2), Message(recipient=resend.TO, text="x"))
        assert result.error.error_class is ErrorClass.AMBIGUOUS


class TestHealth:
    async def test_sending_only_key_is_healthy(self, make_provider: MakeProvider, resend: Any) -> None:
        """A sending-only key answers restricted_api_key on /domains: accepted, so healthy."""
        provider = make_provider(api_key=resend.SENDING_ONLY_KEY)
        try:
            health = await provider.health()
        finally:
            await provider.aclose()
        assert health.healthy, health.detail

    async def test_invalid_key_is_unhealthy(self, make_provider: MakeProvider) -> None:
        provider = make_provider(api_key="re_wrong")
        try:
            health = await provider.health()
        finally:
            await provider.aclose()
        assert not health.healthy
        assert "re_wrong" not in health.detail
