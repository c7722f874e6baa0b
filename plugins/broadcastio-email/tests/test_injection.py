"""Header injection: CR/LF (and other line breaks) in any header is refused before any SMTP command."""

from __future__ import annotations

import msgspec
import pytest
from broadcastio import Attachment, InvalidMessageError, Message, Metadata, Recipient
from broadcastio_email import EmailProvider

from .conftest import FROM, TO, SmtpServer


def provider(server: SmtpServer) -> EmailProvider:
    return EmailProvider(host="127.0.0.1", port=server.port, tls="none", from_address=FROM, local_hostname="c.test")


def forced(struct: msgspec.Struct, **values: object) -> None:
    """Set fields past the models' own validation, as a buggy or hostile caller could."""
    for name, value in values.items():
        msgspec.structs.force_setattr(struct, name, value)


INJECTIONS = ["x\r\nBcc: victim@example.net", "x\nBcc: victim@example.net", "x\rBcc: v", "x\u2028Bcc: v", "x\x0bBcc: v"]


class TestSubject:
    def test_core_refuses_crlf_subject_at_construction(self) -> None:
        """The Message model already refuses a subject with CR/LF."""
        with pytest.raises(InvalidMessageError, match="subject"):
            Message(recipient=TO, text="t", subject="hi\r\nBcc: victim@example.net")

    @pytest.mark.parametrize("subject", INJECTIONS)
    async def test_provider_refuses_subject_injection(self, smtp_server: SmtpServer, subject: str) -> None:
        """Even past the model's check, the provider refuses it and the server sees no connection."""
        message = Message(recipient=TO, text="t", subject="ok")
        forced(message, subject=subject)
        with pytest.raises(InvalidMessageError, match="Subject"):
            await provider(smtp_server).send(message, TO)
        assert smtp_server.handler.commands == []
        assert smtp_server.handler.received == []


class TestAttachmentFilename:
    def test_core_refuses_crlf_filename_at_construction(self) -> None:
        """The Attachment model already refuses a file name with CR/LF."""
        with pytest.raises(InvalidMessageError, match="filename"):
            Attachment(filename="a.txt\r\nX-Evil: 1", content=b"x")

    @pytest.mark.parametrize("filename", ["a.txt\r\nX-Evil: 1", "a.txt\nContent-Type: text/html", "a\u2029.txt"])
    async def test_provider_refuses_filename_injection(self, smtp_server: SmtpServer, filename: str) -> None:
        """An injected attachment file name is refused and nothing reaches the server."""
        attachment = Attachment(filename="a.txt", content=b"data")
        forced(attachment, filename=filename)
        message = Message(recipient=TO, text="t", attachments=(attachment,))
        with pytest.raises(InvalidMessageError, match="attachment filename"):
            await provider(smtp_server).send(message, TO)
        assert smtp_server.handler.commands == []


class TestOtherHeaders:
    @pytest.mark.parametrize("value", INJECTIONS)
    async def test_custom_header_value_injection(self, smtp_server: SmtpServer, value: str) -> None:
        """A custom header value with a line break is refused, naming the header."""
        message = Message(recipient=TO, text="t", metadata=Metadata(extra={"email_headers": {"X-Campaign": value}}))
        with pytest.raises(InvalidMessageError, match="X-Campaign"):
            await provider(smtp_server).send(message, TO)
        assert smtp_server.handler.commands == []

    @pytest.mark.parametrize("name", ["X-Bad\r\nBcc", "X Bad", "X:Bad", "", "Ünicode"])
    async def test_custom_header_name_must_be_a_field_name(self, smtp_server: SmtpServer, name: str) -> None:
        """A custom header name that is not an RFC 5322 field name is refused."""
        message = Message(recipient=TO, text="t", metadata=Metadata(extra={"email_headers": {name: "v"}}))
        with pytest.raises(InvalidMessageError, match="header name"):
            await provider(smtp_server).send(message, TO)

    @pytest.mark.parametrize("name", ["Bcc", "to", "From", "Content-Type", "X-Broadcastio-Idempotency-Key"])
    async def test_custom_headers_cannot_override_provider_headers(self, smtp_server: SmtpServer, name: str) -> None:
        """email_headers cannot set recipients, sender, MIME structure or the idempotency key."""
        message = Message(recipient=TO, text="t", metadata=Metadata(extra={"email_headers": {name: "x@example.net"}}))
        with pytest.raises(InvalidMessageError, match="cannot be overridden"):
            await provider(smtp_server).send(message, TO)

    async def test_recipient_display_name_injection(self, smtp_server: SmtpServer) -> None:
        """A line break in the recipient's display name is refused (To header)."""
        message = Message(recipient=Recipient(email=TO, name="Bob\r\nBcc: victim@example.net"), text="t")
        with pytest.raises(InvalidMessageError, match="To"):
            await provider(smtp_server).send(message, TO)
        assert smtp_server.handler.commands == []

    @pytest.mark.parametrize(
        "address", ["bob@example.org\r\nRCPT TO:<v@x.net>", "bob@example.org, eve@example.net", "not-an-address", "a@"]
    )
    async def test_bad_recipient_address(self, smtp_server: SmtpServer, address: str) -> None:
        """A malformed or multiple recipient address is invalid input, refused before connecting."""
        with pytest.raises(InvalidMessageError, match="recipient address"):
            await provider(smtp_server).send(Message(recipient=TO, text="t"), address)
        assert smtp_server.handler.commands == []

    async def test_idempotency_key_injection(self, smtp_server: SmtpServer) -> None:
        """The idempotency key goes into a header, so it is checked as well."""
        message = Message(recipient=TO, text="t")
        forced(message.metadata, idempotency_key="k\r\nBcc: v@x.net")
        with pytest.raises(InvalidMessageError, match="Idempotency"):
            await provider(smtp_server).send(message, TO)
