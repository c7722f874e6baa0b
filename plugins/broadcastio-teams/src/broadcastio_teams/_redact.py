"""Keeping the incoming-webhook URL secret.

A Teams webhook URL (its `sig=` signature included) is its own credential (whoever has it can post), so
it must not appear in errors, repr or logs. httpx logs every request URL at
INFO; a filter on the ``httpx`` logger rewrites registered secrets before
any handler sees the record, and :func:`scrub` cleans error texts.
"""

from __future__ import annotations

import logging
import urllib.parse

__all__ = ["MASK", "install_httpx_log_filter", "register_secret", "scrub"]

MASK = "***"
_SECRETS: set[str] = set()


def _forms(secret: str) -> set[str]:
    return {secret, urllib.parse.quote(secret, safe=""), urllib.parse.quote(secret, safe="/")}


def register_secret(secret: str) -> None:
    """Have the log filter hide ``secret`` (plain or percent-encoded) from now on."""
    if secret:
        _SECRETS.update(_forms(secret))


def scrub(text: str, *secrets: str) -> str:
    """``text`` with every given and registered secret replaced by ``***``."""
    forms = set(_SECRETS)
    for secret in secrets:
        if secret:
            forms.update(_forms(secret))
    for form in sorted(forms, key=len, reverse=True):  # longest first: a prefix must not leave a tail
        text = text.replace(form, MASK)
    return text


class _RedactSecrets(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a broken record is logging's problem, not ours
            return True
        redacted = scrub(message)
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
