"""SES v2 and SNS error responses mapped onto broadcastio's error classes.

SES v2 (a REST-JSON API) names the error in the ``x-amzn-ErrorType``
header (``MessageRejected:http://...``) and repeats it in the body
(``__type`` or ``code``), with ``{"message": ...}``. SNS (a Query API)
answers XML: ``ErrorResponse/Error/{Type,Code,Message}``. The error name is
mapped first, the HTTP status is the fallback; codes are ``ses.<Name>`` and
``sns.<Code>``. Credential and signature errors raise ConfigurationError.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import Any

from broadcastio import ConfigurationError, DeliveryError, ErrorCode
from broadcastio.addresses import redact_emails
from broadcastio.http import Response, error_from_status, json_object, parse_retry_after

from broadcastio_aws._phone import redact_phones

__all__ = [
    "CREDENTIAL_ERRORS",
    "SES_PERMANENT",
    "SES_TRANSIENT",
    "SNS_PERMANENT",
    "SNS_TRANSIENT",
    "ses_error",
    "sns_error",
    "xml_text",
]

CREDENTIAL_ERRORS = frozenset(
    {
        "AccessDeniedException",
        "AccessDenied",
        "AuthorizationError",
        "UnrecognizedClientException",
        "InvalidClientTokenId",
        "InvalidSignatureException",
        "SignatureDoesNotMatch",
        "IncompleteSignature",
        "MissingAuthenticationToken",
        "ExpiredToken",
        "ExpiredTokenException",
    }
)
"""Errors about the credentials or their permissions: they raise ConfigurationError."""

SES_CONFIGURATION = frozenset(
    {"MailFromDomainNotVerifiedException", "AccountSuspendedException", "SendingPausedException"}
)
"""SES errors that no message can avoid: the sending setup must change. Returned permanent (another
provider can still deliver), named in the error so the trace says what to fix."""

SES_TRANSIENT = frozenset(
    {"ThrottlingException", "TooManyRequestsException", "Throttling", "InternalFailure", "ServiceUnavailable"}
)
SES_PERMANENT = frozenset(
    {"MessageRejected", "BadRequestException", "LimitExceededException", "NotFoundException", *SES_CONFIGURATION}
)
SNS_TRANSIENT = frozenset(
    {"Throttling", "ThrottlingException", "KMSThrottling", "InternalError", "InternalFailure", "ServiceUnavailable"}
)
SNS_PERMANENT = frozenset(
    {"InvalidParameter", "InvalidParameterValue", "EndpointDisabled", "OptedOut", "NotFound", "ValidationError"}
)

_MAX_MESSAGE = 300


def _redact(text: str) -> str:
    return redact_phones(redact_emails(text))[:_MAX_MESSAGE]


def ses_error_name(response: Response, body: dict[str, Any]) -> str | None:
    """The SES error name from ``x-amzn-ErrorType`` or the body's ``__type``/``code``."""
    raw = response.headers.get("x-amzn-ErrorType") or body.get("__type") or body.get("code") or body.get("Code")
    if not isinstance(raw, str) or not raw:
        return None
    name = raw.split(":", 1)[0]
    return name.rsplit("#", 1)[-1] or None


def _raise_for_credentials(provider: str, service: str, name: str | None, status: int) -> None:
    if name in CREDENTIAL_ERRORS or (name is None and status in (401, 403)):
        raise ConfigurationError(
            f"provider {provider!r}: {service} refused the credentials or signature (HTTP {status}, {name}); "
            "check access_key_id, secret_access_key, session_token, region and the IAM policy"
        )


def ses_error(response: Response, *, provider: str) -> DeliveryError:
    """Classify an SES v2 error response."""
    status = response.status_code
    body = json_object(response)
    name = ses_error_name(response, body)
    _raise_for_credentials(provider, "SES", name, status)
    detail = str(body.get("message") or body.get("Message") or f"HTTP {status}")
    message = _redact(f"SES answered HTTP {status} ({name or 'no error name'}): {detail}")
    retry_after = parse_retry_after(response.headers.get("Retry-After"))
    code = f"ses.{name}" if name else f"ses.http_{status}"
    if name in SES_TRANSIENT:
        return DeliveryError.transient(code, message, retry_after=retry_after)
    if name in SES_PERMANENT:
        return DeliveryError.permanent(code, message)
    return error_from_status(status, message, code=code, retry_after=retry_after)


def xml_text(root: ET.Element | None, path: str) -> str | None:
    """Text at ``path`` (local names separated by ``/``) ignoring XML namespaces, or None."""
    if root is None:
        return None
    node: ET.Element | None = root
    for part in path.split("/"):
        assert node is not None
        node = next((child for child in node if child.tag.rsplit("}", 1)[-1] == part), None)
        if node is None:
            return None
    return (node.text or "").strip() if node is not None else None


def parse_xml(content: bytes) -> ET.Element | None:
    """The XML document's root, or None when the body is not XML."""
    try:
        return ET.fromstring(content)
    except ET.ParseError:
        return None


def sns_error(response: Response, *, provider: str) -> DeliveryError:
    """Classify an SNS Query API error response (XML ``ErrorResponse``)."""
    status = response.status_code
    root = parse_xml(response.content)
    name = xml_text(root, "Error/Code") or None
    _raise_for_credentials(provider, "SNS", name, status)
    detail = xml_text(root, "Error/Message") or f"HTTP {status}"
    message = _redact(f"SNS answered HTTP {status} ({name or 'no error code'}): {detail}")
    retry_after = parse_retry_after(response.headers.get("Retry-After"))
    code = f"sns.{name}" if name else f"sns.http_{status}"
    if name in SNS_TRANSIENT:
        return DeliveryError.transient(code, message, retry_after=retry_after)
    if name in ("InvalidParameter", "InvalidParameterValue") and "phone" in detail.lower():
        return DeliveryError.permanent(ErrorCode.INVALID_RECIPIENT, message)
    if name in SNS_PERMANENT:
        return DeliveryError.permanent(code, message)
    return error_from_status(status, message, code=code, retry_after=retry_after)
