"""Throttling answers: the provider asks us to slow down, it is not failing.

An HTTP 429 or an SMTP 421/4.7.x reply says the service is healthy but we
are too fast. Counting it as a breaker failure turned a short 429 storm into
an open breaker and a campaign of skipped messages, so such an answer
pauses new attempts on that provider instead (for its Retry-After, or a
short default) and never opens the breaker.
"""

from __future__ import annotations

from broadcastio._errors import ErrorClass, ErrorCode
from broadcastio._models import DeliveryError

__all__ = ["DEFAULT_PAUSE", "MAX_PAUSE", "is_throttling", "pause_for"]

DEFAULT_PAUSE = 1.0
"""Seconds a provider is paused after a throttling answer without Retry-After."""

MAX_PAUSE = 300.0
"""Longest pause taken from a provider's hint; longer hints are capped."""


def is_throttling(error: DeliveryError, provider_codes: frozenset[str] = frozenset()) -> bool:
    """True for a transient ``rate_limited`` answer, or one of the provider's own throttling codes.

    Providers that keep namespaced codes (``twilio.20429``, ``whatsapp-cloud.130429``) list them in
    their ``throttling_codes``; the rest map HTTP 429 and SMTP 421/4.7.x to ``rate_limited``.
    """
    if error.error_class is not ErrorClass.TRANSIENT:
        return False
    return error.code == ErrorCode.RATE_LIMITED or error.code in provider_codes


def pause_for(error: DeliveryError) -> float:
    """How long to hold new attempts back after the throttling answer ``error``."""
    hint = error.retry_after
    if hint is None:
        return DEFAULT_PAUSE
    return min(max(hint, 0.0), MAX_PAUSE)
