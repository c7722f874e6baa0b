"""Streaming a broadcast through a fixed pool of workers.

A fixed number of worker tasks pull messages from the source and push
results into a bounded queue, so memory depends on the concurrency, never
on the number of messages, and results come out as they finish.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, AsyncIterable, AsyncIterator, Awaitable, Callable, Iterable
from typing import Any

from broadcastio._errors import ConfigurationError, InvalidMessageError
from broadcastio._models import DeliveryResult, Message

__all__ = ["stream_results"]

_DONE = object()


class _Source:
    """Hands out (index, message) pairs from a sync or async iterable to many workers."""

    def __init__(self, messages: Iterable[Message] | AsyncIterable[Message]) -> None:
        self._index = 0
        self._lock = asyncio.Lock()
        if isinstance(messages, AsyncIterable):
            self._async_iter: AsyncIterator[Message] | None = aiter(messages)
            self._sync_iter = None
        elif isinstance(messages, Iterable) and not isinstance(messages, (str, bytes, Message)):
            self._async_iter = None
            self._sync_iter = iter(messages)
        else:
            raise InvalidMessageError(
                f"broadcast takes an iterable or async iterable of Message, got {type(messages).__name__}"
            )

    async def next(self) -> tuple[int, Message] | None:
        if self._sync_iter is not None:
            item = next(self._sync_iter, _DONE)
        else:
            assert self._async_iter is not None
            async with self._lock:  # an async generator cannot be advanced concurrently
                item = await anext(self._async_iter, _DONE)
        if item is _DONE:
            return None
        index = self._index
        self._index += 1
        if not isinstance(item, Message):
            raise InvalidMessageError(f"broadcast item #{index} is a {type(item).__name__}, not a Message")
        return index, item


async def stream_results(
    messages: Iterable[Message] | AsyncIterable[Message],
    deliver: Callable[[Message], Awaitable[DeliveryResult]],
    *,
    concurrency: int,
) -> AsyncGenerator[DeliveryResult, None]:
    """Deliver every message with at most ``concurrency`` in flight; yield
    results in completion order. An exception (bad input, configuration)
    stops the broadcast and is raised here after the workers are stopped."""
    if not isinstance(concurrency, int) or concurrency < 1:
        raise ConfigurationError(f"broadcast concurrency must be an integer >= 1, got {concurrency!r}")
    source = _Source(messages)
    results: asyncio.Queue[Any] = asyncio.Queue(maxsize=concurrency)
    failure: list[BaseException] = []

    async def worker() -> None:
        try:
            while not failure:
                item = await source.next()
                if item is None:
                    break
                await results.put(await deliver(item[1]))
        except Exception as exc:
            failure.append(exc)
        # Not in a finally: a cancelled worker (the consumer left) must not wait here.
        await results.put(_DONE)

    workers = [asyncio.ensure_future(worker()) for _ in range(concurrency)]
    running = len(workers)
    try:
        while running:
            value = await results.get()
            if value is _DONE:
                running -= 1
                continue
            yield value
        if failure:
            raise failure[0]
    finally:
        for task in workers:
            task.cancel()
        await asyncio.gather(*workers, return_exceptions=True)
