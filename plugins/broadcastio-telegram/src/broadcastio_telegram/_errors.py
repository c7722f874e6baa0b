"""Bot API error answers mapped onto broadcastio's error classes.

Telegram answers ``{"ok": false, "error_code": 429, "description": "Too Many
Requests: retry after 5", "parameters": {"retry_after": 5}}``. The error
code is an HTTP status; the description says which 400 or 403 it is, so
well-known descriptions get their own ``telegram.*`` codes.
"""

from __future__ import annotations

from typing import Any

from broadcastio import ConfigurationError, DeliveryError, ErrorCode
from broadcastio.http import error_from_status

__all__ = ["KNOWN_DESCRIPTIONS", "error_from_answer"]

KNOWN_DESCRIPTIONS: tuple[tuple[str, str], ...] = (
    ("chat not found", "telegram.chat_not_found"),
    ("bot was blocked by the user", "telegram.bot_blocked"),
    ("bot was kicked", "telegram.bot_kicked"),
    ("user is deactivated", "telegram.user_deactivated"),
    ("bot can't initiate conversation", "telegram.cannot_initiate"),
    ("message is too long", "telegram.message_too_long"),
    ("can't parse entities", "telegram.cannot_parse_entities"),
)
"""Description fragments (lower case) of permanent errors about the chat or the text."""


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
        return None
    return float(value)


def error_from_answer(
    status: int, answer: dict[str, Any], *, provider: str, retry_after: float | None = None
) -> DeliveryError:
    """Classify an unsuccessful Bot API answer; raise :class:`ConfigurationError` for a rejected token.

    :param status: the HTTP status.
    :param answer: the decoded JSON body, or ``{}`` when there was none (a proxy page).
    :param retry_after: the Retry-After header, used when the body has no hint.
    """
    raw_code = answer.get("error_code")
    code = raw_code if isinstance(raw_code, int) and not isinstance(raw_code, bool) else status
    description = str(answer.get("description") or f"HTTP {status}")
    parameters = answer.get("parameters")
    parameters = parameters if isinstance(parameters, dict) else {}
    hint = _number(parameters.get("retry_after"))
    retry_after = hint if hint is not None else retry_after
    if code in (401, 404):
        # 401: the token was revoked or mistyped; 404: no such bot, or base_url points elsewhere.
        raise ConfigurationError(
            f"provider {provider!r}: Telegram rejected the bot token ({code} {description}); check token and base_url"
        )
    if code == 429:
        return DeliveryError.transient(ErrorCode.RATE_LIMITED, description, retry_after=retry_after)
    if "migrate_to_chat_id" in parameters:
        new_chat = parameters["migrate_to_chat_id"]
        return DeliveryError.permanent("telegram.chat_migrated", f"{description} (the chat is now {new_chat})")
    lowered = description.lower()
    for fragment, known in KNOWN_DESCRIPTIONS:
        if fragment in lowered:
            return DeliveryError.permanent(known, description)
    if code == 400:
        return DeliveryError.permanent("telegram.bad_request", description)
    if code == 403:
        return DeliveryError.permanent("telegram.forbidden", description)
    return error_from_status(code, description, retry_after=retry_after)
