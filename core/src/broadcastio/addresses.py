"""Email addresses for provider plugins: the sender setting, recipient checks, masking.

Every email-API plugin (SendGrid, Postmark, Resend, Mailgun, SES) takes a
``from_address`` setting, checks each recipient before a request, and masks
the addresses an API quotes back in its error text. These helpers do it one
way for all of them, on the standard library's :mod:`email.utils` parser::

    from broadcastio.addresses import is_email, parse_sender, redact_emails

    self.sender_name, self.sender = parse_sender(name, from_address)
"""

from __future__ import annotations

import email.utils
import re

from broadcastio._errors import ConfigurationError
from broadcastio._scrub import mask_address

__all__ = ["is_email", "mask_address", "parse_sender", "redact_emails"]

_EMAIL = re.compile(r"^[^@\s<>\"',;]+@[^@\s<>\"',;]+\.[^@\s<>\"',;]+$")
_EMAIL_IN_TEXT = re.compile(r"[^@\s<>\"',;:()\[\]]+@[^@\s<>\"',;:()\[\]]+\.[A-Za-z]{2,}")


def is_email(value: object) -> bool:
    """Whether ``value`` is a bare ``user@domain.tld`` address (a display name is not accepted here)."""
    return isinstance(value, str) and bool(_EMAIL.match(value))


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
