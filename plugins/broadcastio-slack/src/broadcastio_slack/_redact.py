"""Keeping the webhook URL secret.

A Slack incoming webhook URL is its own credential: whoever has it can post.
It must not appear in errors, repr or logs. httpx logs every request URL at
INFO; a filter on the ``httpx`` logger rewrites the secret part of such URLs
before any handler sees the record (by their documented shape, and by the
exact secrets of the providers built so far), and :func:`scrub` cleans error
texts.
"""

from __future__ import annotations

import logging
import re
import urllib.parse

__all__ = ["MASK", "install_httpx_log_filter", "redact_urls", "register_secret", "scrub"]

MASK = "***"
_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = ((re.compile(r"/services/[^\s\"'?#]+"), "/services/" + MASK),)
_MIN_REGISTERED = 16
"""Shorter secrets are not registered process-wide: they could mask unrelated text in other loggers' lines."""
_SECRETS: set[str] = set()


def _forms(secret: str) -> set[str]:
    return {secret, urllib.parse.quote(secret, safe=""), urllib.parse.quote(secret, safe="/")}


def register_secret(secret: str) -> None:
    """Have the log filter hide ``secret`` (plain or percent-encoded) from now on, when it is long enough."""
    if len(secret) >= _MIN_REGISTERED:
        _SECRETS.update(_forms(secret))


def redact_urls(text: str) -> str:
    """``text`` with the secret part of every Slack incoming-webhook URL masked, and every registered secret."""
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    for form in sorted(_SECRETS, key=len, reverse=True):  # longest first: a prefix must not leave a tail
        text = text.replace(form, MASK)
    return text


def scrub(text: str, *secrets: str) -> str:
    """``text`` without the given secrets (plain or percent-encoded) or any webhook URL's secret part."""
    forms: set[str] = set()
    for secret in secrets:
        if secret:
            forms.update(_forms(secret))
    for form in sorted(forms, key=len, reverse=True):
        text = text.replace(form, MASK)
    return redact_urls(text)


class _RedactSecrets(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a broken record is logging's problem, not ours
            return True
        redacted = redact_urls(message)
        if redacted != message:
            record.msg = redacted
            record.args = ()
        return True


_FILTER = _RedactSecrets(name="")


def install_httpx_log_filter() -> None:
    """Attach the redacting filter to the ``httpx`` logger, once per process."""
    logger = logging.getLogger("httpx")
    if _FILTER not in logger.filters:
        logger.addFilter(_FILTER)
