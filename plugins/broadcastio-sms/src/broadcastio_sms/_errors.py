"""Twilio error responses mapped onto broadcastio's error classes.

Twilio answers errors with a JSON body ``{"code": 21211, "message": ...,
"more_info": ..., "status": 400}``. Its own ``code`` says more than the HTTP
status, so it is mapped first; the status is the fallback. Codes are kept
as ``"twilio.<code>"`` so a trace names what Twilio said.
"""

from __future__ import annotations

from typing import Any

from broadcastio import ConfigurationError, DeliveryError
from broadcastio.http import Response, error_from_status, integer_code, json_object, parse_retry_after

from broadcastio_sms._phone import redact_phones

__all__ = ["AUTHENTICATION_ERROR", "PERMANENT_CODES", "TRANSIENT_CODES", "error_from_response", "json_object"]

AUTHENTICATION_ERROR = 20003
"""Authenticate: wrong account SID or auth token. Only configuration can fix it."""

TRANSIENT_CODES: dict[int, str] = {
    20429: "too many requests",
}
"""Codes that trying again later may fix."""

PERMANENT_CODES: dict[int, str] = {
    21211: "invalid 'To' phone number",
    21610: "recipient unsubscribed (replied STOP)",
    21614: "'To' number is not a mobile number",
    30006: "landline or unreachable carrier",
}
"""Codes about the recipient: no retry on Twilio can help, another channel may."""


def _describe(status: int, body: dict[str, Any]) -> str:
    message = body.get("message")
    text = str(message) if message else f"HTTP {status}"
    more_info = body.get("more_info")
    if more_info:
        text = f"{text} ({more_info})"
    return redact_phones(text)


def error_from_response(response: Response, *, provider: str) -> DeliveryError:
    """Classify a Twilio error response; raise :class:`ConfigurationError` for bad credentials."""
    status = response.status_code
    body = json_object(response)
    code = integer_code(body)
    message = _describe(status, body)
    retry_after = parse_retry_after(response.headers.get("Retry-After"))
    if code == AUTHENTICATION_ERROR or status == 401:
        raise ConfigurationError(
            f"provider {provider!r}: Twilio rejected the credentials (HTTP {status}, code {code}); "
            "check account_sid and auth_token"
        )
    if code is None:
        return error_from_status(status, message, retry_after=retry_after)
    namespaced = f"twilio.{code}"
    if code in TRANSIENT_CODES:
        return DeliveryError.transient(namespaced, message, retry_after=retry_after)
    if code in PERMANENT_CODES:
        return DeliveryError.permanent(namespaced, message)
    # 429 and 5xx stay transient, other 4xx permanent, whatever the code.
    return error_from_status(status, message, code=namespaced, retry_after=retry_after)
