"""ntfy's error answers mapped onto broadcastio's error classes.

ntfy answers ``{"code": 42901, "http": 429, "error": "limit reached: too many
requests", "link": "..."}``: a five-digit code whose first three digits
are the HTTP status.
"""

from __future__ import annotations

from typing import Any

from broadcastio import ConfigurationError, DeliveryError, ErrorCode
from broadcastio.http import error_from_status

__all__ = ["error_from_answer"]

_TEXT_LIMIT = 200


def error_from_answer(
    status: int, answer: dict[str, Any], *, provider: str, retry_after: float | None = None
) -> DeliveryError:
    """Classify an unsuccessful publish.

    :param answer: the decoded JSON body, or ``{}`` when there was none (a proxy page).
    :raises ConfigurationError: 401 and 403: the token or password is wrong, or may not write the topic.
    """
    raw = answer.get("code")
    code = raw if isinstance(raw, int) and not isinstance(raw, bool) else None
    text = str(answer.get("error") or f"HTTP {status}")[:_TEXT_LIMIT]
    if status in (401, 403):
        raise ConfigurationError(
            f"provider {provider!r}: ntfy refused the credentials for this topic ({code or status}: {text})"
        )
    label = f"ntfy.{code}" if code is not None else None
    if status == 429:
        return DeliveryError.transient(ErrorCode.RATE_LIMITED, f"ntfy: {text}", retry_after=retry_after)
    if status == 507:
        return DeliveryError.transient(label or "ntfy.insufficient_storage", f"ntfy: {text}", retry_after=retry_after)
    if status >= 500 and status != 501:
        return error_from_status(status, f"ntfy: {text}", code=label, retry_after=retry_after)
    return error_from_status(status, f"ntfy: {text}", code=label)
