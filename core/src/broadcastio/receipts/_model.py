"""What a delivery receipt says, and where receipts go.

A receipt is the provider telling us, after it accepted a message, how far
the message got: sent to the carrier, delivered to the device, read, or
failed after all. It is matched to the journalled message by the provider's
message id (or by the idempotency key, where the provider echoes one), and
recorded by a :class:`ReceiptSink`: the outbox in production, a memory sink
in tests.
"""

from __future__ import annotations

import datetime as dt
import enum
from typing import Literal, Protocol, runtime_checkable

from msgspec import Struct

from broadcastio._models import DeliveryError

__all__ = ["Receipt", "ReceiptLevel", "ReceiptSink", "RecordOutcome"]


class ReceiptLevel(enum.IntEnum):
    """How far a message got, in order; ``FAILED`` is terminal and outranks nothing.

    Levels only rise: a ``delivered`` receipt arriving after ``read`` changes
    nothing. ``FAILED`` means the provider gave up after accepting the
    message (Twilio ``undelivered``/``failed``, Meta ``failed``,
    node-whatsapp ack ``error``): the channel has definitely not delivered it.
    """

    FAILED = -1
    ACCEPTED = 0
    SENT = 1
    DELIVERED = 2
    READ = 3


class Receipt(Struct, frozen=True, kw_only=True):
    """One status callback from a provider, after its signature was verified.

    :param provider_type: the provider type that sent it (``sms``, ``whatsapp-cloud``, ``whatsapp``).
    :param receipt_id: what makes a replay recognisable (provider's event id, or
        message id + status + timestamp); the same ``receipt_id`` twice is recorded once.
    :param provider_message_id: the id the provider returned on send.
    :param idempotency_key: the message's key, where the provider echoes it.
    :param level: how far the message got.
    :param status: the provider's own word (``undelivered``, ``read``, ...).
    :param error: for ``FAILED``, the provider's code classified like any error.
    :param occurred_at: when the provider says it happened (else when received).
    :param provider: the configured provider (its name in ``broadcastio.toml``)
        whose endpoint received it; the receipts app sets it.
    """

    provider_type: str
    receipt_id: str
    provider_message_id: str | None = None
    idempotency_key: str | None = None
    level: ReceiptLevel
    status: str
    error: DeliveryError | None = None
    occurred_at: dt.datetime
    provider: str | None = None


RecordOutcome = Literal["recorded", "duplicate", "orphaned", "stale"]
"""What a sink did with a receipt: stored it, had it already, matched no
message (kept as orphaned), or matched a message already at a higher level."""


@runtime_checkable
class ReceiptSink(Protocol):
    """Where verified receipts are recorded (the outbox, or a memory sink)."""

    async def record(self, receipt: Receipt) -> RecordOutcome:
        """Record ``receipt`` idempotently and say what happened."""
        ...
