"""Meta Graph API errors, and what each means for a delivery.

Errors come as ``{"error": {"message", "type", "code", "error_subcode",
"fbtrace_id"}}``. Meta asks clients to act on ``code``; the HTTP status is
the fallback for codes not listed here.
"""

from __future__ import annotations

from broadcastio import ConfigurationError, DeliveryError
from broadcastio.http import Response, error_from_status, integer_code, json_object, parse_retry_after

__all__ = ["CODE_PREFIX", "PERMANENT_CODES", "THROTTLING_CODES", "TRANSIENT_CODES", "error_from_response"]

CODE_PREFIX = "whatsapp-cloud."

TRANSIENT_CODES = frozenset(
    {
        2,  # temporary Graph API downtime
        4,  # application request limit reached
        80007,  # WhatsApp Business Account rate limit
        130429,  # throughput rate limit
        131016,  # service unavailable
        131048,  # spam rate limit: this number sent too much that recipients flagged; Meta answers HTTP 400
        131056,  # too many messages to the same recipient (pair rate limit)
    }
)
THROTTLING_CODES = frozenset(f"{CODE_PREFIX}{code}" for code in (4, 80007, 130429, 131048, 131056))
"""Meta's rate limits: they pause the provider instead of counting towards its breaker."""
PERMANENT_CODES = frozenset(
    {
        131008,  # required parameter missing
        131026,  # message undeliverable (not on WhatsApp, old client, terms not accepted)
        131047,  # more than 24 hours since the user last wrote: send a template instead
        132000,  # template parameter count mismatch
        132001,  # template does not exist in that language
    }
)
TOKEN_CODE = 190  # access token expired or invalid


def error_from_response(response: Response, *, provider: str) -> DeliveryError:
    """Classify a non-2xx Graph API answer.

    :raises ConfigurationError: on code 190 (or HTTP 401): the access token
        is expired or wrong, which no retry or fallback can fix.
    """
    error = json_object(response, "error")
    code = integer_code(error)
    raw_message = error.get("message")
    message = raw_message if isinstance(raw_message, str) else ""
    message = message or f"Graph API answered HTTP {response.status_code}"
    subcode = error.get("error_subcode")
    trace_id = error.get("fbtrace_id")
    if subcode is not None:
        message = f"{message} (subcode {subcode})"
    if isinstance(trace_id, str) and trace_id:
        message = f"{message} [fbtrace_id {trace_id}]"
    if code == TOKEN_CODE or response.status_code == 401:
        raise ConfigurationError(
            f"provider {provider!r}: the Graph API refused the access token ({message}); "
            "set a valid, unexpired 'access_token'"
        )
    retry_after = parse_retry_after(response.headers.get("Retry-After"))
    full_code = f"{CODE_PREFIX}{code}" if code is not None else None
    if code in TRANSIENT_CODES:
        return DeliveryError.transient(f"{CODE_PREFIX}{code}", message, retry_after=retry_after)
    if code in PERMANENT_CODES:
        return DeliveryError.permanent(f"{CODE_PREFIX}{code}", message)
    return error_from_status(response.status_code, message, code=full_code, retry_after=retry_after)
