"""Broadcasting and resuming through an outbox.

One feeder journals the source a chunk at a time (one transaction per
chunk) and hands claimed rows to a fixed pool of workers through a bounded
queue. Each worker commits ``sending`` before it calls the providers and
the outcome after; the writer thread groups those commits, so one fsync
serves many messages. A background task renews the leases of the rows this
run holds, and whatever it still holds when it stops is given back.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncGenerator, AsyncIterable, AsyncIterator, Awaitable, Callable, Iterable, Sequence
from typing import Any

from broadcastio._errors import ConfigurationError, InvalidMessageError, UsageError
from broadcastio._models import DeliveryResult, Message
from broadcastio._outbox_store import (
    claim_open,
    finish_and_start,
    journal_chunk,
    mark_all_final,
    mark_final,
    mark_sending,
    release,
    renew,
)
from broadcastio._routing import ProviderSlot
from broadcastio.outbox import Outbox

__all__ = ["outbox_broadcast", "outbox_resume"]

CHUNK = 256
_DONE = object()
Deliver = Callable[[Message, Sequence[ProviderSlot]], Awaitable[DeliveryResult]]
Resolve = Callable[[tuple[str, ...] | None], Sequence[ProviderSlot]]


def _check_concurrency(concurrency: int) -> None:
    if not isinstance(concurrency, int) or concurrency < 1:
        raise ConfigurationError(f"broadcast concurrency must be an integer >= 1, got {concurrency!r}")


def _idempotent_names(slots: Sequence[ProviderSlot], all_slots: Iterable[ProviderSlot]) -> frozenset[str]:
    """Providers whose earlier attempt may be repeated safely; none unless this
    run's own route is idempotent throughout (a resend may reach any of them)."""
    if not all(slot.idempotent for slot in slots):
        return frozenset()
    return frozenset(slot.name for slot in all_slots if slot.idempotent)


class _Run:
    """The shared state of one outbox run: its workers, its leases, its results."""

    def __init__(self, outbox: Outbox, deliver: Deliver, slots: Sequence[ProviderSlot], concurrency: int) -> None:
        if outbox.closed:
            raise UsageError("this Outbox is closed")
        self.outbox = outbox
        self.writer = outbox.writer
        self.owner = outbox.run_owner()  # one lease id per run, so a run can release exactly its own rows
        self.lease = outbox.lease_seconds
        self.deliver = deliver
        self.slots = slots
        self.route = ",".join(slot.name for slot in slots)
        self.concurrency = concurrency
        self.work: asyncio.Queue[Any] = asyncio.Queue(maxsize=max(CHUNK, concurrency))
        self.results: asyncio.Queue[Any] = asyncio.Queue(maxsize=concurrency)
        self.held: set[int] = set()  # rows this run has claimed and not finished
        self.failure: list[BaseException] = []
        self.finished = False
        self.unrecorded: dict[int, DeliveryResult] = {}  # delivered, outcome not committed yet

    def lease_until(self) -> tuple[float, float]:
        now = self.outbox.now()
        return now, now + self.lease

    def hold(self, decisions: Sequence[tuple[str, Any, Any]]) -> None:
        """Note the rows just claimed, so their leases are renewed while they wait in the queue."""
        self.held.update(value for kind, value, _ in decisions if kind == "send")

    async def accept(self, decision: tuple[str, Any, Any], message: Message | None) -> None:
        """Queue one decision for the workers: a row to send, or a result to pass through."""
        kind, value, stored = decision
        if kind == "send":
            await self.work.put((value, stored if stored is not None else message))
        else:
            await self.work.put(value)  # a stored or busy result

    async def worker(self) -> None:
        """Send rows one at a time. A row's outcome is committed together with
        the ``sending`` mark of the worker's next row when one is waiting, so
        each message costs one round trip to the writer, not two."""
        writer, owner, route = self.writer, self.owner, self.route
        carry: tuple[int, DeliveryResult] | None = None  # delivered, outcome not committed yet
        try:
            while not self.failure:
                if carry is not None and self.work.empty():
                    await self.record(carry)
                    carry = None
                item = await self.work.get()
                if item is _DONE:
                    break
                if isinstance(item, DeliveryResult):
                    await self.results.put(item)
                    continue
                row_id, message = item
                now, until = self.lease_until()
                if carry is None:
                    claimed = await writer.submit(mark_sending, row_id, owner, now, until, route)
                else:
                    done_id, done = carry
                    claimed = await writer.submit(finish_and_start, done_id, done, now, row_id, owner, until, route)
                    carry = None
                    self.recorded(done_id)
                    await self.results.put(done)
                if not claimed:
                    self.held.discard(row_id)  # another run took it over; it reports the row
                    continue
                result = await self.deliver(message, self.slots)
                carry = (row_id, result)
                self.unrecorded[row_id] = result
            if carry is not None:
                await self.record(carry)
        except Exception as exc:
            self.failure.append(exc)
        await self.results.put(_DONE)  # not when cancelled: nobody reads results any more

    async def record(self, outcome: tuple[int, DeliveryResult]) -> None:
        row_id, result = outcome
        await self.writer.submit(mark_final, row_id, result, self.outbox.now())
        self.recorded(row_id)
        await self.results.put(result)

    def recorded(self, row_id: int) -> None:
        self.unrecorded.pop(row_id, None)
        self.held.discard(row_id)

    async def heartbeat(self) -> None:
        """Renew this run's leases well before they expire (real time, not the orchestrator's clock)."""
        while True:
            await asyncio.sleep(self.lease / 3)
            if self.held:
                _, until = self.lease_until()
                await self.writer.submit(renew, list(self.held), self.owner, until)

    async def finish_feeding(self) -> None:
        for _ in range(self.concurrency):
            await self.work.put(_DONE)

    async def stream(self, feeder: Callable[[], Awaitable[None]]) -> AsyncGenerator[DeliveryResult, None]:
        async def feed() -> None:
            try:
                await feeder()
            except Exception as exc:
                self.failure.append(exc)
                # unblock workers waiting for work
                with contextlib.suppress(asyncio.QueueFull):
                    for _ in range(self.concurrency):
                        self.work.put_nowait(_DONE)
                return
            await self.finish_feeding()

        workers = [asyncio.ensure_future(self.worker()) for _ in range(self.concurrency)]
        helpers = [asyncio.ensure_future(feed()), asyncio.ensure_future(self.heartbeat())]
        running = len(workers)
        try:
            while running:
                value = await self.results.get()
                if value is _DONE:
                    running -= 1
                    continue
                yield value
            if self.failure:
                raise self.failure[0]
            self.finished = True
        finally:
            for task in (*workers, *helpers):
                task.cancel()
            await asyncio.gather(*workers, *helpers, return_exceptions=True)
            if not self.finished or self.held:
                self.held = set()
                outcomes, self.unrecorded = list(self.unrecorded.items()), {}
                with contextlib.suppress(Exception):
                    if outcomes:  # delivered before the stop: record them, not "unknown"
                        await self.writer.submit(mark_all_final, outcomes, self.outbox.now())
                    await self.writer.submit(release, self.owner, self.outbox.now())


async def _messages_in_chunks(
    messages: Iterable[Message] | AsyncIterable[Message],
) -> AsyncIterator[list[Message]]:
    if isinstance(messages, AsyncIterable):
        chunk: list[Message] = []
        async for message in messages:
            chunk.append(message)
            if len(chunk) >= CHUNK:
                yield chunk
                chunk = []
        if chunk:
            yield chunk
        return
    if not isinstance(messages, Iterable) or isinstance(messages, (str, bytes, Message)):
        raise InvalidMessageError(
            f"broadcast takes an iterable or async iterable of Message, got {type(messages).__name__}"
        )
    chunk = []
    for message in messages:
        chunk.append(message)
        if len(chunk) >= CHUNK:
            yield chunk
            chunk = []
            await asyncio.sleep(0)  # a fast sync source must not starve the workers
    if chunk:
        yield chunk


async def outbox_broadcast(
    outbox: Outbox,
    messages: Iterable[Message] | AsyncIterable[Message],
    deliver: Deliver,
    slots: Sequence[ProviderSlot],
    all_slots: Sequence[ProviderSlot],
    *,
    concurrency: int,
) -> AsyncGenerator[DeliveryResult, None]:
    """Journal then deliver ``messages``; rows already journalled are not sent
    again but yield their stored result (or a busy one while another run holds them)."""
    _check_concurrency(concurrency)
    run = _Run(outbox, deliver, slots, concurrency)
    idempotent = _idempotent_names(slots, all_slots)

    async def feeder() -> None:
        index = 0
        async for chunk in _messages_in_chunks(messages):
            for offset, message in enumerate(chunk):
                if not isinstance(message, Message):
                    raise InvalidMessageError(
                        f"broadcast item #{index + offset} is a {type(message).__name__}, not a Message"
                    )
            index += len(chunk)
            now, until = run.lease_until()
            decisions = await run.writer.submit(journal_chunk, chunk, run.owner, now, until, idempotent)
            run.hold(decisions)
            for message, decision in zip(chunk, decisions, strict=True):
                await run.accept(decision, message)

    stream = run.stream(feeder)
    try:
        async for result in stream:
            yield result
    finally:
        await stream.aclose()  # release this run's rows now, not when the generator is collected


async def outbox_resume(
    outbox: Outbox,
    deliver: Deliver,
    slots: Sequence[ProviderSlot],
    all_slots: Sequence[ProviderSlot],
    *,
    concurrency: int,
) -> AsyncGenerator[DeliveryResult, None]:
    """Deliver the outbox's rows that are not final, in journal order.

    ``pending`` rows are sent; ``sending`` rows whose lease expired become
    ``unknown``; ``unknown`` rows are sent again only when every provider of
    their last route is idempotent here, otherwise their stored result is
    yielded. Rows another live run holds are left alone and not yielded.
    """
    _check_concurrency(concurrency)
    run = _Run(outbox, deliver, slots, concurrency)
    idempotent = _idempotent_names(slots, all_slots)

    async def feeder() -> None:
        after = 0
        while True:
            now, until = run.lease_until()
            after, decisions = await run.writer.submit(claim_open, after, CHUNK, run.owner, now, until, idempotent)
            if not decisions:
                return
            run.hold(decisions)
            for decision in decisions:
                if decision[0] != "busy":
                    await run.accept(decision, None)

    stream = run.stream(feeder)
    try:
        async for result in stream:
            yield result
    finally:
        await stream.aclose()  # release this run's rows now, not when the generator is collected
