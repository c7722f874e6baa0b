"""Phone numbers: E.164 validation, sender checks and masking for logs.

Twilio wants E.164 (``+14155552671``). Checking locally with
``phonenumbers`` saves a paid round trip for numbers that cannot work, and
masking keeps full numbers out of logs, traces and error messages.
"""

from __future__ import annotations

import re

import phonenumbers

__all__ = ["is_alphanumeric_sender", "mask_phone", "normalize_e164", "redact_phones"]

_ALPHANUMERIC_SENDER = re.compile(r"^(?=.*[A-Za-z])[A-Za-z0-9 ]{1,11}$")
_PHONE_LIKE = re.compile(r"\+?\d[\d ()-]{5,}\d")


def normalize_e164(value: str) -> str | None:
    """``value`` in E.164 form, or None when it is not a valid international number.

    Only international form is accepted (a leading ``+`` and a country code):
    a national number is ambiguous without a region.
    """
    text = value.strip()
    if not text.startswith("+"):
        return None
    try:
        number = phonenumbers.parse(text, None)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def is_alphanumeric_sender(value: str) -> bool:
    """Whether ``value`` is a Twilio alphanumeric sender ID (1-11 letters, digits, spaces, one letter at least)."""
    return bool(_ALPHANUMERIC_SENDER.match(value))


def mask_phone(value: str) -> str:
    """Keep the ``+`` and the last two digits: ``+*********71``."""
    digits = [char for char in value if char.isdigit()]
    if len(digits) <= 2:
        return "*" * len(digits)
    prefix = "+" if value.strip().startswith("+") else ""
    return prefix + "*" * (len(digits) - 2) + "".join(digits[-2:])


def redact_phones(text: str) -> str:
    """``text`` with every phone-number-like run masked (API error messages quote the number)."""
    return _PHONE_LIKE.sub(lambda match: mask_phone(match.group(0)), text)
