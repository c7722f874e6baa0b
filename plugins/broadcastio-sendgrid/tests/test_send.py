"""Sending through the local SendGrid stand-in: wire shape, results and error mapping."""

from __future__ import annotations

import base64
from collections.abc import Callable
from typing import Any

import pytest
from broadcastio import Attachment, ConfigurationError, ErrorClass, ErrorCode, Message
from broadcastio_sendgrid import SendGridProvider

MakeProvider = Callable[..., SendGridProvider]


async def send(provider: SendGridProvider, message: Message, address: str | None = None) -> Any:
    try:
        return await provider.send(message, address or str(message.recipient))
    finally:
        await provider.aclose()


class TestRequest:
    async def test_mail_send_body(self, make_provider: MakeProvider, sendgrid: Any) -> None:
        """The body has personalizations, from with name, subject, text then html content, and reply_to."""
        provider = make_provider(reply_to="support@example.com")
        message = Message(recipient=sendgrid.TO, text="plain", html="<p>rich</p>", subject="Hi")
        result = await send(provider, message)
        assert result.ok, result.error
        assert result.provider_message_id == "sgmsg000001"
        assert sendgrid.received == [
            {
                "personalizations": [{"to": [{"email": sendgrid.TO}]}],
                "from": {"email": "alerts@example.com", "name": "Alerts"},
                "subject": "Hi",
                "content": [{"type": "text/plain", "value": "plain"}, {"type": "text/html", "value": "<p>rich</p>"}],
                "reply_to": {"email": "support@example.com"},
            }
        ]
        headers = sendgrid.headers[0]
        assert headers["Authorization"] == f"Bearer {sendgrid.API_KEY}"
        assert headers["Content-Type"].startswith("application/json")

    async def test_attachments_are_base64(self, make_provider: MakeProvider, sendgrid: Any) -> None:
        """Attachments travel base64-encoded with filename, type and disposition."""
        attachment = Attachment(filename="report.csv", content=b"a,b\n1,2\n", mime_type="text/csv")
        message = Message(recipient=sendgrid.TO, text="see attached", attachments=(attachment,))
        result = await send(make_provider(), message)
        assert result.ok, result.error
        sent = sendgrid.received[0]["attachments"]
        assert sent == [
            {
                "content": base64.b64encode(b"a,b\n1,2\n").decode(),
                "filename": "report.csv",
                "type": "text/csv",
                "disposition": "attachment",
            }
        ]

    async def test_default_subject(self, make_provider: MakeProvider, sendgrid: Any) -> None:
        """A message without a subject gets default_subject (SendGrid requires one)."""
        result = await send(make_provider(default_subject="Notice"), Message(recipient=sendgrid.TO, text="x"))
        assert result.ok, result.error
        assert sendgrid.received[0]["subject"] == "Notice"

    async def test_invalid_address_fails_without_request(self, make_provider: MakeProvider, sendgrid: Any) -> None:
        """Something that is not an email address is a permanent invalid_recipient, nothing is sent."""
        result = await send(make_provider(), Message(recipient="not-an-address", text="x"))
        assert result.error.code == ErrorCode.INVALID_RECIPIENT
        assert result.error.error_class is ErrorClass.PERMANENT
        assert "not-an-address" not in result.error.message
        assert sendgrid.received == []


class TestErrors:
    async def test_recipient_field_error_is_invalid_recipient(self, make_provider: MakeProvider, sendgrid: Any) -> None:
        """A 400 about personalizations.N.to.N.email is invalid_recipient, and the address is masked."""
        sendgrid.reply(
            400,
            {
                "errors": [
                    {"message": f"Invalid email {sendgrid.TO}", "field": "personalizations.0.to.0.email", "help": None}
                ]
            },
        )
        result = await send(make_provider(), Message(recipient=sendgrid.TO, text="x"))
        assert result.error.code == ErrorCode.INVALID_RECIPIENT
        assert result.error.error_class is ErrorClass.PERMANENT
        assert sendgrid.TO not in result.error.message
        assert "a***@example.org" in result.error.message

    async def test_other_400_is_permanent(self, make_provider: MakeProvider, sendgrid: Any) -> None:
        """A validation error from the fake (empty subject) is permanent sendgrid.400 naming the field."""
        provider = make_provider()
        provider.default_subject = ""
        result = await send(provider, Message(recipient=sendgrid.TO, text="x"))
        assert result.error.code == "sendgrid.400"
        assert result.error.error_class is ErrorClass.PERMANENT
        assert "subject" in result.error.message

    async def test_413_is_permanent(self, make_provider: MakeProvider, sendgrid: Any) -> None:
        """Payload too large cannot be fixed by retrying."""
        sendgrid.reply(413, {"errors": [{"message": "Payload Too Large", "field": None, "help": None}]})
        result = await send(make_provider(), Message(recipient=sendgrid.TO, text="x"))
        assert result.error.code == "sendgrid.413"
        assert result.error.error_class is ErrorClass.PERMANENT

    async def test_429_retry_after(self, make_provider: MakeProvider, sendgrid: Any) -> None:
        """429 is transient and honours Retry-After."""
        sendgrid.reply(429, {"errors": [{"message": "too many requests", "field": None}]}, Retry_After="7")
        result = await send(make_provider(), Message(recipient=sendgrid.TO, text="x"))
        assert result.error.error_class is ErrorClass.TRANSIENT
        assert result.error.code == "sendgrid.429"
        assert result.error.retry_after == 7.0

    async def test_429_rate_limit_reset(self, make_provider: MakeProvider, sendgrid: Any) -> None:
        """Without Retry-After, X-RateLimit-Reset (epoch seconds) gives the wait."""
        sendgrid.reply(
            429, {"errors": [{"message": "too many requests"}]}, X_RateLimit_Reset="1000012", X_RateLimit_Remaining="0"
        )
        provider = make_provider()
        provider._now = lambda: 1000000.0
        result = await send(provider, Message(recipient=sendgrid.TO, text="x"))
        assert result.error.error_class is ErrorClass.TRANSIENT
        assert result.error.retry_after == 12.0

    @pytest.mark.parametrize("status", [500, 502, 503])
    async def test_5xx_is_transient(self, make_provider: MakeProvider, sendgrid: Any, status: int) -> None:
        """SendGrid's own failures are worth another try."""
        sendgrid.reply(status, "<html>oops</html>")
        result = await send(make_provider(), Message(recipient=sendgrid.TO, text="x"))
        assert result.error.error_class is ErrorClass.TRANSIENT
        assert result.error.code == f"sendgrid.{status}"

    @pytest.mark.parametrize("status", [401, 403])
    async def test_refused_key_raises(self, make_provider: MakeProvider, sendgrid: Any, status: int) -> None:
        """A refused key is a configuration error, and the key is not in its message."""
        sendgrid.reply(status, {"errors": [{"message": "access forbidden", "field": None}]})
        with pytest.raises(ConfigurationError) as raised:
            await send(make_provider(), Message(recipient=sendgrid.TO, text="x"))
        assert sendgrid.API_KEY not in str(raised.value)

    async def test_wrong_key_against_the_fake_raises(self, make_provider: MakeProvider, sendgrid: Any) -> None:
        """The fake checks the Bearer key as SendGrid does: a wrong one is refused."""
        with pytest.raises(ConfigurationError):
            await send(make_provider(api_key="SG.wrong"), Message(recipient=sendgrid.TO, text="x"))

    async def test_timeout_after_sending_is_ambiguous(self, make_provider: MakeProvider, sendgrid: Any) -> None:
        """No answer in time after the request went out: the mail may have been sent."""
        sendgrid.reply(202, None, delay=1.0)
        result = await send(make_provider(timeout=0.2), Message(recipient=sendgrid.TO, text="x"))
        assert result.error.error_class is ErrorClass.AMBIGUOUS
        assert result.error.code == ErrorCode.TIMEOUT


class TestConfigAndHealth:
    def test_bad_settings_raise(self) -> None:
        """Empty key or a sender that is not an address is refused when the provider is built."""
        with pytest.raises(ConfigurationError):
            SendGridProvider(api_key="", from_address="a@example.com")
        with pytest.raises(ConfigurationError) as raised:
            SendGridProvider(api_key="SG.x", from_address="nobody here")
        assert "nobody here" not in str(raised.value)

    def test_not_idempotent(self, make_provider: MakeProvider) -> None:
        """Mail Send has no idempotency key, so the provider does not claim one."""
        assert make_provider().idempotent is False

    async def test_healthy(self, make_provider: MakeProvider) -> None:
        provider = make_provider()
        try:
            health = await provider.health()
        finally:
            await provider.aclose()
        assert health.healthy, health.detail

    async def test_unhealthy_without_mail_send_scope(self, make_provider: MakeProvider, sendgrid: Any) -> None:
        """A key that may not send mail is unhealthy."""
        sendgrid.scopes = ["user.profile.read"]
        provider = make_provider()
        try:
            health = await provider.health()
        finally:
            await provider.aclose()
        assert not health.healthy
        assert "mail.send" in health.detail

    async def test_unhealthy_with_wrong_key(self, make_provider: MakeProvider) -> None:
        provider = make_provider(api_key="SG.wrong")
        try:
            health = await provider.health()
        finally:
            await provider.aclose()
        assert not health.healthy
        assert "SG.wrong" not in health.detail
