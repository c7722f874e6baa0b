"""FCM HTTP v1 error answers mapped onto broadcastio's error classes.

FCM answers a Google API error, ``{"error": {"code": 404, "message": ...,
"status": "NOT_FOUND", "details": [{"@type":
"type.googleapis.com/google.firebase.fcm.v1.FcmError", "errorCode":
"UNREGISTERED"}]}}``; the FCM ``errorCode`` in ``details`` says more than the
HTTP status, so it is mapped first (see the ErrorCode enum of the FCM v1
reference).
"""

from __future__ import annotations

from typing import Any

from broadcastio import ConfigurationError, DeliveryError, ErrorCode
from broadcastio.http import error_from_status

__all__ = ["error_from_answer", "fcm_error_code"]

_FCM_ERROR = "type.googleapis.com/google.firebase.fcm.v1.FcmError"


def fcm_error_code(error: dict[str, Any]) -> str | None:
    """The FCM ``errorCode`` of a Google API error object, or None."""
    details = error.get("details")
    if not isinstance(details, list):
        return None
    for detail in details:
        if isinstance(detail, dict) and detail.get("@type") == _FCM_ERROR and isinstance(detail.get("errorCode"), str):
            return str(detail["errorCode"])
    return None


def error_from_answer(
    status: int, body: dict[str, Any], *, provider: str, retry_after: float | None = None
) -> DeliveryError:
    """Classify an FCM error answer; raise :class:`ConfigurationError` where only configuration can help."""
    raw = body.get("error")
    error = raw if isinstance(raw, dict) else {}
    message = str(error.get("message") or f"HTTP {status}")
    code = fcm_error_code(error)
    if code == "THIRD_PARTY_AUTH_ERROR":
        raise ConfigurationError(
            f"provider {provider!r}: FCM says the APNs certificate or web push auth key of the Firebase project "
            f"was rejected ({message})"
        )
    if status == 401:
        raise ConfigurationError(f"provider {provider!r}: FCM rejected the OAuth access token (HTTP 401: {message})")
    if code == "UNREGISTERED":
        return DeliveryError.permanent(ErrorCode.INVALID_RECIPIENT, f"the registration token is gone: {message}")
    if code == "SENDER_ID_MISMATCH":
        return DeliveryError.permanent("fcm.sender_id_mismatch", message)
    if code == "INVALID_ARGUMENT":
        return DeliveryError.permanent("fcm.invalid_argument", message)
    if code == "QUOTA_EXCEEDED":
        return DeliveryError.transient(ErrorCode.RATE_LIMITED, message, retry_after=retry_after)
    if code in ("UNAVAILABLE", "INTERNAL"):
        return DeliveryError.transient(f"fcm.{code.lower()}", message, retry_after=retry_after)
    if code is None and status in (403, 404):
        # Not about the device: the service account lacks permission, the API is off, or project_id is wrong.
        raise ConfigurationError(
            f"provider {provider!r}: FCM refused the project (HTTP {status}: {message}); "
            "check project_id, base_url and the service account's Firebase messaging permission"
        )
    return error_from_status(status, message, code=f"fcm.{code.lower()}" if code else None, retry_after=retry_after)
