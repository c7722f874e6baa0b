"""Email addresses: the sender setting, recipient checks, and masking in provider messages."""

from __future__ import annotations

import email.utils
import re

from broadcastio import ConfigurationError
from broadcastio.logs import mask_address

__all__ = ["is_email", "parse_sender", "redact_emails"]

_EMAIL = re.compile(r"^[^@\s<>\"',;]+@[^@\s<>\"',;]+\.[^@\s<>\"',;]+$")
_EMAIL_IN_TEXT = re.compile(r"[^@\s<>\"',;:()\[\]]+@[^@\s<>\"',;:()\[\]]+\.[A-Za-z]{2,}")


def is_email(value: str) -> bool:
    """Whether ``value`` is a bare ``user@domain.tld`` address."""
    return bool(_EMAIL.match(value))


def parse_sender(provider: str, value: object) -> tuple[str | None, str]:
    """``(display name or None, address)`` from ``user@domain`` or ``Name <user@domain>`` (masked in errors)."""
    if not isinstance(value, str) or "\r" in value or "\n" in value:
        raise ConfigurationError(f"provider {provider!r}: from_address must be a single-line string")
    name, address = email.utils.parseaddr(value)
    if not is_email(address):
        raise ConfigurationError(
            f"provider {provider!r}: from_address must be 'user@domain' or 'Name <user@domain>', "
            f"got {mask_address(value)!r}"
        )
    return (name or None), address


def redact_emails(text: str) -> str:
    """``text`` with every email address masked (API error messages quote them)."""
    return _EMAIL_IN_TEXT.sub(lambda match: mask_address(match.group(0)), text)
