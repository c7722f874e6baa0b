"""Phone numbers in E.164 (SNS wants ``+`` and the country code), and masking."""

from __future__ import annotations

import re

from broadcastio.logs import mask_address

__all__ = ["mask_phone", "redact_phones", "to_e164"]

_E164 = re.compile(r"^\+[1-9]\d{6,14}$")
_SEPARATORS = re.compile(r"[\s().-]")
_PHONE_LIKE = re.compile(r"\+?\d[\d ()-]{5,}\d")


def to_e164(value: str) -> str | None:
    """``+1 (206) 555-0100`` -> ``+12065550100``; None unless it is an international number."""
    text = _SEPARATORS.sub("", value.strip())
    if text.startswith("00"):
        text = "+" + text[2:]
    return text if _E164.match(text) else None


def mask_phone(value: str) -> str:
    return mask_address(value.strip())


def redact_phones(text: str) -> str:
    """``text`` with every phone-number-like run masked (AWS error messages quote the number)."""
    return _PHONE_LIKE.sub(lambda match: mask_phone(match.group(0)), text)
