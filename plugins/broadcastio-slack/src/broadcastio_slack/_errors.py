"""Slack's error strings mapped onto broadcastio's error classes.

The Web API answers HTTP 200 with ``{"ok": false, "error": "channel_not_found"}``
(429 with ``Retry-After`` when rate limited); incoming webhooks answer a
4xx/5xx status with the bare error string as the body. Both use the same
vocabulary, so one table classifies both.
"""

from __future__ import annotations

import re

from broadcastio import ConfigurationError, DeliveryError, ErrorCode
from broadcastio.http import error_from_status

__all__ = [
    "AMBIGUOUS_ERRORS",
    "CREDENTIAL_ERRORS",
    "TRANSIENT_ERRORS",
    "error_from_slack",
]

CREDENTIAL_ERRORS = frozenset(
    {
        "invalid_auth",
        "not_authed",
        "account_inactive",
        "token_revoked",
        "token_expired",
        "invalid_token",
        "missing_scope",
        "not_allowed_token_type",
        "no_permission",
        "team_access_not_granted",
        "no_service",
        "no_team",
    }
)
"""Only a configuration change fixes these: a new token, a scope, a new webhook."""

TRANSIENT_ERRORS = frozenset(
    {"ratelimited", "rate_limited", "service_unavailable", "request_timeout", "team_added_to_org", "rollup_error"}
)
"""Slack says trying again later may work."""

AMBIGUOUS_ERRORS = frozenset({"fatal_error", "internal_error"})
"""Slack documents these as "it's possible some aspect of the operation succeeded"."""

_SAFE = re.compile(r"[^a-z0-9_]+")


def _code(error: str) -> str:
    """``slack.<error>``, limited to Slack's own alphabet (the body could be anything)."""
    cleaned = _SAFE.sub("_", error.strip().lower())[:64].strip("_")
    return f"slack.{cleaned or 'unknown'}"


def error_from_slack(
    error: str | None, status: int, *, provider: str, retry_after: float | None = None
) -> DeliveryError:
    """Classify a Slack error string (None when the body had none) with its HTTP status.

    :raises ConfigurationError: for a rejected token or a removed webhook.
    """
    name = (error or "").strip().lower()
    if name in CREDENTIAL_ERRORS or (not name and status in (401, 403)):
        raise ConfigurationError(
            f"provider {provider!r}: Slack rejected the credentials ({name or f'HTTP {status}'}); "
            "check the token, its scopes, or the webhook URL"
        )
    if status == 429 or name in ("ratelimited", "rate_limited"):
        return DeliveryError.transient(ErrorCode.RATE_LIMITED, f"Slack: {name or 'HTTP 429'}", retry_after=retry_after)
    if name in AMBIGUOUS_ERRORS:
        return DeliveryError.ambiguous(_code(name), f"Slack: {name} (the message may have been posted)")
    if name in TRANSIENT_ERRORS:
        return DeliveryError.transient(_code(name), f"Slack: {name}", retry_after=retry_after)
    if not name:
        return error_from_status(status, f"Slack answered HTTP {status}", retry_after=retry_after)
    if status >= 500 and status != 501:
        return DeliveryError.transient(_code(name), f"Slack: {name} (HTTP {status})", retry_after=retry_after)
    return DeliveryError.permanent(_code(name), f"Slack: {name}")
