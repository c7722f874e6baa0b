"""Delivery against a real aiosmtpd server: what arrives is what was sent."""

from __future__ import annotations

from broadcastio import Attachment, Message, Metadata, Recipient
from broadcastio_email import IDEMPOTENCY_HEADER, EmailProvider

from .conftest import FROM, PASSWORD, TO, USERNAME, ServerFactory, SmtpServer

PDF = b"%PDF-1.4\x00\x01\x02\xff binary \r\n. not a line end\n"


def plain_provider(server: SmtpServer, **settings: object) -> EmailProvider:
    options: dict[str, object] = {"tls": "none", "from_address": FROM, "local_hostname": "client.test"}
    options.update(settings)
    return EmailProvider(host="127.0.0.1", port=server.port, **options)  # type: ignore[arg-type]


class TestDelivery:
    async def test_attachment_subject_body_and_idempotency_header_arrive(self, smtp_server: SmtpServer) -> None:
        """The server receives the subject, text body, attachment bytes and idempotency header."""
        message = Message(
            recipient=TO,
            subject="Disk almost full ✓",
            text="Usage is at 93 %.\n.leading dot line\nünïcode",
            attachments=(Attachment(filename="report.pdf", content=PDF, mime_type="application/pdf"),),
            metadata=Metadata(idempotency_key="order-42-alert"),
        )
        result = await plain_provider(smtp_server).send(message, TO)

        assert result.ok, result.error
        [received] = smtp_server.handler.received
        assert received.mail_from == "alerts@example.com"
        assert received.rcpt_tos == [TO]
        mail = received.message
        assert mail["Subject"] == "Disk almost full ✓"
        assert mail["From"] == FROM
        assert mail["To"] == TO
        assert mail[IDEMPOTENCY_HEADER] == "order-42-alert"
        assert mail["Message-ID"] == result.provider_message_id
        body = mail.get_body(preferencelist=("plain",))
        assert body is not None
        assert body.get_content().replace("\r\n", "\n") == "Usage is at 93 %.\n.leading dot line\nünïcode\n"
        [attachment] = list(mail.iter_attachments())
        assert attachment.get_filename() == "report.pdf"
        assert attachment.get_content_type() == "application/pdf"
        assert attachment.get_content() == PDF

    async def test_html_alternative_and_reply_to(self, smtp_server: SmtpServer) -> None:
        """With html set, the email is multipart/alternative with both parts; Reply-To is set."""
        message = Message(recipient=TO, subject="Report", text="plain version", html="<p>html version</p>")
        provider = plain_provider(smtp_server, reply_to="ops@example.com")
        result = await provider.send(message, TO)

        assert result.ok, result.error
        mail = smtp_server.handler.received[0].message
        assert mail.get_content_type() == "multipart/alternative"
        plain = mail.get_body(preferencelist=("plain",))
        html = mail.get_body(preferencelist=("html",))
        assert plain is not None
        assert plain.get_content().strip() == "plain version"
        assert html is not None
        assert html.get_content().strip() == "<p>html version</p>"
        assert mail["Reply-To"] == "ops@example.com"

    async def test_html_only_and_recipient_display_name(self, smtp_server: SmtpServer) -> None:
        """A message with only html is sent as text/html; the recipient's name is in To."""
        recipient = Recipient(email=TO, name="Bob Example")
        message = Message(recipient=recipient, text="", html="<b>only html</b>")
        result = await plain_provider(smtp_server).send(message, TO)

        assert result.ok, result.error
        mail = smtp_server.handler.received[0].message
        assert mail.get_content_type() == "text/html"
        assert mail["To"] == f"Bob Example <{TO}>"

    async def test_custom_headers_are_added(self, smtp_server: SmtpServer) -> None:
        """metadata.extra['email_headers'] adds headers to the email."""
        extra = {"email_headers": {"X-Campaign": "spring", "List-Unsubscribe": "<mailto:unsub@example.com>"}}
        message = Message(recipient=TO, text="hi", metadata=Metadata(extra=extra))
        result = await plain_provider(smtp_server).send(message, TO)

        assert result.ok, result.error
        mail = smtp_server.handler.received[0].message
        assert mail["X-Campaign"] == "spring"
        assert mail["List-Unsubscribe"] == "<mailto:unsub@example.com>"

    async def test_same_idempotency_key_gives_same_message_id(self, smtp_server: SmtpServer) -> None:
        """A repeated send of one message carries the same Message-ID, so receivers can drop the copy."""
        provider = plain_provider(smtp_server)
        message = Message(recipient=TO, text="once", metadata=Metadata(idempotency_key="k-1"))
        first = await provider.send(message, TO)
        second = await provider.send(message, TO)
        other = await provider.send(Message(recipient=TO, text="other"), TO)

        assert first.provider_message_id == second.provider_message_id
        assert first.provider_message_id != other.provider_message_id
        ids = [received.message["Message-ID"] for received in smtp_server.handler.received]
        assert ids == [first.provider_message_id, first.provider_message_id, other.provider_message_id]
        assert first.provider_message_id is not None
        assert first.provider_message_id.endswith("@example.com>")

    async def test_declared_size_lets_the_server_refuse_early(self, smtp_server: SmtpServer) -> None:
        """When the server offers SIZE, MAIL FROM declares the message size."""
        result = await plain_provider(smtp_server).send(Message(recipient=TO, text="sized"), TO)
        assert result.ok, result.error
        [options] = smtp_server.handler.mail_options
        assert any(option.upper().startswith("SIZE=") for option in options), options

    async def test_concurrent_sends_each_arrive_once(self, smtp_server: SmtpServer) -> None:
        """Concurrent sends through one provider use separate connections and all arrive."""
        import asyncio

        provider = plain_provider(smtp_server)
        messages = [Message(recipient=TO, text=f"n{i}", subject=f"s{i}") for i in range(20)]
        results = await asyncio.gather(*(provider.send(message, TO) for message in messages))

        assert all(result.ok for result in results)
        subjects = sorted(received.message["Subject"] for received in smtp_server.handler.received)
        assert subjects == sorted(f"s{i}" for i in range(20))


class TestAuth:
    async def test_login_then_deliver(self, smtp_server_factory: ServerFactory) -> None:
        """With username and password, the provider logs in and the server sees an authenticated session."""
        server = smtp_server_factory(auth=True)
        provider = plain_provider(server, username=USERNAME, password=PASSWORD)
        result = await provider.send(Message(recipient=TO, text="authenticated"), TO)

        assert result.ok, result.error
        assert server.handler.received[0].authenticated
