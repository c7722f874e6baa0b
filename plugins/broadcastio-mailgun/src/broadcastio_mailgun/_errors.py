"""Mailgun error responses mapped onto broadcastio's error classes.

Mailgun answers errors with ``{"message": "..."}`` (or a bare ``Forbidden``
on 401) and documents the meaning in the status: 400 bad request, 401 bad
API key, 403 the account or domain may not do this, 404 unknown domain,
413 too large, 429 too many requests, 5xx Mailgun's side. Codes are
``mailgun.<status>``.
"""

from __future__ import annotations

from broadcastio import ConfigurationError, DeliveryError, ErrorCode
from broadcastio.addresses import redact_emails
from broadcastio.http import Response, error_from_status, json_object, parse_retry_after

__all__ = ["error_from_response"]

_MAX_MESSAGE = 300
_CONFIGURATION = {
    401: "Mailgun refused the API key",
    403: "Mailgun does not allow this account or domain to send (sandbox domain, unverified domain?)",
    404: "Mailgun does not know the domain (wrong domain or region?)",
}


def _about_recipient(text: str) -> bool:
    lowered = text.lower()
    return "'to'" in lowered or "to parameter" in lowered or "recipient" in lowered


def error_from_response(response: Response, *, provider: str) -> DeliveryError:
    """Classify a Mailgun error response; raise :class:`ConfigurationError` where only configuration helps."""
    status = response.status_code
    if status in _CONFIGURATION:
        raise ConfigurationError(
            f"provider {provider!r}: {_CONFIGURATION[status]} (HTTP {status}); check api_key, domain and region"
        )
    detail = str(json_object(response).get("message") or response.text[:200].strip() or f"HTTP {status}")
    message = redact_emails(f"Mailgun answered HTTP {status}: {detail}"[:_MAX_MESSAGE])
    if status == 400 and _about_recipient(detail):
        return DeliveryError.permanent(ErrorCode.INVALID_RECIPIENT, message)
    retry_after = parse_retry_after(response.headers.get("Retry-After"))
    return error_from_status(status, message, code=f"mailgun.{status}", retry_after=retry_after)
