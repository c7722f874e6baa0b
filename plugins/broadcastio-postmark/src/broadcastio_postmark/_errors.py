"""Postmark error responses mapped onto broadcastio's error classes.

Postmark answers API errors with HTTP 422 and ``{"ErrorCode": N, "Message":
...}``; its ``ErrorCode`` says more than the status, so it is mapped first.
A wrong server token is HTTP 401 (ErrorCode 10). 429 is its rate limit,
500 its own failure, 503 planned maintenance. Codes are ``postmark.<ErrorCode>``.
"""

from __future__ import annotations

from broadcastio import ConfigurationError, DeliveryError, ErrorCode
from broadcastio.addresses import redact_emails
from broadcastio.http import Response, error_from_status, integer_code, json_object, parse_retry_after

__all__ = ["CONFIGURATION_CODES", "PERMANENT_CODES", "TRANSIENT_CODES", "error_from_response"]

BAD_TOKEN = 10
INVALID_EMAIL_REQUEST = 300

CONFIGURATION_CODES: dict[int, str] = {
    BAD_TOKEN: "bad or missing server token",
    400: "sender signature not found (from_address is not a sender signature)",
    401: "sender signature not confirmed",
    412: "account pending approval: it may only send to its own domain",
}
"""Codes only a change of configuration can fix: they raise ConfigurationError."""

TRANSIENT_CODES: dict[int, str] = {
    100: "maintenance",
}
"""Codes that trying again later may fix."""

PERMANENT_CODES: dict[int, str] = {
    300: "invalid email request",
    405: "not allowed to send (account out of credits or sending paused)",
    406: "inactive recipient (hard bounce, spam complaint or manual suppression)",
    409: "JSON required",
    410: "too many batch messages",
    411: "forbidden attachment type",
}
"""Codes about this message or recipient: no retry on Postmark can help, another channel may."""

_MAX_MESSAGE = 300


def _about_address(text: str) -> bool:
    lowered = text.lower()
    return any(word in lowered for word in ("address", "'to'", "recipient", "mailbox"))


def error_from_response(response: Response, *, provider: str) -> DeliveryError:
    """Classify a Postmark error response; raise :class:`ConfigurationError` where only configuration helps."""
    status = response.status_code
    body = json_object(response)
    code = integer_code(body, "ErrorCode")
    detail = str(body.get("Message") or f"HTTP {status}")
    message = redact_emails(f"Postmark answered HTTP {status} (ErrorCode {code}): {detail}"[:_MAX_MESSAGE])
    if status == 401 or code in CONFIGURATION_CODES:
        reason = CONFIGURATION_CODES.get(code or BAD_TOKEN, "credentials refused")
        raise ConfigurationError(
            f"provider {provider!r}: Postmark refused the request (HTTP {status}, ErrorCode {code}: {reason}); "
            "check server_token and from_address"
        )
    retry_after = parse_retry_after(response.headers.get("Retry-After"))
    if code is None or code == 0:
        return error_from_status(status, message, code=f"postmark.http_{status}", retry_after=retry_after)
    namespaced = f"postmark.{code}"
    if code == INVALID_EMAIL_REQUEST and _about_address(detail):
        return DeliveryError.permanent(ErrorCode.INVALID_RECIPIENT, message)
    if code in TRANSIENT_CODES:
        return DeliveryError.transient(namespaced, message, retry_after=retry_after)
    if code in PERMANENT_CODES:
        return DeliveryError.permanent(namespaced, message)
    # 429 and 5xx stay transient, other 4xx permanent, whatever the code.
    return error_from_status(status, message, code=namespaced, retry_after=retry_after)
