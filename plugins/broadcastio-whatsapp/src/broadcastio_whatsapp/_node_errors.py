"""node-whatsapp's error codes, and what each means for a delivery.

The service answers every failure with ``{"error": {"code", "message",
"field"?}}``; the code, not the HTTP status, decides the error class.
"""

from __future__ import annotations

from broadcastio import ConfigurationError, DeliveryError, ErrorClass
from broadcastio.http import Response, error_from_status, json_object, parse_retry_after

__all__ = ["CODE_CLASSES", "error_from_response"]

CODE_PREFIX = "whatsapp."

CODE_CLASSES: dict[str, ErrorClass] = {
    "NOT_READY": ErrorClass.TRANSIENT,
    "RATE_LIMITED": ErrorClass.TRANSIENT,
    "IN_FLIGHT": ErrorClass.TRANSIENT,
    "SHUTTING_DOWN": ErrorClass.TRANSIENT,
    "INVALID_RECIPIENT": ErrorClass.PERMANENT,
    "NOT_ON_WHATSAPP": ErrorClass.PERMANENT,
    "IDEMPOTENCY_MISMATCH": ErrorClass.PERMANENT,
    "INVALID_REQUEST": ErrorClass.PERMANENT,
    "NOT_FOUND": ErrorClass.PERMANENT,
    "TIMEOUT_AFTER_SEND": ErrorClass.AMBIGUOUS,
    # The service documents INTERNAL as "the send may or may not have
    # happened" (WhatsApp Web threw mid-send), so it is ambiguous, not
    # transient: the trace must say the message may have been delivered.
    "INTERNAL": ErrorClass.AMBIGUOUS,
    # A retry of a key whose first send ended TIMEOUT_AFTER_SEND or INTERNAL:
    # the service refuses to send it again; it may have been delivered.
    "OUTCOME_UNKNOWN": ErrorClass.AMBIGUOUS,
}
"""Every code node-whatsapp documents except UNAUTHORIZED, which raises."""


def error_from_response(response: Response, *, provider: str) -> DeliveryError:
    """Classify a non-2xx answer of ``POST /messages``.

    :raises ConfigurationError: on 401: the bearer token is wrong or missing,
        which no retry or fallback can fix.
    """
    error = json_object(response, "error")
    raw_code, raw_message = error.get("code"), error.get("message")
    code = raw_code if isinstance(raw_code, str) and raw_code else None
    message = raw_message if isinstance(raw_message, str) else ""
    field = error.get("field")
    if isinstance(field, str) and field and field not in message:
        message = f"{message} (field: {field})"
    message = message or f"node-whatsapp answered HTTP {response.status_code}"
    if code == "UNAUTHORIZED" or response.status_code == 401:
        raise ConfigurationError(
            f"provider {provider!r}: node-whatsapp refused the bearer token ({message}); "
            "set the provider's 'token' to the service's WA_TOKEN"
        )
    retry_after = parse_retry_after(response.headers.get("Retry-After"))
    if code is not None and code in CODE_CLASSES:
        full_code = f"{CODE_PREFIX}{code}"
        error_class = CODE_CLASSES[code]
        if error_class is ErrorClass.TRANSIENT:
            return DeliveryError.transient(full_code, message, retry_after=retry_after)
        if error_class is ErrorClass.AMBIGUOUS:
            return DeliveryError.ambiguous(full_code, message)
        return DeliveryError.permanent(full_code, message)
    # A code this client does not know yet (or no JSON at all): the status decides.
    return error_from_status(
        response.status_code, message, code=f"{CODE_PREFIX}{code}" if code else None, retry_after=retry_after
    )
