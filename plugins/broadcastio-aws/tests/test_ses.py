"""``ses`` against the local SES v2: request shape, results and error mapping."""

from __future__ import annotations

import base64
import email
import email.policy
from collections.abc import Callable
from typing import Any

import pytest
from broadcastio import Attachment, ConfigurationError, ErrorClass, ErrorCode, Message
from broadcastio_aws import SesProvider

MakeSes = Callable[..., SesProvider]


async def send(provider: SesProvider, message: Message) -> Any:
    try:
        return await provider.send(message, str(message.recipient))
    finally:
        await provider.aclose()


class TestRequest:
    async def test_simple_content(self, make_ses: MakeSes, ses: Any) -> None:
        """FromEmailAddress, Destination.ToAddresses, Content.Simple subject/text/html, reply-to, configuration set."""
        provider = make_ses(reply_to="support@example.com", configuration_set="alerts")
        message = Message(recipient=ses.TO, subject="Disk", text="97% full", html="<b>97%</b> full")
        result = await send(provider, message)
        assert result.ok, result.error
        assert result.provider_message_id == "0102018c-00000001-example-000000"
        assert ses.received == [
            {
                "FromEmailAddress": ses.SENDER,
                "Destination": {"ToAddresses": [ses.TO]},
                "Content": {
                    "Simple": {
                        "Subject": {"Data": "Disk", "Charset": "UTF-8"},
                        "Body": {
                            "Text": {"Data": "97% full", "Charset": "UTF-8"},
                            "Html": {"Data": "<b>97%</b> full", "Charset": "UTF-8"},
                        },
                    }
                },
                "ReplyToAddresses": ["support@example.com"],
                "ConfigurationSetName": "alerts",
            }
        ]

    async def test_attachments_go_as_raw_mime(self, make_ses: MakeSes, ses: Any) -> None:
        """With attachments, Content.Raw.Data is a base64 MIME message holding text, html and the files."""
        attachment = Attachment(filename="r.csv", content=b"a,b\n", mime_type="text/csv")
        message = Message(
            recipient=ses.TO, subject="Report", text="see file", html="<p>see</p>", attachments=(attachment,)
        )
        result = await send(make_ses(), message)
        assert result.ok, result.error
        raw = base64.b64decode(ses.received[0]["Content"]["Raw"]["Data"])
        parsed = email.message_from_bytes(raw, policy=email.policy.default)
        assert parsed["To"] == ses.TO
        assert parsed["Subject"] == "Report"
        assert parsed.get_body(("plain",)).get_content().strip() == "see file"
        assert parsed.get_body(("html",)).get_content().strip() == "<p>see</p>"
        files = list(parsed.iter_attachments())
        assert [(part.get_filename(), part.get_content_type(), part.get_content()) for part in files] == [
            ("r.csv", "text/csv", "a,b\n")
        ]
        assert ses.received[0]["Destination"] == {"ToAddresses": [ses.TO]}

    async def test_invalid_address_fails_without_request(self, make_ses: MakeSes, ses: Any) -> None:
        result = await send(make_ses(), Message(recipient="nobody", text="x"))
        assert result.error.code == ErrorCode.INVALID_RECIPIENT
        assert ses.received == []


class TestErrors:
    async def test_unverified_sender_is_message_rejected(self, make_ses: MakeSes, ses: Any) -> None:
        """The fake rejects an unverified From as SES does: permanent ses.MessageRejected, address masked."""
        result = await send(make_ses(from_address="other@example.net"), Message(recipient=ses.TO, text="x"))
        assert result.error.code == "ses.MessageRejected"
        assert result.error.error_class is ErrorClass.PERMANENT
        assert "other@example.net" not in result.error.message

    async def test_mail_from_not_verified_is_permanent(self, make_ses: MakeSes, ses: Any) -> None:
        ses.reply_error(400, "MailFromDomainNotVerifiedException", "MAIL FROM domain not verified")
        result = await send(make_ses(), Message(recipient=ses.TO, text="x"))
        assert result.error.code == "ses.MailFromDomainNotVerifiedException"
        assert result.error.error_class is ErrorClass.PERMANENT

    @pytest.mark.parametrize(("status", "name"), [(429, "TooManyRequestsException"), (400, "ThrottlingException")])
    async def test_throttling_is_transient(self, make_ses: MakeSes, ses: Any, status: int, name: str) -> None:
        ses.reply_error(status, name, "Maximum sending rate exceeded.", Retry_After="1")
        result = await send(make_ses(), Message(recipient=ses.TO, text="x"))
        assert result.error.code == f"ses.{name}"
        assert result.error.error_class is ErrorClass.TRANSIENT
        assert result.error.retry_after == 1.0

    async def test_5xx_is_transient(self, make_ses: MakeSes, ses: Any) -> None:
        ses.reply_error(500, "InternalFailure", "internal")
        result = await send(make_ses(), Message(recipient=ses.TO, text="x"))
        assert result.error.error_class is ErrorClass.TRANSIENT

    @pytest.mark.parametrize(
        "name", ["AccessDeniedException", "UnrecognizedClientException", "InvalidSignatureException"]
    )
    async def test_credential_errors_raise(self, make_ses: MakeSes, ses: Any, name: str, aws_keys: Any) -> None:
        ses.reply_error(403, name, "User is not authorized to perform ses:SendEmail")
        with pytest.raises(ConfigurationError, match=name) as raised:
            await send(make_ses(), Message(recipient=ses.TO, text="x"))
        assert aws_keys.SECRET_KEY not in str(raised.value)

    async def test_timeout_after_sending_is_ambiguous(self, make_ses: MakeSes, ses: Any) -> None:
        ses.reply(200, {"MessageId": "late"}, delay=1.0)
        result = await send(make_ses(timeout=0.2), Message(recipient=ses.TO, text="x"))
        assert result.error.error_class is ErrorClass.AMBIGUOUS


class TestHealth:
    async def test_paused_sending_is_unhealthy(self, make_ses: MakeSes, ses: Any) -> None:
        ses.sending_enabled = False
        provider = make_ses()
        try:
            health = await provider.health()
        finally:
            await provider.aclose()
        assert not health.healthy
        assert "paused" in health.detail

    async def test_bad_signature_is_unhealthy(self, make_ses: MakeSes) -> None:
        provider = make_ses(secret_access_key="wrong")
        try:
            health = await provider.health()
        finally:
            await provider.aclose()
        assert not health.healthy

    def test_not_idempotent(self, make_ses: MakeSes) -> None:
        assert make_ses().idempotent is False
