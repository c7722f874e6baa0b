"""Teams webhook answers mapped onto broadcastio's error classes.

Workflows (Power Automate) answer 202 when the flow accepted the request
and Logic Apps style errors ``{"error": {"code": ..., "message": ...}}``
otherwise; legacy incoming webhooks answer 200 ``1``, and relay throttling
as HTTP 200 with ``Microsoft Teams endpoint returned HTTP error 429``.
"""

from __future__ import annotations

import re

from broadcastio import ConfigurationError, DeliveryError, ErrorCode
from broadcastio.http import error_from_status

__all__ = ["error_from_answer", "relayed_status"]

_RELAYED = re.compile(r"returned HTTP error (\d{3})")
_SAFE = re.compile(r"[^A-Za-z0-9_.]+")


def relayed_status(text: str) -> int | None:
    """The status a legacy webhook reports inside a 200 ("... returned HTTP error 429 ..."), if any."""
    match = _RELAYED.search(text)
    return int(match.group(1)) if match else None


def error_from_answer(
    status: int, error_code: str | None, detail: str, *, provider: str, retry_after: float | None
) -> DeliveryError:
    """Classify a failed post; ``error_code`` is the Logic Apps ``error.code`` when the body had one.

    :raises ConfigurationError: 401/403 (bad signature), 404 and 410 (the workflow or webhook is gone).
    """
    code = _SAFE.sub("_", error_code)[:64] if error_code else None
    label = f" ({code})" if code else ""
    if status in (401, 403, 404, 410):
        raise ConfigurationError(
            f"provider {provider!r}: Teams refused the webhook URL: HTTP {status}{label}; "
            "the workflow or webhook was deleted, disabled or the URL is wrong"
        )
    text = f"Teams answered HTTP {status}{label}" + (f": {detail}" if detail else "")
    if status == 429:
        return DeliveryError.transient(ErrorCode.RATE_LIMITED, text, retry_after=retry_after)
    if status == 413:
        return DeliveryError.permanent("teams.payload_too_large", text)
    if status >= 500 and status != 501:
        return error_from_status(status, text, retry_after=retry_after)
    return DeliveryError.permanent(f"teams.{code}" if code else f"teams.{status}", text)
