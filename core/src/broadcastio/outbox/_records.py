"""What the outbox reports: row counts, campaigns, rows and their history (frozen msgspec records)."""

from __future__ import annotations

import datetime as dt
from typing import Literal

from msgspec import Struct

from broadcastio._models import DeliveryError, Message
from broadcastio.receipts._model import ReceiptLevel

__all__ = ["STATES", "CampaignStatus", "HistoryEntry", "OutboxRow", "OutboxState", "OutboxStatus"]

OutboxState = Literal["pending", "sending", "sent", "failed", "unknown", "cancelled"]
STATES: tuple[OutboxState, ...] = ("pending", "sending", "sent", "failed", "unknown", "cancelled")


class OutboxStatus(Struct, frozen=True, kw_only=True):
    """How many rows the outbox holds in each state."""

    pending: int = 0
    sending: int = 0
    sent: int = 0
    failed: int = 0
    unknown: int = 0
    cancelled: int = 0
    total: int = 0

    @property
    def open(self) -> int:
        """Rows that are not final: pending, sending and unknown."""
        return self.pending + self.sending + self.unknown

    @property
    def done(self) -> int:
        """Final rows: sent, failed and cancelled."""
        return self.sent + self.failed + self.cancelled

    @property
    def left(self) -> int:
        """The same as :attr:`open`, named as for a campaign."""
        return self.open


class CampaignStatus(Struct, frozen=True, kw_only=True):
    """One campaign (a named broadcast journalled in the outbox), counted from its rows.

    ``journalled`` is True once the whole input is in the journal: from then
    on ``outbox resume`` alone can finish the campaign, without the input.
    ``done`` counts final rows (sent, failed, cancelled); ``left`` the others.
    """

    name: str
    created_at: dt.datetime
    journalled: bool = False
    pending: int = 0
    sending: int = 0
    sent: int = 0
    failed: int = 0
    unknown: int = 0
    cancelled: int = 0
    total: int = 0

    @property
    def done(self) -> int:
        return self.sent + self.failed + self.cancelled

    @property
    def left(self) -> int:
        return self.pending + self.sending + self.unknown


class OutboxRow(Struct, frozen=True, kw_only=True):
    """One journalled message as the outbox records it.

    ``attempts`` counts delivery runs started for the row (each may make
    several provider attempts). ``next_attempt_at`` is, for a row that is not
    final, when it may be tried again: a deferred row's due time, or the
    lease expiry of a row a run holds; None for a row free now or final.
    ``row_number`` is the message's place in its input (the recipient file's
    row for the CLI), ``campaign`` the name of its campaign. ``message`` is
    decoded only when asked for, and is None when the stored bytes can no
    longer be decoded (such a row fails alone, see ``outbox.undecodable_row``).
    ``receipt_level``/``receipt_status``/``receipt_at`` are the latest receipt
    of the row's current provider; ``escalate_at`` the armed escalation
    timer; ``skip`` the providers a failed receipt or an escalation ruled out.
    """

    idempotency_key: str
    state: OutboxState
    attempts: int = 0
    last_error: DeliveryError | None = None
    provider: str | None = None
    provider_message_id: str | None = None
    reference_id: str | None = None
    route: tuple[str, ...] = ()
    owner: str | None = None
    created_at: dt.datetime | None = None
    updated_at: dt.datetime | None = None
    next_attempt_at: dt.datetime | None = None
    row_number: int | None = None
    campaign: str | None = None
    message: Message | None = None
    receipt_level: ReceiptLevel | None = None
    receipt_status: str | None = None
    receipt_at: dt.datetime | None = None
    escalate_at: dt.datetime | None = None
    skip: tuple[str, ...] = ()

    @property
    def last_error_code(self) -> str | None:
        return None if self.last_error is None else self.last_error.code

    @property
    def last_error_class(self) -> str | None:
        return None if self.last_error is None else self.last_error.error_class.value

    @property
    def last_error_message(self) -> str | None:
        return None if self.last_error is None else self.last_error.message


class HistoryEntry(Struct, frozen=True, kw_only=True):
    """One event of a row after its send: a receipt (``kind="receipt"``,
    ``detail`` the provider's status and the sink's outcome) or an escalation
    (``kind="escalation"``, ``detail`` its reason: ``failed`` receipt or ``silence``)."""

    at: dt.datetime
    kind: Literal["receipt", "escalation"]
    provider: str | None
    detail: str
    level: ReceiptLevel | None = None
    error_code: str | None = None
