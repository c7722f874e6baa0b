"""Vonage error responses (RFC 7807 problem JSON) mapped onto broadcastio's error classes.

The Messages API answers errors with ``{"type": ".../api-errors/messages#1000",
"title", "detail", "instance"}``. The fragment of ``type`` is the documented
error code (numeric for the Messages API, a slug such as ``unauthorized``
for generic errors) and is mapped first; the HTTP status is the fallback.
Codes are ``vonage.<fragment>``.
"""

from __future__ import annotations

from typing import Any

from broadcastio import ConfigurationError, DeliveryError
from broadcastio.http import Response, error_from_status, json_object, parse_retry_after

from broadcastio_vonage._phone import redact_phones

__all__ = ["CONFIGURATION_CODES", "PERMANENT_CODES", "TRANSIENT_CODES", "error_from_response"]

CONFIGURATION_CODES: dict[str, str] = {
    "unauthorized": "credentials refused",
    "invalid-api-key": "unknown API key",
    "account-suspended": "the account is suspended",
    "unprovisioned": "the credentials may not use the Messages API",
    "1060": "partner account barred",
    "1080": "account not enabled for REST",
}
"""Codes only a change of configuration can fix: they raise ConfigurationError."""

TRANSIENT_CODES: dict[str, str] = {
    "1000": "throttled",
    "1030": "internal error",
    "1100": "communication failed",
}
"""Codes that trying again later may fix."""

PERMANENT_CODES: dict[str, str] = {
    "1010": "missing params",
    "1020": "invalid params",
    "1040": "invalid message (unrecognised number prefix)",
    "1050": "number barred",
    "1070": "partner quota exceeded (no credit)",
    "1120": "illegal sender address for the destination",
    "1160": "destination not on the pre-approved list",
    "low-balance": "account balance too low",
    "invalid-params": "invalid parameters",
}
"""Codes about this message or recipient: no retry on Vonage helps, another provider or channel may."""

_MAX_MESSAGE = 300


def problem_code(body: dict[str, Any]) -> str | None:
    """The fragment of the problem's ``type`` URL (``1000``, ``unauthorized``), or None."""
    kind = body.get("type")
    if not isinstance(kind, str) or "#" not in kind:
        return None
    return kind.rsplit("#", 1)[1] or None


def error_from_response(response: Response, *, provider: str) -> DeliveryError:
    """Classify a Vonage problem response; raise :class:`ConfigurationError` for refused credentials."""
    status = response.status_code
    body = json_object(response)
    code = problem_code(body)
    title = str(body.get("title") or f"HTTP {status}")
    detail = str(body.get("detail") or "")
    message = redact_phones(f"Vonage answered HTTP {status}: {title}" + (f": {detail}" if detail else ""))
    message = message[:_MAX_MESSAGE]
    if status == 401 or code in CONFIGURATION_CODES:
        reason = CONFIGURATION_CODES.get(code or "", "credentials refused")
        raise ConfigurationError(
            f"provider {provider!r}: Vonage refused the request (HTTP {status}, {code or 'no code'}: {reason}); "
            "check api_key and api_secret"
        )
    retry_after = parse_retry_after(response.headers.get("Retry-After"))
    namespaced = f"vonage.{code}" if code else f"vonage.http_{status}"
    if code in TRANSIENT_CODES:
        return DeliveryError.transient(namespaced, message, retry_after=retry_after)
    if code in PERMANENT_CODES:
        return DeliveryError.permanent(namespaced, message)
    return error_from_status(status, message, code=namespaced, retry_after=retry_after)
