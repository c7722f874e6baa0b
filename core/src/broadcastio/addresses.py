"""Email addresses for provider plugins: the sender setting, recipient checks, masking.

Every email-API plugin (SendGrid, Postmark, Resend, Mailgun, SES) takes a
``from_address`` setting, checks each recipient before a request, and masks
the addresses an API quotes back in its error text. These helpers do it one
way for all of them, on the standard library's :mod:`email.utils` parser::

    from broadcastio.addresses import parse_sender, recipient_error, redact_emails

    self.sender_name, self.sender = parse_sender(name, from_address)
    ...
    error = recipient_error(address)  # in send(), before any request
"""

from __future__ import annotations

import email.utils
import re

from broadcastio._errors import ConfigurationError, ErrorCode
from broadcastio._models import DeliveryError
from broadcastio._scrub import mask_address

__all__ = ["is_email", "mask_address", "parse_sender", "recipient_error", "redact_emails"]

_EMAIL = re.compile(r"^[^@\s<>\"',;]+@[^@\s<>\"',;]+\.[^@\s<>\"',;]+$")
_EMAIL_IN_TEXT = re.compile(r"[^@\s<>\"',;:()\[\]]+@[^@\s<>\"',;:()\[\]]+\.[A-Za-z]{2,}")


def is_email(value: object) -> bool:
    """Whether ``value`` is a bare ``user@domain.tld`` address (a display name is not accepted here)."""
    return isinstance(value, str) and bool(_EMAIL.match(value))


def recipient_error(address: str) -> DeliveryError | None:
    """None for a bare email address; otherwise the permanent ``invalid_recipient``
    error to return without a request, naming the address masked."""
    if is_email(address):
        return None
    return DeliveryError.permanent(ErrorCode.INVALID_RECIPIENT, f"{mask_address(address)} is not an email address")


def parse_sender(provider: str, value: object, *, setting: str = "from_address") -> tuple[str | None, str]:
    """``(display name or None, address)`` from ``user@domain`` or ``Name <user@domain>``.

    Raises :class:`~broadcastio.ConfigurationError` naming the provider and
    the setting, with the value masked (a sender address is personal data too).
    """
    if not isinstance(value, str) or "\r" in value or "\n" in value:
        raise ConfigurationError(f"provider {provider!r}: {setting} must be a single-line string")
    name, address = email.utils.parseaddr(value)
    if not is_email(address):
        raise ConfigurationError(
            f"provider {provider!r}: {setting} must be 'user@domain' or 'Name <user@domain>', "
            f"got {mask_address(value)!r}"
        )
    return (name or None), address


def redact_emails(text: str) -> str:
    """``text`` with every email address masked like :func:`mask_address` (API error messages quote them)."""
    return _EMAIL_IN_TEXT.sub(lambda match: mask_address(match.group(0)), text)
