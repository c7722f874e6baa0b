"""``memory``: records what it is asked to send, with scriptable outcomes.

The test double of choice, and what the overhead benchmark measures.
"""

from __future__ import annotations

import collections
from typing import Union

from msgspec import Struct

from broadcastio._models import DeliveryError, DeliveryResult, Message, ProviderHealth
from broadcastio._provider import Provider
from broadcastio._retry import RetryPolicy

__all__ = ["DeliveredWithError", "MemoryProvider", "Outcome", "SentMessage"]


class SentMessage(Struct, frozen=True, kw_only=True):
    """One message a memory provider accepted."""

    message: Message
    address: str
    provider_message_id: str


class DeliveredWithError(Struct, frozen=True):
    """Scripted outcome: the message is delivered, but the attempt reports
    ``error`` (an ambiguous timeout after sending, typically)."""

    error: DeliveryError


Outcome = Union[None, DeliveryError, DeliveredWithError, BaseException]
"""A scripted outcome: None accepts, a DeliveryError fails, a
DeliveredWithError delivers and fails, an exception is raised."""


class MemoryProvider(Provider):
    """Accepts every message unless told otherwise.

    :param keep: how many sent messages to keep in :attr:`sent` (None: all);
        bounded by default so long broadcasts keep flat memory.
    :param idempotent: when True, a second send with an idempotency key that
        was already delivered is acknowledged without delivering again.
    """

    def __init__(
        self,
        name: str = "memory",
        channel: str = "memory",
        *,
        keep: int | None = 1000,
        idempotent: bool = False,
        retry_policy: RetryPolicy | None = None,
    ) -> None:
        self.name = name
        self.channel = channel
        self.idempotent = idempotent
        self.retry_policy = retry_policy
        self.sent: collections.deque[SentMessage] = collections.deque(maxlen=keep)
        self.calls = 0
        self.delivered_count = 0
        self._script: collections.deque[Outcome] = collections.deque()
        self._health = ProviderHealth(healthy=True, detail="memory")
        self._delivered_keys: dict[str, str] = {}

    def script(self, *outcomes: Outcome) -> None:
        """Queue outcomes for the next sends; afterwards sends succeed again."""
        self._script.extend(outcomes)

    def set_health(self, healthy: bool, detail: str = "") -> None:
        """Decide what :meth:`health` answers from now on."""
        self._health = ProviderHealth(healthy=healthy, detail=detail)

    async def health(self) -> ProviderHealth:
        return self._health

    async def send(self, message: Message, address: str) -> DeliveryResult:
        self.calls += 1
        outcome = self._script.popleft() if self._script else None
        if isinstance(outcome, BaseException):
            raise outcome
        if isinstance(outcome, DeliveryError):
            return DeliveryResult.failure(outcome)
        message_id = self._deliver(message, address)
        if isinstance(outcome, DeliveredWithError):
            return DeliveryResult.failure(outcome.error)
        return DeliveryResult.success(message_id)

    def _deliver(self, message: Message, address: str) -> str:
        key = message.metadata.idempotency_key
        if self.idempotent and key in self._delivered_keys:
            return self._delivered_keys[key]
        self.delivered_count += 1
        message_id = f"{self.name}-{self.delivered_count}"
        if self.idempotent:
            self._delivered_keys[key] = message_id
        self.sent.append(SentMessage(message=message, address=address, provider_message_id=message_id))
        return message_id
