"""Retry policy: how often one provider is tried, and how long to wait.

Retries are off by default (``max_attempts=1``): nothing is ever tried twice
unless the user asks for it.
"""

from __future__ import annotations

import random
from typing import Literal

import msgspec
from msgspec import Struct

from broadcastio._checks import MAX_COUNT, check_bool, check_int, check_number, check_str_tuple
from broadcastio._errors import ConfigurationError, ErrorClass
from broadcastio._models import DeliveryError

__all__ = ["Backoff", "RetryPolicy"]

Backoff = Literal["none", "fixed", "exponential"]


class RetryPolicy(Struct, frozen=True, kw_only=True):
    """When and how a failed attempt is repeated on the same provider.

    :param max_attempts: attempts per provider, the first included (1: no retry).
    :param backoff: ``"none"`` (no wait), ``"fixed"`` (``base_delay``) or
        ``"exponential"`` (``base_delay * 2**(retry-1)``), capped at ``max_delay``.
    :param jitter: full jitter: the wait is drawn uniformly from ``[0, delay]``.
    :param retry_on: error classes and/or error codes that may be retried.
        Ambiguous errors are only retried on a provider that declares
        idempotent sends, or when ``retry_ambiguous`` is set.
    :param retry_ambiguous: also retry ambiguous errors on providers without
        idempotent sends (the message may then be delivered twice).
    :param respect_retry_after: wait at least the provider's ``retry_after``
        (still capped at ``max_delay``; a longer hint ends retrying on that
        provider instead of waiting past the cap).
    """

    max_attempts: int = 1
    backoff: Backoff = "exponential"
    base_delay: float = 0.5
    max_delay: float = 30.0
    jitter: bool = True
    retry_on: tuple[str, ...] = (ErrorClass.TRANSIENT.value,)
    retry_ambiguous: bool = False
    respect_retry_after: bool = True

    def __post_init__(self) -> None:
        check_int(self.max_attempts, "RetryPolicy.max_attempts", ConfigurationError, minimum=1, maximum=MAX_COUNT)
        if self.backoff not in ("none", "fixed", "exponential"):
            raise ConfigurationError(
                f"RetryPolicy.backoff must be 'none', 'fixed' or 'exponential', got {self.backoff!r}"
            )
        check_number(self.base_delay, "RetryPolicy.base_delay", ConfigurationError)
        check_number(self.max_delay, "RetryPolicy.max_delay", ConfigurationError)
        for flag in ("jitter", "retry_ambiguous", "respect_retry_after"):
            check_bool(getattr(self, flag), f"RetryPolicy.{flag}", ConfigurationError)
        check_str_tuple(self.retry_on, "RetryPolicy.retry_on", ConfigurationError)
        retry_on_given: object = self.retry_on
        if isinstance(retry_on_given, list):  # a list is accepted for convenience, stored as a tuple
            msgspec.structs.force_setattr(self, "retry_on", tuple(retry_on_given))
        if self.base_delay > self.max_delay:
            raise ConfigurationError(
                f"RetryPolicy.base_delay ({self.base_delay}) must not exceed max_delay ({self.max_delay})"
            )
        retry_on: object = self.retry_on
        if isinstance(retry_on, str) or not all(isinstance(item, str) and item for item in self.retry_on):
            raise ConfigurationError("RetryPolicy.retry_on must be a tuple of error classes or codes")
        if ErrorClass.PERMANENT.value in self.retry_on:
            raise ConfigurationError(
                "RetryPolicy.retry_on cannot hold 'permanent': a permanent error cannot succeed on retry; "
                "list a specific error code instead if you know better"
            )

    def allows(self, error: DeliveryError, *, idempotent: bool) -> bool:
        """Whether ``error`` may be retried on a provider (attempt budget aside)."""
        if error.error_class is ErrorClass.AMBIGUOUS:
            if not (idempotent or self.retry_ambiguous):
                return False
            # An ambiguous error on a safe provider is retried like a transient one.
            return (
                ErrorClass.AMBIGUOUS.value in self.retry_on
                or ErrorClass.TRANSIENT.value in self.retry_on
                or error.code in self.retry_on
            )
        if error.error_class is ErrorClass.PERMANENT:
            return error.code in self.retry_on
        return error.error_class.value in self.retry_on or error.code in self.retry_on

    def backoff_delay(self, retry: int, rng: random.Random | None = None) -> float:
        """Seconds to wait before retry number ``retry`` (1 for the first retry).

        Always within ``[0, max_delay]``.
        """
        if self.backoff == "none" or retry < 1:
            return 0.0
        # The exponent is capped so huge retry numbers cannot overflow.
        delay = self.base_delay if self.backoff == "fixed" else self.base_delay * (2.0 ** min(retry - 1, 64))
        delay = min(delay, self.max_delay)
        if self.jitter:
            delay = (rng or random).uniform(0.0, delay)
        return max(0.0, min(delay, self.max_delay))

    def delay_before_retry(self, retry: int, error: DeliveryError, rng: random.Random | None = None) -> float | None:
        """Seconds to wait before retry ``retry`` after ``error``, or None when
        the provider's Retry-After hint is longer than ``max_delay``."""
        delay = self.backoff_delay(retry, rng)
        if self.respect_retry_after and error.retry_after is not None:
            if error.retry_after > self.max_delay:
                return None
            delay = max(delay, error.retry_after)
        return delay
