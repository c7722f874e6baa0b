"""Streaming a broadcast through a fixed pool of workers: the one delivery path.

A fixed number of worker tasks pull work from a source and push results
into a bounded queue, so memory depends on the concurrency, never on the
number of messages, and results come out as they finish. With an outbox
the same pool runs with a *journal* around each delivery (claim before,
record after, see ``broadcastio.outbox``); without one it calls the
deliverer directly. A :class:`RunControl` stops either gracefully.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncGenerator, AsyncIterable, AsyncIterator, Awaitable, Callable, Iterable
from typing import Any, Protocol, runtime_checkable

from broadcastio._errors import ConfigurationError, InvalidMessageError
from broadcastio._models import DeliveryResult, Message

__all__ = ["EMPTY", "Journal", "RunControl", "Source", "message_source", "stream_results"]

_DONE = object()
EMPTY = object()
"""What :meth:`Source.poll` returns when no work is ready right now."""


class RunControl:
    """Stops a running broadcast or resume from outside (a signal handler, a deploy hook).

    :meth:`stop` stops taking new messages and lets the attempts in flight
    finish for up to ``grace`` seconds; then they are cut off (with an outbox
    their rows become ``unknown``). :meth:`abort` cuts them off at once. Both
    may be called from any thread. A journalled run also reports here what
    it found: ``already_done`` (results given back from the outbox without
    sending), ``already_sent`` (of those, delivered), ``deferred`` and
    ``deferred_until`` (rows waiting for their next attempt when the run
    ended), ``leased`` and ``leased_until`` (rows another live run holds).
    """

    def __init__(self) -> None:
        self.stopping = False
        self.aborted = False
        self.grace = 0.0
        self.campaign: str | None = None
        self.already_done = 0
        self.already_sent = 0
        self.deferred = 0
        self.deferred_until: float | None = None
        self.leased = 0
        self.leased_until: float | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop_event: asyncio.Event | None = None
        self._abort_event: asyncio.Event | None = None

    def reset_report(self) -> None:
        """Clear what the previous run reported (a control may serve several runs in turn)."""
        self.campaign = None
        self.already_done = self.already_sent = self.deferred = self.leased = 0
        self.deferred_until = self.leased_until = None

    def stop(self, grace: float = 10.0) -> None:
        """Take no new message; cut off what is in flight after ``grace`` seconds."""
        if not self.stopping:
            self.grace = max(0.0, float(grace))
        self.stopping = True
        self._signal(self._stop_event)

    def abort(self) -> None:
        """Stop at once: cut off the attempts in flight now."""
        self.stopping = self.aborted = True
        self._signal(self._stop_event)
        self._signal(self._abort_event)

    def _signal(self, event: asyncio.Event | None) -> None:
        loop = self._loop
        if event is None or loop is None or loop.is_closed():
            return
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:
            event.set()
        else:
            loop.call_soon_threadsafe(event.set)

    def attach(self) -> tuple[asyncio.Event, asyncio.Event]:
        """Bind to the running loop (called by the run); events already due are set."""
        loop = asyncio.get_running_loop()
        if self._loop is loop and self._stop_event is not None and self._abort_event is not None:
            return self._stop_event, self._abort_event
        self._loop = loop
        self._stop_event, self._abort_event = asyncio.Event(), asyncio.Event()
        if self.stopping:
            self._stop_event.set()
        if self.aborted:
            self._abort_event.set()
        return self._stop_event, self._abort_event


@runtime_checkable
class Source(Protocol):
    """Where workers take their next piece of work from."""

    async def next(self) -> Any:
        """The next item (a Message, a journal item or a DeliveryResult to pass on), or None at the end."""

    def poll(self) -> Any:
        """The next item if one is ready now, else :data:`EMPTY`."""


class Journal(Protocol):
    """What the pool calls around each delivery when an outbox journals the run."""

    async def start(self, item: Any, done: tuple[Any, DeliveryResult] | None) -> tuple[Message | None, Any]:
        """Record ``done`` (if any) and claim ``item``; returns the message to send
        (None: skip it) and the result to yield for ``done`` (None: nothing)."""

    async def finish(self, done: tuple[Any, DeliveryResult]) -> DeliveryResult | None:
        """Record one outcome; returns the result to yield, or None."""

    def delivered(self, item: Any, result: DeliveryResult) -> None:
        """Note an outcome not recorded yet (recorded at the end if the run stops)."""

    async def abandon(self, item: Any, exc: BaseException) -> None:
        """The delivery of ``item`` raised ``exc`` (a configuration error)."""


class _MessageSource:
    """Hands out messages from a sync or async iterable to many workers."""

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

    async def next(self) -> Message | None:
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
        return item

    def poll(self) -> Any:
        return EMPTY


def message_source(messages: Iterable[Message] | AsyncIterable[Message]) -> Source:
    """A source of the messages of a sync or async iterable (checked as they come)."""
    return _MessageSource(messages)


def check_concurrency(concurrency: int) -> None:
    if not isinstance(concurrency, int) or isinstance(concurrency, bool) or concurrency < 1:
        raise ConfigurationError(f"broadcast concurrency must be an integer >= 1, got {concurrency!r}")


async def stream_results(
    messages: Iterable[Message] | AsyncIterable[Message] | Source,
    deliver: Callable[[Message], Awaitable[DeliveryResult]],
    *,
    concurrency: int,
    journal: Journal | None = None,
    control: RunControl | None = None,
) -> AsyncGenerator[DeliveryResult, None]:
    """Deliver every message with at most ``concurrency`` in flight; yield
    results in completion order. An exception (bad input, configuration)
    stops the broadcast and is raised here after the workers are stopped.

    ``messages`` may be a :class:`Source`; with a ``journal`` it must be one
    (the journal's claimed rows). ``control`` stops the run gracefully.
    """
    check_concurrency(concurrency)
    source = messages if isinstance(messages, Source) else message_source(messages)
    results: asyncio.Queue[Any] = asyncio.Queue(maxsize=concurrency)
    failure: list[BaseException] = []
    idle: set[asyncio.Task[Any]] = set()
    closing = False
    control = control or RunControl()
    stop_event, abort_event = control.attach()

    async def take(carry: tuple[Any, DeliveryResult] | None) -> tuple[Any, tuple[Any, DeliveryResult] | None]:
        """The next item; an outcome held back is recorded before waiting for work."""
        item = source.poll()
        if item is EMPTY:
            if carry is not None:
                assert journal is not None
                shown = await journal.finish(carry)
                carry = None
                if shown is not None:
                    await results.put(shown)
            if control.stopping:
                return None, None
            task = asyncio.current_task()
            assert task is not None
            idle.add(task)
            try:
                item = await source.next()
            finally:
                idle.discard(task)
        return item, carry

    async def plain_worker() -> None:
        """Without a journal: take a message, deliver it, pass the result on."""
        task = asyncio.current_task()
        assert task is not None
        try:
            while not failure and not control.stopping:
                idle.add(task)
                try:
                    item = await source.next()
                finally:
                    idle.discard(task)
                if item is None:
                    break
                await results.put(item if isinstance(item, DeliveryResult) else await deliver(item))
        except asyncio.CancelledError:
            if closing:
                raise  # the consumer left: nobody reads results any more
        except Exception as exc:
            failure.append(exc)
        await results.put(_DONE)

    async def worker() -> None:
        """With a journal: claim before each delivery, record after (sharing a commit with the next claim)."""
        assert journal is not None
        carry: tuple[Any, DeliveryResult] | None = None
        try:
            while not failure and not control.stopping:
                item, carry = await take(carry)
                if item is None:
                    break
                if isinstance(item, DeliveryResult):
                    await results.put(item)
                    continue
                message, shown = await journal.start(item, carry)
                carry = None
                if shown is not None:
                    await results.put(shown)
                if message is None:
                    continue
                try:
                    result = await deliver(message)
                except Exception as exc:
                    await journal.abandon(item, exc)
                    raise
                journal.delivered(item, result)
                carry = (item, result)
            if carry is not None:
                shown = await journal.finish(carry)
                if shown is not None:
                    await results.put(shown)
        except asyncio.CancelledError:
            if closing:
                raise  # the consumer left: nobody reads results any more
        except Exception as exc:
            failure.append(exc)
        await results.put(_DONE)

    async def watch() -> None:
        """On stop: idle workers end now, busy ones after the grace period (or an abort)."""
        await stop_event.wait()
        for task in list(idle):
            task.cancel()
        if not control.aborted:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(abort_event.wait(), control.grace)
        for task in workers:
            task.cancel()

    body = worker if journal is not None else plain_worker
    workers = [asyncio.ensure_future(body()) for _ in range(concurrency)]
    watcher = asyncio.ensure_future(watch())
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
        closing = True
        for task in (*workers, watcher):
            task.cancel()
        await asyncio.gather(*workers, watcher, return_exceptions=True)
