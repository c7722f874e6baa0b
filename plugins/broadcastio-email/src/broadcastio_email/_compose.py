"""Turn a broadcastio Message into RFC 5322 bytes, refusing header injection.

Everything that ends up in a header (subject, addresses, attachment file
names, custom headers) is checked here, before any connection is opened: a
CR, LF or other line break in one is invalid input and raises
:class:`~broadcastio.InvalidMessageError` naming the header. The
``email`` package's SMTP policy would refuse most of these too; checking
first gives a clear message and also catches the Unicode line separators.
"""

from __future__ import annotations

import base64
import datetime as dt
import email.policy
import email.utils
import hashlib
import secrets
from collections.abc import Mapping
from email.headerregistry import Address
from email.message import EmailMessage

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


Chunk = bytes | bytearray
"""A piece of an email on the wire: shared attachment bodies stay bytearrays, never copied."""


class ComposedEmail(Struct, frozen=True, kw_only=True):
    """What one send puts on the wire: envelope addresses and the message content.

    ``pieces`` are the message in order, each ``(bytes, needs dot-stuffing)``:
    the shared base64 attachment bodies are kept as they are, never copied
    into one message-sized buffer unless :attr:`data` is asked for.
    """

    sender: str
    recipient: str
    message_id: str
    pieces: tuple[tuple[Chunk, bool], ...]

    @property
    def size(self) -> int:
        return sum(len(piece) for piece, _ in self.pieces)

    @property
    def data(self) -> bytes:
        """The whole message as one bytes object (small messages, tests)."""
        return b"".join(piece for piece, _ in self.pieces)


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
    """Base64 bodies of recent attachments, encoded once and shared by every email.

    A campaign sends the same attachment object to every recipient. Encoding
    it per message through the email package cost seconds of CPU and one
    base64 copy per message in flight, so each attachment's body is encoded
    once (base64, 76-character CRLF lines, as the email package writes it)
    and spliced into every email in place of a placeholder part. Base64 has
    no line starting with ``.``, so the spliced body needs no dot-stuffing.
    Entries keep their content alive, so an ``id`` is never reused while cached.
    """

    def __init__(self, size: int = 8) -> None:
        self._size = size
        self._bodies: dict[tuple[int, str, str], tuple[Attachment, bytearray]] = {}

    def holds(self, attachment: Attachment) -> bool:
        """Whether the body of ``attachment`` is already encoded."""
        cached = self._bodies.get((id(attachment.content), attachment.filename, attachment.mime_type))
        return cached is not None and cached[0].content is attachment.content

    def body(self, attachment: Attachment) -> bytearray:
        key = (id(attachment.content), attachment.filename, attachment.mime_type)
        cached = self._bodies.get(key)
        if cached is not None and cached[0].content is attachment.content:
            return cached[1]
        encoded = _base64_lines(attachment.content)
        if self._size > 0:
            if len(self._bodies) >= self._size:
                self._bodies.pop(next(iter(self._bodies)))
            self._bodies[key] = (attachment, encoded)
        return encoded


def _base64_lines(content: bytes) -> bytearray:
    """Base64 in 76-character CRLF lines (RFC 2045), built without intermediate copies of the whole."""
    encoded = memoryview(base64.b64encode(content))
    lines = bytearray()
    for offset in range(0, len(encoded), 76):
        lines += encoded[offset : offset + 76]
        lines += b"\r\n"
    return lines


def _add_attachments(mail: EmailMessage, message: Message) -> list[tuple[bytes, Attachment]]:
    """Attach a placeholder part per attachment; returns (placeholder, attachment) pairs to splice."""
    if not message.attachments:
        return []
    for attachment in message.attachments:
        _checked("Content-Disposition (attachment filename)", attachment.filename)
        _checked("Content-Type (attachment mime_type)", attachment.mime_type)
    mail.make_mixed()
    placeholders = []
    for attachment in message.attachments:
        maintype, _, subtype = attachment.mime_type.partition("/")
        if not maintype or not subtype or maintype.lower() in _CONTAINER_TYPES:
            # multipart/* and message/* cannot be sent as opaque base64 parts.
            maintype, subtype = "application", "octet-stream"
        part = EmailMessage(policy=_POLICY)
        part.set_content(
            b"", maintype=maintype, subtype=subtype, disposition="attachment", filename=attachment.filename
        )
        token = f"broadcastio-attachment-{secrets.token_hex(16)}"
        part.set_payload(token + "\r\n")
        mail.attach(part)
        placeholders.append(((token + "\r\n").encode("ascii"), attachment))
    return placeholders


def _splice(
    data: bytes, placeholders: list[tuple[bytes, Attachment]], parts: AttachmentParts
) -> tuple[tuple[Chunk, bool], ...]:
    """``data`` cut at each placeholder, with the attachment's shared base64 body in its place."""
    pieces: list[tuple[Chunk, bool]] = []
    position = 0
    for token, attachment in placeholders:
        index = data.index(token, position)
        pieces += ((data[position:index], True), (parts.body(attachment), False))
        position = index + len(token)
    pieces.append((data[position:], True))
    return tuple(pieces)


def estimated_size(message: Message, parts: AttachmentParts) -> int:
    """Roughly the memory building and sending the email takes.

    Text, html, and the base64 (4/3) of attachments not encoded yet; a shared
    body already in ``parts`` costs nothing more per message (it is streamed).
    """
    body = len(message.text) + len(message.html or "")
    fresh = sum(len(a.content) * 4 // 3 for a in message.attachments if not parts.holds(a))
    return body + fresh + 4096


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
        placeholders = _add_attachments(mail, message)
        data = mail.as_bytes(policy=_POLICY)
        pieces = _splice(data, placeholders, parts or AttachmentParts(size=0)) if placeholders else ((data, True),)
    except (ValueError, TypeError) as exc:  # second line of defence: the email package refused a header
        raise InvalidMessageError(f"email message could not be built: {exc}") from exc
    return ComposedEmail(sender=from_address.addr_spec, recipient=to.addr_spec, message_id=message_id, pieces=pieces)
