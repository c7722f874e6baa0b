"""Escalation on silence: "if it is not delivered in 10 minutes, send it through the next provider"."""

from __future__ import annotations

import datetime as dt
from typing import Literal

from msgspec import Struct

from broadcastio._errors import ConfigurationError

__all__ = ["Escalation", "EscalationLevel"]

EscalationLevel = Literal["delivered", "read"]
_LEVELS: dict[str, int] = {"delivered": 2, "read": 3}  # ReceiptLevel.DELIVERED, ReceiptLevel.READ


class Escalation(Struct, frozen=True, kw_only=True):
    """Send a message through the next provider of its route when no receipt
    of level ``unless`` arrived within ``after`` of the provider accepting it.

    Used with an outbox only: the timer is a column of the message's row, so
    it survives crashes and restarts, and firing it is one claim (exactly one
    escalation per message and provider). A receipt of level ``unless`` (or
    higher) arriving first cancels it.
    """

    after: dt.timedelta
    unless: EscalationLevel = "delivered"

    def __post_init__(self) -> None:
        if not isinstance(self.after, dt.timedelta) or self.after <= dt.timedelta(0):
            raise ConfigurationError(f"Escalation(after=...) must be a positive timedelta, got {self.after!r}")
        if self.unless not in _LEVELS:
            raise ConfigurationError(f"Escalation(unless=...) must be 'delivered' or 'read', got {self.unless!r}")

    @property
    def seconds(self) -> float:
        return self.after.total_seconds()

    @property
    def level(self) -> int:
        """The receipt level (a :class:`~broadcastio.receipts.ReceiptLevel` value) that cancels the escalation."""
        return _LEVELS[self.unless]
