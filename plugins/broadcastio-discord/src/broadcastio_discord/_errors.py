"""Discord's error answers mapped onto broadcastio's error classes.

Errors are JSON ``{"code": 50006, "message": "Cannot send an empty message"}``
(``errors`` details for form errors). A 429 carries ``{"message", "retry_after":
<seconds, float>, "global": bool}`` plus ``Retry-After`` and ``X-RateLimit-*``
headers.
"""

from __future__ import annotations

from typing import Any

from broadcastio import ConfigurationError, DeliveryError, ErrorCode
from broadcastio.http import error_from_status, integer_code, parse_retry_after

__all__ = ["CREDENTIAL_CODES", "error_from_answer", "retry_after_of"]

CREDENTIAL_CODES = frozenset({10015, 50027})
"""Unknown Webhook, Invalid Webhook Token: the URL is wrong or the webhook was deleted."""

_MESSAGE_LIMIT = 200


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
        return None
    return float(value)


def retry_after_of(answer: dict[str, Any], headers: Any) -> float | None:
    """The wait Discord asks for: the body's ``retry_after``, else ``Retry-After``, else ``X-RateLimit-Reset-After``."""
    hint = _number(answer.get("retry_after"))
    if hint is not None:
        return hint
    for header in ("Retry-After", "X-RateLimit-Reset-After"):
        seconds = parse_retry_after(headers.get(header))
        if seconds is not None:
            return seconds
    return None


def error_from_answer(status: int, answer: dict[str, Any], headers: Any, *, provider: str) -> DeliveryError:
    """Classify an unsuccessful Execute Webhook answer.

    :param answer: the decoded JSON body, or ``{}`` when there was none (a proxy page).
    :raises ConfigurationError: for an unknown webhook or a rejected token (401, 404, codes 10015/50027).
    """
    code = integer_code(answer)
    text = str(answer.get("message") or f"HTTP {status}")[:_MESSAGE_LIMIT]
    if code in CREDENTIAL_CODES or status in (401, 404):
        raise ConfigurationError(
            f"provider {provider!r}: Discord does not know this webhook ({status} {text}); check the webhook URL"
        )
    if status == 429:
        scope = "global" if answer.get("global") is True else headers.get("X-RateLimit-Scope") or "webhook"
        return DeliveryError.transient(
            ErrorCode.RATE_LIMITED, f"Discord rate limit ({scope}): {text}", retry_after=retry_after_of(answer, headers)
        )
    label = f"discord.{code}" if code is not None else None
    if status >= 500 and status != 501:
        return error_from_status(status, f"Discord: {text}", code=label, retry_after=retry_after_of(answer, headers))
    if code is not None:
        return DeliveryError.permanent(f"discord.{code}", f"Discord: {text}")
    return error_from_status(status, f"Discord: {text}")
