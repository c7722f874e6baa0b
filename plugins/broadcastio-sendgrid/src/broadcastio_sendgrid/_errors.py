"""SendGrid error responses mapped onto broadcastio's error classes.

SendGrid answers errors with ``{"errors": [{"message", "field", "help"}]}``
and documents the meaning in the status: 400 bad request, 401/403 the key
(missing, wrong, or without the ``mail.send`` scope), 413 payload too
large, 429 rate limited (``X-RateLimit-Reset`` is the epoch second the
limit resets), 5xx SendGrid's side. Codes are ``sendgrid.<status>``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from broadcastio import ConfigurationError, DeliveryError, ErrorCode
from broadcastio.addresses import redact_emails
from broadcastio.http import Response, error_from_status, json_object, parse_retry_after

__all__ = ["error_from_response", "rate_limit_wait"]

_MAX_MESSAGE = 300


def _errors(body: dict[str, Any]) -> list[dict[str, Any]]:
    items = body.get("errors")
    return [item for item in items if isinstance(item, dict)] if isinstance(items, list) else []


def _describe(status: int, errors: list[dict[str, Any]]) -> str:
    parts = []
    for item in errors:
        message = str(item.get("message") or "").strip()
        field = item.get("field")
        if message:
            parts.append(f"{field}: {message}" if field else message)
    text = "; ".join(parts) if parts else f"HTTP {status}"
    return redact_emails(f"SendGrid answered HTTP {status}: {text}"[:_MAX_MESSAGE])


def rate_limit_wait(response: Response, now: Callable[[], float] = time.time) -> float | None:
    """Seconds to wait from ``Retry-After``, else from ``X-RateLimit-Reset`` (an epoch second)."""
    retry_after = parse_retry_after(response.headers.get("Retry-After"))
    if retry_after is not None:
        return retry_after
    reset = response.headers.get("X-RateLimit-Reset")
    if reset is None:
        return None
    try:
        reset_at = float(reset.strip())
    except ValueError:
        return None
    if reset_at != reset_at:  # NaN
        return None
    return parse_retry_after(str(max(0.0, reset_at - now())))


def _about_recipient(errors: list[dict[str, Any]]) -> bool:
    """A 400 whose field is a recipient's address (``personalizations.0.to.0.email``)."""
    for item in errors:
        field = str(item.get("field") or "")
        if field.startswith("personalizations") and ".to" in field and field.endswith("email"):
            return True
    return False


def error_from_response(response: Response, *, provider: str, now: Callable[[], float] = time.time) -> DeliveryError:
    """Classify a SendGrid error response; raise :class:`ConfigurationError` for a refused key."""
    status = response.status_code
    errors = _errors(json_object(response))
    message = _describe(status, errors)
    if status in (401, 403):
        raise ConfigurationError(
            f"provider {provider!r}: SendGrid refused the API key (HTTP {status}); "
            "check api_key and that it has the mail.send scope"
        )
    code = f"sendgrid.{status}"
    if status == 400 and _about_recipient(errors):
        return DeliveryError.permanent(ErrorCode.INVALID_RECIPIENT, message)
    if status == 413:
        return DeliveryError.permanent(code, message)
    return error_from_status(status, message, code=code, retry_after=rate_limit_wait(response, now))
