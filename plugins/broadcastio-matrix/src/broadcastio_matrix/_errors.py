"""Matrix standard error codes mapped onto broadcastio's error classes.

A homeserver answers ``{"errcode": "M_FORBIDDEN", "error": "..."}``; a rate
limit is 429 ``M_LIMIT_EXCEEDED`` with ``retry_after_ms`` in the body (and,
since spec v1.10, a ``Retry-After`` header).
"""

from __future__ import annotations

import re
from typing import Any

from broadcastio import ConfigurationError, DeliveryError, ErrorCode
from broadcastio.http import error_from_status, parse_retry_after

__all__ = ["CREDENTIAL_ERRCODES", "error_from_answer"]

CREDENTIAL_ERRCODES = frozenset({"M_UNKNOWN_TOKEN", "M_MISSING_TOKEN", "M_USER_DEACTIVATED"})
"""Only a new access token fixes these."""

_ERRCODE = re.compile(r"^[A-Z][A-Z0-9_.]{0,63}$")
_MESSAGE_LIMIT = 200


def _retry_after(answer: dict[str, Any], header: str | None) -> float | None:
    milliseconds = answer.get("retry_after_ms")
    if isinstance(milliseconds, (int, float)) and not isinstance(milliseconds, bool) and milliseconds >= 0:
        return float(milliseconds) / 1000.0
    return parse_retry_after(header)


def error_from_answer(
    status: int, answer: dict[str, Any], *, provider: str, retry_after_header: str | None = None
) -> DeliveryError:
    """Classify an unsuccessful client-server API answer.

    :param answer: the decoded JSON body, or ``{}`` when there was none (a proxy page).
    :raises ConfigurationError: for an unknown, missing or deactivated access token.
    """
    raw = answer.get("errcode")
    errcode = raw if isinstance(raw, str) and _ERRCODE.match(raw) else None
    text = str(answer.get("error") or f"HTTP {status}")[:_MESSAGE_LIMIT]
    if errcode in CREDENTIAL_ERRCODES or (errcode is None and status == 401):
        raise ConfigurationError(
            f"provider {provider!r}: the homeserver rejected the access token ({errcode or status}: {text})"
        )
    retry_after = _retry_after(answer, retry_after_header)
    if errcode == "M_LIMIT_EXCEEDED" or status == 429:
        return DeliveryError.transient(ErrorCode.RATE_LIMITED, f"Matrix: {text}", retry_after=retry_after)
    code = f"matrix.{errcode}" if errcode else None
    if status >= 500 and status != 501:
        return error_from_status(status, f"Matrix: {text}", code=code, retry_after=retry_after)
    if errcode is not None:
        return DeliveryError.permanent(f"matrix.{errcode}", f"Matrix: {text}")
    return error_from_status(status, f"Matrix: {text}")
