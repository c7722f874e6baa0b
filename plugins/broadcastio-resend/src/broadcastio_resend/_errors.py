"""Resend error responses mapped onto broadcastio's error classes.

Resend answers errors with ``{"statusCode": N, "name": "...", "message":
...}``; ``name`` is the documented error type and is mapped first. A
missing or invalid key (401/403) and an unverified sending domain (403
``validation_error``) need configuration changes and raise. Codes are
``resend.<name>``. Rate-limit answers carry ``retry-after`` and
``ratelimit-reset`` (seconds until the window resets).
"""

from __future__ import annotations

from broadcastio import ConfigurationError, DeliveryError
from broadcastio.addresses import redact_emails
from broadcastio.http import Response, error_from_status, json_object, parse_retry_after

__all__ = ["CONFIGURATION_NAMES", "PERMANENT_NAMES", "TRANSIENT_NAMES", "error_from_response"]

CONFIGURATION_NAMES: dict[str, str] = {
    "missing_api_key": "no API key in the Authorization header",
    "invalid_api_key": "the API key is invalid",
    "restricted_api_key": "the API key may only send emails",
    "invalid_from_address": "from_address is not a valid sender",
}
"""Error names only configuration can fix: they raise ConfigurationError."""

TRANSIENT_NAMES: dict[str, str] = {
    "rate_limit_exceeded": "too many requests",
    "daily_quota_exceeded": "daily sending quota used up",
    "concurrent_idempotent_requests": "a request with the same idempotency key is still in progress",
    "application_error": "Resend failed to process the request",
    "internal_server_error": "Resend failed to process the request",
}
"""Error names that trying again later may fix."""

PERMANENT_NAMES: dict[str, str] = {
    "validation_error": "a field of the request is invalid",
    "missing_required_field": "a required field is missing",
    "invalid_attachment": "an attachment is invalid",
    "invalid_idempotency_key": "the idempotency key is not 1-256 characters",
    "invalid_idempotent_request": "the idempotency key was used with a different payload",
    "monthly_quota_exceeded": "monthly sending quota used up",
    "security_error": "Resend refused the request for security reasons",
    "not_found": "unknown endpoint",
    "method_not_allowed": "method not allowed",
    "invalid_parameter": "a parameter is invalid",
}
"""Error names no retry on Resend can help with (another provider may)."""

_MAX_MESSAGE = 300


def rate_limit_wait(response: Response) -> float | None:
    """Seconds to wait: ``retry-after``, else ``ratelimit-reset`` (both delta-seconds)."""
    retry_after = parse_retry_after(response.headers.get("retry-after"))
    if retry_after is not None:
        return retry_after
    return parse_retry_after(response.headers.get("ratelimit-reset"))


def error_from_response(response: Response, *, provider: str) -> DeliveryError:
    """Classify a Resend error response; raise :class:`ConfigurationError` where only configuration helps."""
    status = response.status_code
    body = json_object(response)
    name = body.get("name") if isinstance(body.get("name"), str) else None
    detail = str(body.get("message") or f"HTTP {status}")
    message = redact_emails(f"Resend answered HTTP {status} ({name or 'no error name'}): {detail}"[:_MAX_MESSAGE])
    if status in (401, 403) or name in CONFIGURATION_NAMES:
        reason = CONFIGURATION_NAMES.get(name or "", "credentials or sending domain refused")
        if name == "validation_error":
            reason = "the sending domain is not verified, or the account may only send test emails"
        raise ConfigurationError(
            f"provider {provider!r}: Resend refused the request (HTTP {status}, {name}: {reason}); "
            "check api_key and from_address"
        )
    wait = rate_limit_wait(response)
    if name is None:
        return error_from_status(status, message, code=f"resend.http_{status}", retry_after=wait)
    code = f"resend.{name}"
    if name in TRANSIENT_NAMES:
        return DeliveryError.transient(code, message, retry_after=wait)
    if name in PERMANENT_NAMES:
        return DeliveryError.permanent(code, message)
    return error_from_status(status, message, code=code, retry_after=wait)
