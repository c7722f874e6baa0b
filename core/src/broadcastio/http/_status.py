"""HTTP status, Retry-After and error-body helpers every HTTP provider shares.

Each plugin maps its API's own error codes first and falls back to
:func:`error_from_status`; :func:`json_object` and :func:`integer_code` are
the body readers every plugin used to re-implement.
"""

from __future__ import annotations

import datetime as dt
import email.utils
from typing import TYPE_CHECKING, Any

from broadcastio._errors import ErrorCode
from broadcastio._models import DeliveryError

if TYPE_CHECKING:
    from broadcastio.http._response import Response

__all__ = ["error_from_status", "integer_code", "json_object", "parse_retry_after"]

_MAX_RETRY_AFTER = 24 * 3600.0


def parse_retry_after(value: str | None, *, now: dt.datetime | None = None) -> float | None:
    """Seconds from a ``Retry-After`` header (delta-seconds or HTTP date), or None.

    Negative or unparsable values give None; dates in the past give 0.
    """
    if value is None:
        return None
    text = value.strip()
    if not text:
        return None
    try:
        seconds = float(text)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=dt.UTC)
        seconds = max(0.0, (when - (now or dt.datetime.now(dt.UTC))).total_seconds())
    if seconds != seconds or seconds < 0:  # NaN or negative
        return None
    return min(seconds, _MAX_RETRY_AFTER)


def error_from_status(
    status: int,
    message: str,
    *,
    code: str | None = None,
    retry_after: float | None = None,
) -> DeliveryError:
    """Classify an HTTP error status the way most APIs document it.

    429, 408 and 5xx other than 501 are transient; 401 and 403 are permanent
    ``unauthorized``; other 4xx are permanent ``rejected``. Providers with
    richer error bodies map those first and fall back to this.
    """
    if status == 429:
        return DeliveryError.transient(code or ErrorCode.RATE_LIMITED, message, retry_after=retry_after)
    if status == 408 or (status >= 500 and status != 501):
        default = ErrorCode.SERVICE_UNAVAILABLE if status == 503 else ErrorCode.SERVER_ERROR
        return DeliveryError.transient(code or default, message, retry_after=retry_after)
    if status in (401, 403):
        return DeliveryError.permanent(code or ErrorCode.UNAUTHORIZED, message)
    return DeliveryError.permanent(code or ErrorCode.REJECTED, message)


def json_object(response: Response | Any, *keys: str) -> dict[str, Any]:
    """The JSON object in a response body (or nested under ``keys``), ``{}`` when there is none.

    An error answer may be a proxy's HTML page, a JSON list, or an object
    without the expected member: all give ``{}``, so a plugin reads fields
    with ``.get`` and falls back to the status. ``json_object(r, "error")``
    reads the ``{"error": {...}}`` shape of the Graph API and node-whatsapp.
    """
    try:
        body = response.json()
    except ValueError:
        return {}
    for key in keys:
        body = body.get(key) if isinstance(body, dict) else None
    return body if isinstance(body, dict) else {}


def integer_code(body: dict[str, Any], key: str = "code") -> int | None:
    """``body[key]`` when it is an integer (not a bool, not a numeric string), else None."""
    value = body.get(key)
    return value if isinstance(value, int) and not isinstance(value, bool) else None
