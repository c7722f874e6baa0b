"""Sending through the local Mailgun stand-in: multipart shape, results and error mapping."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from broadcastio import Attachment, ConfigurationError, ErrorClass, ErrorCode, Message, Metadata
from broadcastio_mailgun import MailgunProvider

MakeProvider = Callable[..., MailgunProvider]


async def send(provider: MailgunProvider, message: Message) -> Any:
    try:
        return await provider.send(message, str(message.recipient))
    finally:
        await provider.aclose()


class TestRequest:
    async def test_multipart_fields(self, make_provider: MakeProvider, mailgun: Any) -> None:
        """from, to, subject, text, html, h:Reply-To, o:tag and the key as a v: variable, as multipart/form-data."""
        provider = make_provider(reply_to="support@example.com", tags=["alerts"])
        message = Message(
            recipient=mailgun.TO,
            subject="Hi",
            text="plain",
            html="<p>rich</p>",
            metadata=Metadata(idempotency_key="k1"),
        )
        result = await send(provider, message)
        assert result.ok, result.error
        assert result.provider_message_id == "<20261201210000.1.1@mg.example.com>"
        received = mailgun.received[0]
        assert received.content_type == "multipart/form-data"
        assert received.fields == [
            ("from", mailgun.SENDER),
            ("to", mailgun.TO),
            ("subject", "Hi"),
            ("text", "plain"),
            ("html", "<p>rich</p>"),
            ("h:Reply-To", "support@example.com"),
            ("o:tag", "alerts"),
            ("v:broadcastio-idempotency-key", "k1"),
        ]
        assert received.files == []

    async def test_attachments_are_files(self, make_provider: MakeProvider, mailgun: Any) -> None:
        """Each attachment is an ``attachment`` file part with its name and type."""
        attachments = (
            Attachment(filename="a.csv", content=b"1,2", mime_type="text/csv"),
            Attachment(filename="b.png", content=b"\x89PNG", mime_type="image/png"),
        )
        result = await send(make_provider(), Message(recipient=mailgun.TO, text="x", attachments=attachments))
        assert result.ok, result.error
        assert mailgun.received[0].files == [
            ("attachment", "a.csv", "text/csv", b"1,2"),
            ("attachment", "b.png", "image/png", b"\x89PNG"),
        ]

    async def test_invalid_address_fails_without_request(self, make_provider: MakeProvider, mailgun: Any) -> None:
        result = await send(make_provider(), Message(recipient="nobody", text="x"))
        assert result.error.code == ErrorCode.INVALID_RECIPIENT
        assert mailgun.received == []


class TestErrors:
    async def test_bad_to_is_invalid_recipient(self, make_provider: MakeProvider, mailgun: Any) -> None:
        """400 about the to parameter is a permanent invalid_recipient."""
        mailgun.reply(400, {"message": f"to parameter is not a valid address: {mailgun.TO}"})
        result = await send(make_provider(), Message(recipient=mailgun.TO, text="x"))
        assert result.error.code == ErrorCode.INVALID_RECIPIENT
        assert mailgun.TO not in result.error.message

    async def test_other_400_is_permanent(self, make_provider: MakeProvider, mailgun: Any) -> None:
        mailgun.reply(400, {"message": "Need at least one of 'text', 'html' or 'template' parameters specified"})
        result = await send(make_provider(), Message(recipient=mailgun.TO, text="x"))
        assert result.error.code == "mailgun.400"
        assert result.error.error_class is ErrorClass.PERMANENT

    async def test_413_is_permanent(self, make_provider: MakeProvider, mailgun: Any) -> None:
        mailgun.reply(413, {"message": "request entity too large"})
        result = await send(make_provider(), Message(recipient=mailgun.TO, text="x"))
        assert result.error.code == "mailgun.413"
        assert result.error.error_class is ErrorClass.PERMANENT

    async def test_429_retry_after(self, make_provider: MakeProvider, mailgun: Any) -> None:
        mailgun.reply(429, {"message": "Too many requests"}, Retry_After="4")
        result = await send(make_provider(), Message(recipient=mailgun.TO, text="x"))
        assert result.error.error_class is ErrorClass.TRANSIENT
        assert result.error.retry_after == 4.0

    @pytest.mark.parametrize("status", [500, 502, 503, 504])
    async def test_5xx_transient(self, make_provider: MakeProvider, mailgun: Any, status: int) -> None:
        mailgun.reply(status, "upstream error")
        result = await send(make_provider(), Message(recipient=mailgun.TO, text="x"))
        assert result.error.error_class is ErrorClass.TRANSIENT
        assert result.error.code == f"mailgun.{status}"

    async def test_wrong_key_raises(self, make_provider: MakeProvider, mailgun: Any) -> None:
        """The fake answers 401 Forbidden to a wrong key: a configuration error without the key in it."""
        with pytest.raises(ConfigurationError) as raised:
            await send(make_provider(api_key="key-wrong"), Message(recipient=mailgun.TO, text="x"))
        assert "key-wrong" not in str(raised.value)

    async def test_unknown_domain_raises(self, make_provider: MakeProvider, mailgun: Any) -> None:
        """404 for the domain (wrong domain or region) is a configuration error."""
        with pytest.raises(ConfigurationError, match="domain"):
            await send(make_provider(domain="other.example.com"), Message(recipient=mailgun.TO, text="x"))

    async def test_timeout_after_sending_is_ambiguous(self, make_provider: MakeProvider, mailgun: Any) -> None:
        mailgun.reply(200, {"id": "<late>", "message": "Queued. Thank you."}, delay=1.0)
        result = await send(make_provider(timeout=0.2), Message(recipient=mailgun.TO, text="x"))
        assert result.error.error_class is ErrorClass.AMBIGUOUS


class TestConfigAndHealth:
    def test_regions(self) -> None:
        """region picks the US or EU root; an unknown region raises."""
        assert MailgunProvider(api_key="k", domain="mg.example.com", from_address="a@b.co").base_url == (
            "https://api.mailgun.net"
        )
        with pytest.raises(ConfigurationError, match="region"):
            MailgunProvider(api_key="k", domain="mg.example.com", from_address="a@b.co", region="asia")
        with pytest.raises(ConfigurationError, match="domain"):
            MailgunProvider(api_key="k", domain="not a domain", from_address="a@b.co")

    def test_not_idempotent(self, make_provider: MakeProvider) -> None:
        assert make_provider().idempotent is False

    async def test_disabled_domain_is_unhealthy(self, make_provider: MakeProvider, mailgun: Any) -> None:
        mailgun.domain_state = "disabled"
        provider = make_provider()
        try:
            health = await provider.health()
        finally:
            await provider.aclose()
        assert not health.healthy
        assert "disabled" in health.detail

    async def test_wrong_key_is_unhealthy(self, make_provider: MakeProvider) -> None:
        provider = make_provider(api_key="key-wrong")
        try:
            health = await provider.health()
        finally:
            await provider.aclose()
        assert not health.healthy
