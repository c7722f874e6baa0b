"""Turn a broadcastio Message into RFC 5322 bytes, refusing header injection.

Everything that ends up in a header (subject, addresses, attachment file
names, custom headers) is checked here, before any connection is opened: a
CR, LF or other line break in one is invalid input and raises
:class:`~broadcastio.InvalidMessageError` naming the header. The
``email`` package's SMTP policy would refuse most of these too; checking
first gives a clear message and also catches the Unicode line separators.
"""

from __future__ import annotations

import datetime as dt
import email.policy
import email.utils
import hashlib
from collections.abc import Mapping
from email.headerregistry import Address
from email.message import EmailMessage, MIMEPart

from broadcastio import Attachment, InvalidMessageError, Message, Recipient
from msgspec import Struct

from broadcastio_email._addresses import check_header_text, parse_mailbox

__all__ = ["IDEMPOTENCY_HEADER", "PROTECTED_HEADERS", "AttachmentParts", "ComposedEmail", "compose", "estimated_size"]

IDEMPOTENCY_HEADER = "X-Broadcastio-Idempotency-Key"

PROTECTED_HEADERS = frozenset(
    name.lower()
    for name in (
        "From",
        "Sender",
        "To",
        "Cc",
        "Bcc",
        "Reply-To",
        "Subject",
        "Date",
        "Message-ID",
        "MIME-Version",
        "Return-Path",
        "Received",
        IDEMPOTENCY_HEADER,
    )
)
"""Headers the provider sets itself; ``email_headers`` may not override them
(nor any ``Content-*`` header)."""

# RFC 5322 field names: printable ASCII except the colon.
_FIELD_NAME_CHARS = frozenset(chr(code) for code in range(33, 127)) - {":"}
_CONTAINER_TYPES = ("multipart", "message")

_POLICY = email.policy.SMTP.clone(cte_type="7bit")
"""CRLF line ends, and 7-bit output (quoted-printable or base64 bodies,
RFC 2047 headers) so no server extension (8BITMIME, SMTPUTF8) is needed."""


class ComposedEmail(Struct, frozen=True, kw_only=True):
    """What one send puts on the wire: envelope addresses and the message bytes."""

    sender: str
    recipient: str
    message_id: str
    data: bytes


def _refuse(header: str, reason: str) -> InvalidMessageError:
    return InvalidMessageError(f"email header {header}: {reason}; refused before any SMTP command")


def _checked(header: str, value: str) -> str:
    if not isinstance(value, str):
        raise _refuse(header, f"must be a string, got {type(value).__name__}")
    reason = check_header_text(value)
    if reason is not None:
        raise _refuse(header, reason)
    return value


def message_id_for(idempotency_key: str, recipient: str, domain: str) -> str:
    """A Message-ID derived from the idempotency key and the recipient.

    A repeated send of the same message (after an ambiguous failure) carries
    the same Message-ID, so receivers that drop duplicate Message-IDs show
    it once. The key itself may hold any character, so it is hashed.
    """
    digest = hashlib.sha256(f"{idempotency_key}\x00{recipient}".encode()).hexdigest()[:40]
    return f"<broadcastio.{digest}@{domain}>"


def _recipient_address(message: Message, address: str) -> Address:
    try:
        parsed = parse_mailbox(address, allow_display_name=False)
    except ValueError as exc:
        raise _refuse("To", f"recipient address {exc}") from None
    name = message.recipient.name if isinstance(message.recipient, Recipient) else None
    if name:
        _checked("To", name)
        return Address(display_name=name, username=parsed.username, domain=parsed.domain)
    return parsed


def _custom_headers(message: Message) -> Mapping[str, str]:
    headers = message.metadata.extra.get("email_headers")
    if headers is None:
        return {}
    if not isinstance(headers, Mapping):
        raise InvalidMessageError(
            f"metadata.extra['email_headers'] must be a mapping of header name to value, got {type(headers).__name__}"
        )
    for name, value in headers.items():
        if not isinstance(name, str) or not name or not set(name) <= _FIELD_NAME_CHARS:
            raise _refuse(repr(name), "is not a valid header name (printable ASCII without ':' or spaces)")
        lowered = name.lower()
        if lowered in PROTECTED_HEADERS or lowered.startswith("content-"):
            raise _refuse(name, "is set by the email provider and cannot be overridden through email_headers")
        _checked(name, value)
    return headers


def _add_body(mail: EmailMessage, message: Message) -> None:
    if message.text or not message.html:
        mail.set_content(message.text)
        if message.html:
            mail.add_alternative(message.html, subtype="html")
    else:
        mail.set_content(message.html or "", subtype="html")


class AttachmentParts:
    """Base64 MIME parts of recent attachments, encoded once and shared by every email.

    A campaign sends the same attachment object to every recipient; encoding
    it per message cost one base64 copy per message in flight. Entries keep
    their content alive, so an ``id`` is never reused while it is cached.
    """

    def __init__(self, size: int = 8) -> None:
        self._size = size
        self._parts: dict[tuple[int, str, str], tuple[Attachment, MIMEPart]] = {}

    def part(self, attachment: Attachment) -> MIMEPart:
        key = (id(attachment.content), attachment.filename, attachment.mime_type)
        cached = self._parts.get(key)
        if cached is not None and cached[0].content is attachment.content:
            return cached[1]
        maintype, _, subtype = attachment.mime_type.partition("/")
        if not maintype or not subtype or maintype.lower() in _CONTAINER_TYPES:
            # multipart/* and message/* cannot be sent as opaque base64 parts.
            maintype, subtype = "application", "octet-stream"
        part = MIMEPart(policy=_POLICY)
        part.set_content(
            attachment.content, maintype=maintype, subtype=subtype, disposition="attachment", filename=attachment.filename
        )
        if self._size > 0:
            if len(self._parts) >= self._size:
                self._parts.pop(next(iter(self._parts)))
            self._parts[key] = (attachment, part)
        return part


def _add_attachments(mail: EmailMessage, message: Message, parts: AttachmentParts) -> None:
    if not message.attachments:
        return
    for attachment in message.attachments:
        _checked("Content-Disposition (attachment filename)", attachment.filename)
        _checked("Content-Type (attachment mime_type)", attachment.mime_type)
    mail.make_mixed()
    for attachment in message.attachments:
        mail.attach(parts.part(attachment))


def estimated_size(message: Message) -> int:
    """Roughly the bytes the built email takes: text, html, and base64 (4/3) attachments."""
    body = len(message.text) + len(message.html or "")
    return body + sum(len(a.content) * 4 // 3 for a in message.attachments) + 4096


def compose(
    message: Message,
    address: str,
    *,
    from_address: Address,
    reply_to: Address | None = None,
    parts: AttachmentParts | None = None,
) -> ComposedEmail:
    """Build the email for ``message`` to ``address``; raises InvalidMessageError."""
    to = _recipient_address(message, address)
    subject = _checked("Subject", message.subject or "")
    custom = _custom_headers(message)
    key = _checked(IDEMPOTENCY_HEADER, message.metadata.idempotency_key)
    message_id = message_id_for(key, to.addr_spec, from_address.domain)

    mail = EmailMessage(policy=_POLICY)
    try:
        mail["From"] = from_address
        mail["To"] = to
        if reply_to is not None:
            mail["Reply-To"] = reply_to
        mail["Subject"] = subject
        mail["Date"] = email.utils.format_datetime(dt.datetime.now(dt.UTC))
        mail["Message-ID"] = message_id
        mail[IDEMPOTENCY_HEADER] = key
        for name, value in custom.items():
            mail[name] = value
        _add_body(mail, message)
        _add_attachments(mail, message, parts or AttachmentParts(size=0))
        data = mail.as_bytes(policy=_POLICY)
    except (ValueError, TypeError) as exc:  # second line of defence: the email package refused a header
        raise InvalidMessageError(f"email message could not be built: {exc}") from exc
    return ComposedEmail(sender=from_address.addr_spec, recipient=to.addr_spec, message_id=message_id, data=data)
