"""Domain models: what is sent, to whom, and what happened.

Every model is a frozen, keyword-only msgspec Struct: cheap to build, safe to
share between tasks, and encodable to JSON and back to an equal object.
Invariants are checked in ``__post_init__`` because msgspec checks ``Meta``
constraints only while decoding.
"""

from __future__ import annotations

import datetime as dt
import mimetypes
import uuid
from pathlib import Path
from typing import Any, Literal

import msgspec
from msgspec import Struct, field

from broadcastio._checks import check_any_of, check_bool, check_number, check_str, type_name
from broadcastio._errors import ErrorClass, InvalidMessageError

__all__ = [
    "DEFAULT_MAX_ATTACHMENT_BYTES",
    "Attachment",
    "DeliveryAttempt",
    "DeliveryError",
    "DeliveryResult",
    "DeliveryStatus",
    "DeliveryTrace",
    "Message",
    "Metadata",
    "Priority",
    "ProviderHealth",
    "Recipient",
    "SkipReason",
    "SkippedProvider",
    "decode_result",
    "encode_result",
]

DEFAULT_MAX_ATTACHMENT_BYTES = 25 * 1024 * 1024
"""Attachments larger than this are refused (25 MiB, what most mail servers accept)."""

Priority = Literal["low", "normal", "high"]
DeliveryStatus = Literal["delivered", "failed", "unknown"]
SkipReason = Literal["no_address", "unhealthy", "circuit_open", "throttled"]

_PHONE_CHANNELS = frozenset({"whatsapp", "sms"})


def _new_idempotency_key() -> str:
    return uuid.uuid4().hex


def _has_newline(value: str) -> bool:
    return "\r" in value or "\n" in value


class Recipient(Struct, frozen=True, kw_only=True):
    """One person or endpoint, with an address per channel.

    ``phone`` serves the ``whatsapp`` and ``sms`` channels, ``email`` the
    ``email`` channel and ``telegram`` the ``telegram`` channel; ``addresses``
    holds any other channel by name (and may override the phone for one
    channel, for example a WhatsApp group id). Fallback across channels uses
    whichever address each provider's channel needs.
    """

    phone: str | None = None
    email: str | None = None
    telegram: str | None = None
    addresses: dict[str, str] = field(default_factory=dict)
    name: str | None = None

    def __post_init__(self) -> None:
        for label in ("phone", "email", "telegram", "name"):
            check_str(getattr(self, label), f"Recipient.{label}", InvalidMessageError, optional=True)
        addresses: object = self.addresses
        if not isinstance(addresses, dict):
            raise InvalidMessageError(
                f"Recipient.addresses must be a dict of channel to address, got {type_name(addresses)}"
            )
        for channel, address in self.addresses.items():
            if not isinstance(channel, str) or not channel:
                raise InvalidMessageError(f"Recipient.addresses keys must be non-empty channel names, got {channel!r}")
            if not isinstance(address, str) or not address or _has_newline(address):
                raise InvalidMessageError(f"Recipient.addresses[{channel!r}] must be a non-empty single-line string")
        values = [self.phone, self.email, self.telegram, *self.addresses.values()]
        if not any(values):
            raise InvalidMessageError("Recipient needs at least one address (phone, email, telegram or addresses)")
        for label, value in (("phone", self.phone), ("email", self.email), ("telegram", self.telegram)):
            if value is not None and (not value or _has_newline(value)):
                raise InvalidMessageError(f"Recipient.{label} must be a non-empty single-line string")

    def address_for(self, channel: str) -> str | None:
        """The address this recipient has on ``channel``, or None."""
        explicit = self.addresses.get(channel)
        if explicit is not None:
            return explicit
        if channel in _PHONE_CHANNELS:
            return self.phone
        if channel == "email":
            return self.email
        if channel == "telegram":
            return self.telegram
        return None


class Attachment(Struct, frozen=True, kw_only=True):
    """A file sent with a message; content is held in memory.

    Build one from bytes, or with :meth:`from_path` to let core read a file.
    """

    filename: str
    content: bytes
    mime_type: str = "application/octet-stream"

    def __post_init__(self) -> None:
        check_str(self.filename, "Attachment.filename", InvalidMessageError)
        check_str(self.mime_type, "Attachment.mime_type", InvalidMessageError)
        content: object = self.content
        if isinstance(content, bytearray | memoryview):  # accepted for convenience, stored as bytes
            msgspec.structs.force_setattr(self, "content", bytes(content))
        elif not isinstance(content, bytes):
            raise InvalidMessageError(f"Attachment.content must be bytes, got {type_name(content)}")
        if not self.filename or "/" in self.filename or "\\" in self.filename or _has_newline(self.filename):
            raise InvalidMessageError(
                "Attachment.filename must be a bare file name without path separators or newlines, "
                f"got {self.filename!r}"
            )
        if "/" not in self.mime_type or _has_newline(self.mime_type):
            raise InvalidMessageError(f"Attachment.mime_type must look like 'type/subtype', got {self.mime_type!r}")
        if len(self.content) > DEFAULT_MAX_ATTACHMENT_BYTES:
            raise InvalidMessageError(
                f"Attachment {self.filename!r} is {len(self.content)} bytes, over the "
                f"{DEFAULT_MAX_ATTACHMENT_BYTES}-byte limit"
            )

    def __repr__(self) -> str:
        return f"Attachment(filename={self.filename!r}, mime_type={self.mime_type!r}, size={len(self.content)})"

    @classmethod
    def from_path(
        cls,
        path: str | Path,
        *,
        filename: str | None = None,
        mime_type: str | None = None,
        max_bytes: int = DEFAULT_MAX_ATTACHMENT_BYTES,
    ) -> Attachment:
        """Read ``path`` into an attachment, refusing files over ``max_bytes``.

        The MIME type is guessed from the file name when not given.
        """
        file_path = Path(path)
        if not file_path.is_file():
            raise InvalidMessageError(f"Attachment path {str(file_path)!r} is not a readable file")
        size = file_path.stat().st_size
        limit = min(max_bytes, DEFAULT_MAX_ATTACHMENT_BYTES)
        if size > limit:
            raise InvalidMessageError(f"Attachment {str(file_path)!r} is {size} bytes, over the {limit}-byte limit")
        name = filename or file_path.name
        guessed, _ = mimetypes.guess_type(name)
        return cls(
            filename=name, content=file_path.read_bytes(), mime_type=mime_type or guessed or "application/octet-stream"
        )


class Metadata(Struct, frozen=True, kw_only=True):
    """What travels with a message without being its content.

    The idempotency key is generated when absent; providers that support one
    pass it on, so a retry after an ambiguous failure is not delivered twice.
    """

    priority: Priority = "normal"
    reference_id: str | None = None
    idempotency_key: str = field(default_factory=_new_idempotency_key)
    tags: tuple[str, ...] = ()
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.priority not in ("low", "normal", "high"):
            raise InvalidMessageError(f"Metadata.priority must be 'low', 'normal' or 'high', got {self.priority!r}")
        check_str(self.reference_id, "Metadata.reference_id", InvalidMessageError, optional=True)
        check_str(self.idempotency_key, "Metadata.idempotency_key", InvalidMessageError)
        tags: object = self.tags
        if not isinstance(tags, tuple | list):
            raise InvalidMessageError(f"Metadata.tags must be a tuple of strings, got {type_name(tags)}")
        for tag in tags:
            if not isinstance(tag, str):
                raise InvalidMessageError(f"Metadata.tags must hold strings, got {type_name(tag)}")
        if isinstance(tags, list):  # a list is accepted for convenience, stored as a tuple
            msgspec.structs.force_setattr(self, "tags", tuple(tags))
        extra: object = self.extra
        if not isinstance(extra, dict) or not all(isinstance(key, str) for key in extra):
            raise InvalidMessageError(f"Metadata.extra must be a dict with string keys, got {type_name(extra)}")
        if not self.idempotency_key or len(self.idempotency_key) > 255 or _has_newline(self.idempotency_key):
            raise InvalidMessageError("Metadata.idempotency_key must be 1-255 characters on one line")


class Message(Struct, frozen=True, kw_only=True):
    """An outbound message.

    ``recipient`` is a :class:`Recipient`, or a bare address string for the
    one-channel case (the string is then used whatever the channel).
    """

    recipient: Recipient | str
    text: str
    subject: str | None = None
    html: str | None = None
    attachments: tuple[Attachment, ...] = ()
    metadata: Metadata = field(default_factory=Metadata)

    def __post_init__(self) -> None:
        if isinstance(self.recipient, str):
            if not self.recipient.strip() or _has_newline(self.recipient):
                raise InvalidMessageError("Message.recipient must be a non-empty single-line address or a Recipient")
        elif not isinstance(self.recipient, Recipient):
            raise InvalidMessageError(
                f"Message.recipient must be a Recipient or a string, got {type(self.recipient).__name__}"
            )
        check_str(self.text, "Message.text", InvalidMessageError)
        check_str(self.subject, "Message.subject", InvalidMessageError, optional=True)
        check_str(self.html, "Message.html", InvalidMessageError, optional=True)
        attachments: object = self.attachments
        if not isinstance(attachments, tuple | list):
            raise InvalidMessageError(
                f"Message.attachments must be a tuple of Attachment, got {type_name(attachments)}"
            )
        for position, attachment in enumerate(attachments):
            if not isinstance(attachment, Attachment):
                raise InvalidMessageError(
                    f"Message.attachments[{position}] must be an Attachment, got {type_name(attachment)}"
                )
        if isinstance(attachments, list):  # a list is accepted for convenience, stored as a tuple
            msgspec.structs.force_setattr(self, "attachments", tuple(attachments))
        metadata: object = self.metadata
        if not isinstance(metadata, Metadata):
            raise InvalidMessageError(f"Message.metadata must be a Metadata, got {type_name(metadata)}")
        if not self.text and not self.attachments and not self.html:
            raise InvalidMessageError("Message needs text, html or at least one attachment")
        if self.subject is not None and _has_newline(self.subject):
            raise InvalidMessageError("Message.subject must not contain CR or LF")

    @property
    def idempotency_key(self) -> str:
        """Shortcut for ``metadata.idempotency_key``."""
        return self.metadata.idempotency_key

    def address_for(self, channel: str) -> str | None:
        """The recipient's address on ``channel``, or None."""
        if isinstance(self.recipient, str):
            return self.recipient
        return self.recipient.address_for(channel)


class DeliveryError(Struct, frozen=True, kw_only=True):
    """Why one attempt, or a whole delivery, failed.

    ``error_class`` (encoded as ``"class"``) decides what the orchestrator
    may do next; ``retry_after`` is the provider's own hint, in seconds.
    """

    code: str
    message: str
    error_class: ErrorClass = field(name="class")
    retry_after: float | None = None
    provider: str | None = None

    def __post_init__(self) -> None:
        check_str(self.code, "DeliveryError.code", InvalidMessageError)
        check_str(self.message, "DeliveryError.message", InvalidMessageError)
        check_str(self.provider, "DeliveryError.provider", InvalidMessageError, optional=True)
        if not self.code:
            raise InvalidMessageError("DeliveryError.code must not be empty")
        error_class: object = self.error_class
        if not isinstance(error_class, ErrorClass):
            check_any_of(error_class, "DeliveryError.error_class", InvalidMessageError, tuple(ErrorClass))
            msgspec.structs.force_setattr(self, "error_class", ErrorClass(str(error_class)))
        check_number(self.retry_after, "DeliveryError.retry_after", InvalidMessageError, optional=True)

    @classmethod
    def transient(cls, code: str, message: str, *, retry_after: float | None = None) -> DeliveryError:
        """A failure that trying again may fix."""
        return cls(code=code, message=message, error_class=ErrorClass.TRANSIENT, retry_after=retry_after)

    @classmethod
    def permanent(cls, code: str, message: str) -> DeliveryError:
        """A failure that trying again on the same provider cannot fix."""
        return cls(code=code, message=message, error_class=ErrorClass.PERMANENT)

    @classmethod
    def ambiguous(cls, code: str, message: str) -> DeliveryError:
        """A failure after which the message may have been delivered."""
        return cls(code=code, message=message, error_class=ErrorClass.AMBIGUOUS)


class DeliveryAttempt(Struct, frozen=True, kw_only=True):
    """One call of one provider's ``send``."""

    provider: str
    channel: str
    number: int
    started_at: dt.datetime
    duration_ms: float
    ok: bool
    error: DeliveryError | None = None
    provider_message_id: str | None = None
    delay_before_ms: float = 0.0


class SkippedProvider(Struct, frozen=True, kw_only=True):
    """A provider the orchestrator did not call, and why."""

    provider: str
    reason: SkipReason
    detail: str = ""


class DeliveryTrace(Struct, frozen=True, kw_only=True):
    """Everything the orchestrator did for one message, in order."""

    idempotency_key: str
    started_at: dt.datetime
    finished_at: dt.datetime
    attempts: tuple[DeliveryAttempt, ...] = ()
    skipped: tuple[SkippedProvider, ...] = ()
    possibly_delivered: bool = False

    @property
    def providers_tried(self) -> tuple[str, ...]:
        """Providers called, in order, each once."""
        seen: dict[str, None] = {}
        for attempt in self.attempts:
            seen.setdefault(attempt.provider, None)
        return tuple(seen)


class DeliveryResult(Struct, frozen=True, kw_only=True):
    """The outcome of sending one message, or of one provider attempt.

    A provider's ``send`` returns one built with :meth:`success` or
    :meth:`failure`; the orchestrator returns the final one, naming the
    provider that delivered and, when asked, the trace.

    ``status`` is ``"unknown"`` when the last failure was ambiguous: the
    message may have been delivered.
    """

    status: DeliveryStatus
    provider: str | None = None
    channel: str | None = None
    provider_message_id: str | None = None
    error: DeliveryError | None = None
    idempotency_key: str | None = None
    reference_id: str | None = None
    trace: DeliveryTrace | None = None

    def __post_init__(self) -> None:
        check_any_of(self.status, "DeliveryResult.status", InvalidMessageError, ("delivered", "failed", "unknown"))
        for label in ("provider", "channel", "provider_message_id", "idempotency_key", "reference_id"):
            check_str(getattr(self, label), f"DeliveryResult.{label}", InvalidMessageError, optional=True)
        error: object = self.error
        if error is not None and not isinstance(error, DeliveryError):
            raise InvalidMessageError(f"DeliveryResult.error must be a DeliveryError or None, got {type_name(error)}")
        trace: object = self.trace
        if trace is not None and not isinstance(trace, DeliveryTrace):
            raise InvalidMessageError(f"DeliveryResult.trace must be a DeliveryTrace or None, got {type_name(trace)}")

    @property
    def ok(self) -> bool:
        """True when the message was delivered."""
        return self.status == "delivered"

    @classmethod
    def success(cls, provider_message_id: str | None = None) -> DeliveryResult:
        """What a provider returns when its one attempt was accepted."""
        return cls(status="delivered", provider_message_id=provider_message_id)

    @classmethod
    def failure(cls, error: DeliveryError) -> DeliveryResult:
        """What a provider returns when its one attempt failed."""
        status: DeliveryStatus = "unknown" if error.error_class is ErrorClass.AMBIGUOUS else "failed"
        return cls(status=status, error=error)


class ProviderHealth(Struct, frozen=True, kw_only=True):
    """The answer of a provider's active health check."""

    healthy: bool
    detail: str = ""
    checked_at: dt.datetime | None = None
    latency_ms: float | None = None

    def __post_init__(self) -> None:
        check_bool(self.healthy, "ProviderHealth.healthy", InvalidMessageError)
        check_str(self.detail, "ProviderHealth.detail", InvalidMessageError)
        checked_at: object = self.checked_at
        if checked_at is not None and not isinstance(checked_at, dt.datetime):
            raise InvalidMessageError(f"ProviderHealth.checked_at must be a datetime, got {type_name(checked_at)}")
        check_number(self.latency_ms, "ProviderHealth.latency_ms", InvalidMessageError, optional=True)


_result_encoder = msgspec.json.Encoder()
_result_decoder = msgspec.json.Decoder(DeliveryResult)


def encode_result(result: DeliveryResult) -> bytes:
    """JSON bytes for a result and its trace."""
    return _result_encoder.encode(result)


MAX_RESULT_BYTES = 16 * 1024 * 1024
"""Encoded results longer than this are refused by :func:`decode_result`."""


def decode_result(data: bytes | str) -> DeliveryResult:
    """The result :func:`encode_result` encoded, equal to the original.

    :raises InvalidMessageError: the data is not an encoded result (wrong
        type, malformed or too deeply nested JSON, a field of the wrong type).
    """
    if not isinstance(data, bytes | bytearray | memoryview | str):
        raise InvalidMessageError(f"decode_result takes bytes or str, got {type_name(data)}")
    if len(data) > MAX_RESULT_BYTES:
        raise InvalidMessageError(f"encoded result is {len(data)} long, over the {MAX_RESULT_BYTES} limit")
    try:
        return _result_decoder.decode(data)
    except msgspec.DecodeError as exc:
        raise InvalidMessageError(f"not an encoded DeliveryResult: {exc}") from None
    except RecursionError:
        raise InvalidMessageError("not an encoded DeliveryResult: nested too deeply") from None
