"""Email address parsing, validation and masking.

Addresses are checked before any SMTP command, so a malformed one is an
exception for the caller to fix, never a half-finished SMTP transaction.
"""

from __future__ import annotations

import email.policy
import re
from email.headerregistry import Address

__all__ = ["UNSAFE_CHARACTERS", "check_header_text", "mask_address", "parse_mailbox"]

UNSAFE_CHARACTERS = re.compile(r"[\x00-\x08\x0a-\x1f\x7f\x85\u2028\u2029]")
"""Characters refused in any header text: CR, LF, other controls, and the
Unicode line separators that ``str.splitlines`` (used when folding headers)
would also break a line on."""

_ENVELOPE_UNSAFE = re.compile(r'[\s<>"]')
_parse_header = email.policy.SMTP.header_factory


def check_header_text(value: str) -> str | None:
    """A reason the text cannot go into a header, or None when it is safe."""
    match = UNSAFE_CHARACTERS.search(value)
    if match is None:
        return None
    char = match.group()
    if char in "\r\n":
        return "contains CR or LF"
    return f"contains the control or line-break character {char!r}"


def _ascii_domain(domain: str) -> str:
    if domain.isascii():
        return domain
    try:
        return domain.encode("idna").decode("ascii")
    except UnicodeError as exc:
        raise ValueError(f"domain {domain!r} is not a valid internationalised domain name") from exc


def parse_mailbox(value: str, *, allow_display_name: bool) -> Address:
    """Parse ``user@domain`` (or ``Name <user@domain>`` when allowed) into an Address.

    Exactly one address is accepted: a list would silently widen the
    envelope. Internationalised domains are converted to their ASCII form;
    non-ASCII local parts are refused (they need SMTPUTF8, which this provider
    does not negotiate). Raises ValueError with the reason.
    """
    if not isinstance(value, str) or not value.strip():
        raise ValueError("is empty")
    reason = check_header_text(value)
    if reason is not None:
        raise ValueError(reason)
    try:
        header = _parse_header("To", value.strip())
        addresses, defects = header.addresses, header.defects
    except (ValueError, IndexError, TypeError) as exc:  # the email package's parser raises all three
        raise ValueError(f"{value!r} is not a valid address") from exc
    if len(addresses) != 1:
        raise ValueError(f"{value!r} must hold exactly one address, found {len(addresses)}")
    if defects:
        raise ValueError(f"{value!r} is not a valid address: {defects[0]}")
    parsed = addresses[0]
    if parsed.display_name and not allow_display_name:
        raise ValueError(f"{value!r} must be a bare address (user@domain), without a display name")
    if not parsed.username or not parsed.domain:
        raise ValueError(f"{value!r} is not an address of the form user@domain")
    if not parsed.username.isascii():
        raise ValueError(f"{value!r} has a non-ASCII local part (SMTPUTF8 is not supported)")
    if _ENVELOPE_UNSAFE.search(parsed.addr_spec):
        raise ValueError(f"{value!r} contains whitespace, quotes or angle brackets")
    return Address(display_name=parsed.display_name, username=parsed.username, domain=_ascii_domain(parsed.domain))


def mask_address(address: str) -> str:
    """``j***@example.com``: enough to tell addresses apart in logs and traces."""
    local, at, domain = address.rpartition("@")
    if not at:
        return "***"
    return f"{local[:1]}***@{domain}"
