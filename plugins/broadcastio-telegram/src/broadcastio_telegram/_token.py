"""The bot token: checked once, and kept out of every message, repr and log.

The Bot API puts the token in the URL path (``/bot<token>/sendMessage``),
so anything that prints a URL can leak it: exception texts, and httpx's own
INFO log line for every request. Errors are scrubbed here, and a filter on
the ``httpx`` logger rewrites bot tokens before any handler sees them.
"""

from __future__ import annotations

import logging
import re
import urllib.parse

__all__ = ["TOKEN_PATTERN", "install_httpx_log_filter", "redact_tokens", "scrub"]

TOKEN_PATTERN = re.compile(r"^\d{1,20}:[A-Za-z0-9_-]{20,100}$")
"""What a Bot API token looks like: the bot id, a colon, a URL-safe secret."""

_ANY_TOKEN = re.compile(r"\d{1,20}(?::|%3[Aa])[A-Za-z0-9_-]{20,100}")
MASK = "***"


def redact_tokens(text: str) -> str:
    """``text`` with anything shaped like a bot token replaced by ``***``."""
    return _ANY_TOKEN.sub(MASK, text)


def scrub(text: str, token: str) -> str:
    """``text`` without ``token`` (plain or percent-encoded) or any other token-shaped string."""
    for form in {token, urllib.parse.quote(token, safe="")}:
        text = text.replace(form, MASK)
    return redact_tokens(text)


class _RedactBotTokens(logging.Filter):
    """Rewrites a log record whose text holds a bot token (httpx logs each request URL at INFO)."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a broken record is logging's problem, not ours
            return True
        redacted = redact_tokens(message)
        if redacted != message:
            record.msg = redacted
            record.args = ()
        return True


_FILTER = _RedactBotTokens(name="")


def install_httpx_log_filter() -> None:
    """Attach the redacting filter to the ``httpx`` logger, once per process."""
    logger = logging.getLogger("httpx")
    if _FILTER not in logger.filters:
        logger.addFilter(_FILTER)
