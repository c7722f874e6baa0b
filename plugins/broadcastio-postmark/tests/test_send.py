"""Sending through the local Postmark stand-in: wire shape, results and error mapping."""

from __future__ import annotations

import base64
from collections.abc import Callable
from typing import Any

import pytest
from broadcastio import Attachment, ConfigurationError, ErrorClass, ErrorCode, Message, Metadata
from broadcastio_postmark import PostmarkProvider

MakeProvider = Callable[..., PostmarkProvider]


async def send(provider: PostmarkProvider, message: Message) -> Any:
    try:
        return await provider.send(message, str(message.recipient))
    finally:
        await provider.aclose()


class TestRequest:
    async def test_email_body(self, make_provider: MakeProvider, postmark: Any) -> None:
        """From, To, Subject, TextBody, HtmlBody, ReplyTo, Tag, MessageStream and Metadata, as Postmark names them."""
        provider = make_provider(reply_to="support@example.com", tag="alerts")
        message = Message(
            recipient=postmark.TO,
            text="plain",
            html="<p>rich</p>",
            subject="Hi",
            metadata=Metadata(idempotency_key="key-1"),
        )
        result = await send(provider, message)
        assert result.ok, result.error
        assert result.provider_message_id == "b7bc2f4a-e38e-4336-af7d-000000000001"
        assert postmark.received == [
            {
                "From": postmark.SENDER,
                "To": postmark.TO,
                "MessageStream": "outbound",
                "Subject": "Hi",
                "TextBody": "plain",
                "HtmlBody": "<p>rich</p>",
                "ReplyTo": "support@example.com",
                "Tag": "alerts",
                "Metadata": {"broadcastio_idempotency_key": "key-1"},
            }
        ]
        assert postmark.headers[0]["X-Postmark-Server-Token"] == postmark.SERVER_TOKEN
        assert postmark.headers[0]["Accept"] == "application/json"

    async def test_attachments(self, make_provider: MakeProvider, postmark: Any) -> None:
        """Attachments are Name, base64 Content and ContentType."""
        attachment = Attachment(filename="r.pdf", content=b"%PDF-1.4", mime_type="application/pdf")
        result = await send(make_provider(), Message(recipient=postmark.TO, text="x", attachments=(attachment,)))
        assert result.ok, result.error
        assert postmark.received[0]["Attachments"] == [
            {"Name": "r.pdf", "Content": base64.b64encode(b"%PDF-1.4").decode(), "ContentType": "application/pdf"}
        ]

    async def test_invalid_address_fails_without_request(self, make_provider: MakeProvider, postmark: Any) -> None:
        """Something that is not an email address is a permanent invalid_recipient, nothing is sent."""
        result = await send(make_provider(), Message(recipient="nobody", text="x"))
        assert result.error.code == ErrorCode.INVALID_RECIPIENT
        assert postmark.received == []


class TestErrors:
    async def test_300_on_address_is_invalid_recipient(self, make_provider: MakeProvider, postmark: Any) -> None:
        """ErrorCode 300 about the address is a permanent invalid_recipient."""
        postmark.reply(422, {"ErrorCode": 300, "Message": f"Error parsing 'To': Illegal email address '{postmark.TO}'"})
        result = await send(make_provider(), Message(recipient=postmark.TO, text="x"))
        assert result.error.code == ErrorCode.INVALID_RECIPIENT
        assert result.error.error_class is ErrorClass.PERMANENT
        assert postmark.TO not in result.error.message

    async def test_other_300_is_permanent(self, make_provider: MakeProvider, postmark: Any) -> None:
        """ErrorCode 300 about the content stays postmark.300."""
        postmark.reply(422, {"ErrorCode": 300, "Message": "Provide either email TextBody or HtmlBody or both."})
        result = await send(make_provider(), Message(recipient=postmark.TO, text="x"))
        assert result.error.code == "postmark.300"
        assert result.error.error_class is ErrorClass.PERMANENT

    async def test_406_inactive_recipient(self, make_provider: MakeProvider, postmark: Any) -> None:
        """An inactive (suppressed) recipient is permanent: another channel may still reach them."""
        postmark.reply(
            422,
            {
                "ErrorCode": 406,
                "Message": "You tried to send to recipient(s) that have been marked as inactive.",
            },
        )
        result = await send(make_provider(), Message(recipient=postmark.TO, text="x"))
        assert result.error.code == "postmark.406"
        assert result.error.error_class is ErrorClass.PERMANENT

    async def test_unknown_sender_signature_raises(self, make_provider: MakeProvider, postmark: Any) -> None:
        """The fake refuses a From that is not a sender signature (ErrorCode 400): a configuration error."""
        with pytest.raises(ConfigurationError, match="ErrorCode 400"):
            await send(make_provider(from_address="other@example.net"), Message(recipient=postmark.TO, text="x"))

    async def test_bad_token_raises(self, make_provider: MakeProvider, postmark: Any) -> None:
        """A wrong server token (401, ErrorCode 10) raises, without the token in the message."""
        with pytest.raises(ConfigurationError) as raised:
            await send(make_provider(server_token="wrong-token"), Message(recipient=postmark.TO, text="x"))
        assert "wrong-token" not in str(raised.value)
        assert postmark.SERVER_TOKEN not in str(raised.value)

    async def test_429_retry_after(self, make_provider: MakeProvider, postmark: Any) -> None:
        """429 is transient and honours Retry-After."""
        postmark.reply(429, {"ErrorCode": 429, "Message": "Rate limit exceeded"}, Retry_After="3")
        result = await send(make_provider(), Message(recipient=postmark.TO, text="x"))
        assert result.error.error_class is ErrorClass.TRANSIENT
        assert result.error.retry_after == 3.0

    @pytest.mark.parametrize("status", [500, 503])
    async def test_5xx_transient(self, make_provider: MakeProvider, postmark: Any, status: int) -> None:
        """Internal errors and maintenance are transient."""
        postmark.reply(status, "<html>down</html>")
        result = await send(make_provider(), Message(recipient=postmark.TO, text="x"))
        assert result.error.error_class is ErrorClass.TRANSIENT
        assert result.error.code == f"postmark.http_{status}"

    async def test_maintenance_code_transient(self, make_provider: MakeProvider, postmark: Any) -> None:
        """ErrorCode 100 (maintenance) is transient."""
        postmark.reply(503, {"ErrorCode": 100, "Message": "Maintenance"})
        result = await send(make_provider(), Message(recipient=postmark.TO, text="x"))
        assert result.error.code == "postmark.100"
        assert result.error.error_class is ErrorClass.TRANSIENT

    async def test_timeout_after_sending_is_ambiguous(self, make_provider: MakeProvider, postmark: Any) -> None:
        """No answer in time after the request went out: the mail may have been sent."""
        postmark.reply(200, {"ErrorCode": 0, "Message": "OK", "MessageID": "late"}, delay=1.0)
        result = await send(make_provider(timeout=0.2), Message(recipient=postmark.TO, text="x"))
        assert result.error.error_class is ErrorClass.AMBIGUOUS
        assert result.error.code == ErrorCode.TIMEOUT


class TestConfigAndHealth:
    def test_bad_settings_raise(self) -> None:
        """An empty token or a sender that is not an address is refused when built."""
        with pytest.raises(ConfigurationError):
            PostmarkProvider(server_token="", from_address="a@example.com")
        with pytest.raises(ConfigurationError):
            PostmarkProvider(server_token="t", from_address="nobody")

    def test_not_idempotent(self, make_provider: MakeProvider) -> None:
        """Postmark has no idempotency key, so the provider does not claim one."""
        assert make_provider().idempotent is False

    async def test_unhealthy_with_wrong_token(self, make_provider: MakeProvider) -> None:
        provider = make_provider(server_token="wrong")
        try:
            health = await provider.health()
        finally:
            await provider.aclose()
        assert not health.healthy
