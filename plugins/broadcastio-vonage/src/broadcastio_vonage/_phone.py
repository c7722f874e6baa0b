"""Phone numbers in E.164, as the Messages API wants them (digits, no ``+``), and sender checks."""

from __future__ import annotations

import re

from broadcastio.logs import mask_address

__all__ = ["is_alphanumeric_sender", "mask_phone", "redact_phones", "to_vonage_number"]

_E164 = re.compile(r"^\+[1-9]\d{6,14}$")
_SEPARATORS = re.compile(r"[\s().-]")
_ALPHANUMERIC_SENDER = re.compile(r"^(?=.*[A-Za-z])[A-Za-z0-9 ]{1,11}$")
_PHONE_LIKE = re.compile(r"\+?\d[\d ()-]{5,}\d")


def to_vonage_number(value: str) -> str | None:
    """``+44 7700 900000`` -> ``447700900000``; None unless it is an international E.164 number."""
    text = _SEPARATORS.sub("", value.strip())
    if text.startswith("00"):
        text = "+" + text[2:]
    return text[1:] if _E164.match(text) else None


def is_alphanumeric_sender(value: str) -> bool:
    """Whether ``value`` is an alphanumeric sender ID (1-11 letters, digits, spaces, one letter at least)."""
    return bool(_ALPHANUMERIC_SENDER.match(value))


def mask_phone(value: str) -> str:
    return mask_address(value.strip())


def redact_phones(text: str) -> str:
    """``text`` with every phone-number-like run masked (API error details quote the number)."""
    return _PHONE_LIKE.sub(lambda match: mask_phone(match.group(0)), text)
