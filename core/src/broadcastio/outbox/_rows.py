"""One journalled row read back: the decision a claim makes about it, its
stored result, its message, and whether the run holding it is alive.

Pure functions of a row (``_ROW_COLUMNS`` of ``_store``), shared by both
databases; nothing here touches a connection.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Sequence
from typing import Any

import msgspec

from broadcastio._errors import ErrorClass
from broadcastio._models import DeliveryError, DeliveryResult, DeliveryStatus, Message

__all__ = ["BUSY_CODE", "Decision", "busy", "decode_message", "encode_message", "owner_is_dead", "stored_result"]

BUSY_CODE = "outbox.in_progress"
_HOST = socket.gethostname()

_encoder = msgspec.msgpack.Encoder()
_decoder = msgspec.msgpack.Decoder(Message)


class Decision:
    """What to do with one row: ``send`` it (claimed, with its message), give
    back its stored ``result`` (``done``, or ``busy`` while another run holds
    it), or wait: ``deferred`` until ``until``. ``skip`` names the providers a
    receipt or an escalation ruled out for this row's next send."""

    __slots__ = ("attempts", "kind", "message", "result", "row_id", "row_number", "skip", "until")

    def __init__(
        self,
        kind: str,
        *,
        row_id: int = 0,
        message: Message | None = None,
        result: DeliveryResult | None = None,
        attempts: int = 0,
        row_number: int | None = None,
        until: float | None = None,
        skip: tuple[str, ...] = (),
    ) -> None:
        self.kind = kind
        self.skip = skip
        self.row_id = row_id
        self.message = message
        self.result = result
        self.attempts = attempts
        self.row_number = row_number
        self.until = until


def encode_message(message: Message) -> bytes:
    return _encoder.encode(message)


def decode_message(blob: bytes) -> Message:
    return _decoder.decode(blob)


def owner_is_dead(owner: str) -> bool:
    """True only when ``owner`` (``host:pid:random[/run]``) names a process of
    this host that no longer exists; any doubt counts as alive."""
    parts = owner.split("/", 1)[0].split(":")
    if len(parts) != 3 or parts[0] != _HOST:
        return False
    try:
        pid = int(parts[1])
    except ValueError:
        return False
    if pid <= 0 or pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except OSError:  # exists, but not ours to signal
        return False
    return False


def _error_of(row: Sequence[Any]) -> DeliveryError | None:
    code, error_class, error_message, provider = row[9], row[10], row[11], row[7]
    if code is None:
        return None
    return DeliveryError(
        code=code,
        message=error_message or "",
        error_class=ErrorClass(error_class or ErrorClass.AMBIGUOUS.value),
        provider=provider,
    )


_STATUS_OF_STATE: dict[str, DeliveryStatus] = {
    "sent": "delivered",
    "failed": "failed",
    "pending": "failed",
    "cancelled": "failed",
}


def stored_result(row: Sequence[Any]) -> DeliveryResult:
    """The result a row records (a row read with ``_ROW_COLUMNS``). A
    deferred ``pending`` row reads as failed with its transient error."""
    key, state, reference_id, provider, message_id = row[1], row[2], row[6], row[7], row[8]
    error = _error_of(row)
    status = _STATUS_OF_STATE.get(state, "unknown")
    if status != "delivered" and error is None:
        status = "unknown"
        error = DeliveryError.ambiguous(BUSY_CODE, "another run is sending this message now")
    return DeliveryResult(
        status=status,
        provider=provider,
        provider_message_id=message_id if status == "delivered" else None,
        error=error if status != "delivered" else None,
        idempotency_key=key,
        reference_id=reference_id,
    )


def busy(key: str, reference_id: str | None) -> Decision:
    error = DeliveryError.ambiguous(BUSY_CODE, "another run holds this message's lease and may be sending it")
    return Decision(
        "busy", result=DeliveryResult(status="unknown", error=error, idempotency_key=key, reference_id=reference_id)
    )
