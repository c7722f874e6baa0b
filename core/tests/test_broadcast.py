"""Broadcasts: streaming, bounded concurrency, bad input, flat memory."""

from __future__ import annotations

import asyncio
import gc
import tracemalloc
from collections.abc import AsyncIterator, Callable, Iterator

import pytest
from broadcastio import ConfigurationError, InvalidMessageError, MemoryProvider, Message, Orchestrator, RateLimit
from broadcastio.testing import FakeClock, FakeProvider, isolated_plugin_manager

Build = Callable[..., Orchestrator]


class Gauge(FakeProvider):
    """Counts how many sends are in flight at once."""

    def __init__(self) -> None:
        super().__init__("gauge", keep=0)
        self.in_flight = 0
        self.peak = 0

    async def send(self, message: Message, address: str):  # type: ignore[no-untyped-def]
        self.in_flight += 1
        self.peak = max(self.peak, self.in_flight)
        await asyncio.sleep(0)
        try:
            return await super().send(message, address)
        finally:
            self.in_flight -= 1


async def test_results_stream_with_bounded_concurrency(make_orchestrator: Build) -> None:
    """Every message gets a result and no more than `concurrency` are in flight."""
    gauge = Gauge()
    orchestrator = make_orchestrator([gauge])
    messages = (Message(recipient="x", text=str(i)) for i in range(500))
    results = [r async for r in orchestrator.abroadcast(messages, concurrency=7)]
    assert len(results) == 500
    assert all(r.ok for r in results)
    assert gauge.peak <= 7


async def test_async_iterable_source(make_orchestrator: Build) -> None:
    """An async generator of messages is accepted."""

    async def source() -> AsyncIterator[Message]:
        for i in range(100):
            yield Message(recipient="x", text=str(i))

    results = [r async for r in make_orchestrator([FakeProvider(keep=None)]).abroadcast(source(), concurrency=10)]
    assert len(results) == 100


async def test_results_come_as_they_finish(make_orchestrator: Build) -> None:
    """The first result arrives before the source is exhausted (streaming, not batching)."""
    produced = 0

    def source() -> Iterator[Message]:
        nonlocal produced
        for i in range(10_000):
            produced += 1
            yield Message(recipient="x", text=str(i))

    stream = make_orchestrator([FakeProvider(keep=0)]).abroadcast(source(), concurrency=4)
    first = await anext(stream)
    assert first.ok
    assert produced < 100
    await stream.aclose()


async def test_invalid_item_stops_with_its_index(make_orchestrator: Build) -> None:
    """A non-message in the stream raises, naming its position; earlier results were yielded."""
    items = [Message(recipient="x", text="ok"), {"text": "not a message"}]
    seen = []

    async def consume() -> None:
        async for result in make_orchestrator([FakeProvider()]).abroadcast(items, concurrency=1):
            seen.append(result)

    with pytest.raises(InvalidMessageError, match="item #1 is a dict"):
        await consume()
    assert len(seen) == 1


async def test_bad_arguments(make_orchestrator: Build) -> None:
    """Concurrency and rate limits are validated."""
    orchestrator = make_orchestrator([FakeProvider("a")])
    with pytest.raises(ConfigurationError, match="concurrency"):
        [r async for r in orchestrator.abroadcast([], concurrency=0)]
    with pytest.raises(ConfigurationError, match="unknown providers: b"):
        [r async for r in orchestrator.abroadcast([], rate_limits={"b": RateLimit(per_second=1)})]
    with pytest.raises(InvalidMessageError, match="iterable"):
        [r async for r in orchestrator.abroadcast(Message(recipient="x", text="a"))]  # type: ignore[arg-type]


async def test_broadcast_rate_limit(make_orchestrator: Build, clock: FakeClock) -> None:
    """A per-broadcast rate limit paces that provider on the injected clock."""
    orchestrator = make_orchestrator([FakeProvider("a", keep=None)])
    messages = [Message(recipient="x", text=str(i)) for i in range(21)]
    results = [r async for r in orchestrator.abroadcast(messages, rate_limits={"a": RateLimit(per_second=10)})]
    assert len(results) == 21
    assert clock.time == pytest.approx(2.0)


def _peak_bytes(count: int) -> int:
    provider = MemoryProvider("memory", keep=0)

    async def run() -> int:
        orchestrator = Orchestrator([provider], plugin_manager=isolated_plugin_manager())
        delivered = 0
        async for result in orchestrator.abroadcast(
            (Message(recipient="x", text="load") for _ in range(count)), concurrency=64
        ):
            delivered += result.ok
        return delivered

    gc.collect()
    tracemalloc.start()
    try:
        delivered = asyncio.run(run())
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert delivered == count
    return peak


@pytest.mark.slow
def test_memory_is_flat_in_the_number_of_messages() -> None:
    """Peak memory for 100,000 messages is about that of 10,000: nothing accumulates per message."""
    small = _peak_bytes(10_000)
    large = _peak_bytes(100_000)
    assert large < small * 1.5 + 256 * 1024, (small, large)
