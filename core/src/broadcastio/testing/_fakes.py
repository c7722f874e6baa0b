"""Scriptable fake providers, async and sync."""

from __future__ import annotations

import asyncio

from broadcastio._clock import Clock
from broadcastio._models import DeliveryResult, Message, ProviderHealth
from broadcastio._retry import RetryPolicy
from broadcastio.providers.memory import MemoryProvider, Outcome

__all__ = ["FakeProvider", "SyncFakeProvider"]


class FakeProvider(MemoryProvider):
    """A memory provider with a call log, simulated latency and scriptable health.

    :param latency: seconds each send takes, slept on ``clock`` (a
        :class:`FakeClock` makes it instant but visible in durations).
    """

    def __init__(
        self,
        name: str = "fake",
        channel: str = "fake",
        *,
        outcomes: tuple[Outcome, ...] = (),
        idempotent: bool = False,
        retry_policy: RetryPolicy | None = None,
        latency: float = 0.0,
        clock: Clock | None = None,
        keep: int | None = None,
    ) -> None:
        super().__init__(name, channel, keep=keep, idempotent=idempotent, retry_policy=retry_policy)
        self.script(*outcomes)
        self.latency = latency
        self._clock = clock
        self.call_log: list[tuple[str, str]] = []
        self.health_calls = 0
        self._health_script: list[ProviderHealth | BaseException] = []
        self.closed = 0

    def script_health(self, *answers: ProviderHealth | BaseException) -> None:
        """Queue answers for the next health checks; the last one then repeats."""
        self._health_script.extend(answers)

    async def send(self, message: Message, address: str) -> DeliveryResult:
        self.call_log.append((message.metadata.idempotency_key, address))
        if self.latency:
            if self._clock is not None:
                await self._clock.sleep(self.latency)
            else:
                await asyncio.sleep(self.latency)
        return await super().send(message, address)

    async def health(self) -> ProviderHealth:
        self.health_calls += 1
        if self._health_script:
            answer = self._health_script.pop(0) if len(self._health_script) > 1 else self._health_script[0]
            if isinstance(answer, BaseException):
                raise answer
            return answer
        return await super().health()

    async def aclose(self) -> None:
        self.closed += 1


class SyncFakeProvider:
    """A provider written with plain (non-async) methods, as a user might.

    The orchestrator runs its methods in a worker thread.
    """

    def __init__(self, name: str = "sync-fake", channel: str = "fake") -> None:
        self.name = name
        self.channel = channel
        self.sent: list[tuple[Message, str]] = []
        self.healthy = True

    def send(self, message: Message, address: str) -> DeliveryResult:
        self.sent.append((message, address))
        return DeliveryResult.success(f"{self.name}-{len(self.sent)}")

    def health(self) -> ProviderHealth:
        return ProviderHealth(healthy=self.healthy)
