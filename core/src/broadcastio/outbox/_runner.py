"""A journalled run: the outbox around the one delivery path.

The runner does not deliver anything itself. It journals the input first
(a broadcast), then feeds claimed rows to the pool of
:func:`broadcastio._broadcast.stream_results` and records each outcome
(the pool calls :class:`JournalRun` before and after every delivery). A row
is committed ``sending`` before its provider is called; its outcome shares
the commit of the same worker's next ``sending`` mark; the writer thread
groups all of them, so one fsync serves many messages.

Outcomes: delivered -> ``sent``; failed with a permanent error -> ``failed``;
failed transiently, or never attempted (breaker open, no healthy provider,
rate limit) -> back to ``pending`` with ``next_attempt_at``; ambiguous ->
``unknown``. Deferred rows are claimed again when due, within the run,
until the campaign deadline; what is still deferred then stays ``pending``.

Receipts (``_receipts``) can put a ``sent`` row back to ``pending`` with
providers ruled out (``skip``): each scan first fires the escalation
timers that are due, and a row with ``skip`` is delivered through the
rest of the route only. While timers of the campaign are armed, the run
waits for them (within its deadline).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import secrets
from collections.abc import AsyncGenerator, AsyncIterable, AsyncIterator, Awaitable, Callable, Iterable, Sequence
from typing import Any

from broadcastio._broadcast import EMPTY, RunControl, check_concurrency, stream_results
from broadcastio._errors import ConfigurationError, ErrorClass, ErrorCode, InvalidMessageError, UsageError
from broadcastio._escalation import Escalation
from broadcastio._models import DeliveryResult, Message
from broadcastio._routing import ProviderSlot
from broadcastio.outbox._box import Outbox
from broadcastio.outbox._receipts import fire_escalations, next_escalation
from broadcastio.outbox._rows import Decision
from broadcastio.outbox._store import (
    abandon,
    campaign_journalled,
    claim_due,
    finish_and_start,
    ingest_chunk,
    mark_all_final,
    mark_final,
    mark_sending,
    open_campaign,
    release,
    renew,
    waiting,
)

__all__ = ["DEFAULT_DEADLINE", "journalled_broadcast", "journalled_resume"]

CHUNK = 256
"""Rows claimed per transaction."""
INGEST_CHUNK = 2000
"""Messages journalled per transaction before the first send."""
DEFAULT_DEADLINE = 900.0
"""Seconds a run keeps retrying its deferred rows (15 minutes)."""
CONFIG_STOP_CODE = "outbox.stopped_by_configuration_error"
RECEIPT_POLL = 1.0
"""Seconds between scans while escalation timers are armed (receipts arrive from other processes)."""
NO_PROVIDER_LEFT_CODE = "outbox.no_provider_left"
_DONE = object()
Deliver = Callable[[Message, Sequence[ProviderSlot]], Awaitable[DeliveryResult]]


def _idempotent_names(slots: Sequence[ProviderSlot], all_slots: Iterable[ProviderSlot]) -> frozenset[str]:
    """Providers whose earlier attempt may be repeated safely; none unless this
    run's own route is idempotent throughout (a resend may reach any of them)."""
    if not all(slot.idempotent for slot in slots):
        return frozenset()
    return frozenset(slot.name for slot in all_slots if slot.idempotent)


def _check_deadline(deadline: float | None) -> float:
    if deadline is None:
        return DEFAULT_DEADLINE
    if isinstance(deadline, bool) or not isinstance(deadline, (int, float)) or deadline < 0:
        raise ConfigurationError(f"deadline= must be a number of seconds >= 0, got {deadline!r}")
    return float(deadline)


def _check_rows(rows: object, campaign: str | None) -> tuple[int, int] | None:
    if rows is None:
        return None
    if campaign is None:
        raise UsageError("rows= needs campaign=: row numbers count within one campaign")
    if (
        not isinstance(rows, tuple)
        or len(rows) != 2
        or not all(isinstance(end, int) and not isinstance(end, bool) and end >= 1 for end in rows)
        or rows[0] > rows[1]
    ):
        raise UsageError(f"rows= must be (first, last) row numbers with 1 <= first <= last, got {rows!r}")
    return (rows[0], rows[1])


class JournalRun:
    """One run over the journal: the pool's source and its journal at once."""

    def __init__(
        self,
        outbox: Outbox,
        deliver: Deliver,
        slots: Sequence[ProviderSlot],
        all_slots: Sequence[ProviderSlot],
        *,
        concurrency: int,
        deadline: float | None,
        control: RunControl | None,
        escalate: Escalation | None = None,
    ) -> None:
        check_concurrency(concurrency)
        if escalate is not None and not isinstance(escalate, Escalation):
            raise ConfigurationError(f"escalate= must be an Escalation, got {type(escalate).__name__}")
        self.escalate = None if escalate is None else (escalate.seconds, escalate.level)
        self.skips: dict[str, tuple[str, ...]] = {}  # idempotency key -> providers ruled out for its send
        if outbox.closed:
            raise UsageError("this Outbox is closed")
        self.outbox = outbox
        self.writer = outbox.writer
        self.owner = outbox.run_owner()  # one lease id per run, so a run can release exactly its own rows
        self.lease = outbox.lease_seconds
        self.deliver_via = deliver
        self.slots = slots
        self.route = ",".join(slot.name for slot in slots)
        self.idempotent = _idempotent_names(slots, all_slots)
        self.concurrency = concurrency
        self.deadline = _check_deadline(deadline)
        self.control = control or RunControl()
        self.control.reset_report()
        self.campaign: int | None = None
        self.rows: tuple[int, int] | None = None  # one chunk of the campaign: input row numbers first..last
        self.report_stored = True  # a watcher's passes do not report rows nobody moved
        self.work: asyncio.Queue[Any] = asyncio.Queue(maxsize=max(CHUNK, concurrency))
        self.held: set[int] = set()  # rows this run has claimed and not finished
        self.idle = asyncio.Event()
        self.idle.set()
        self.unrecorded: dict[int, tuple[Decision, DeliveryResult]] = {}  # delivered, not committed yet

    async def deliver(self, message: Message) -> DeliveryResult:
        """Deliver through the run's route, less the providers a receipt or an escalation ruled out."""
        skip = self.skips.pop(message.metadata.idempotency_key, ())
        if not skip:
            return await self.deliver_via(message, self.slots)
        slots = [slot for slot in self.slots if slot.name not in skip]
        if not slots:
            from broadcastio._models import DeliveryError

            error = DeliveryError.permanent(
                NO_PROVIDER_LEFT_CODE, f"no provider of this route is left after {', '.join(skip)}"
            )
            return DeliveryResult(
                status="failed",
                error=error,
                idempotency_key=message.metadata.idempotency_key,
                reference_id=message.metadata.reference_id,
            )
        return await self.deliver_via(message, slots)

    # --- the pool's source ----------------------------------------------------------

    async def next(self) -> Any:
        item = await self.work.get()
        return None if item is _DONE else item

    def poll(self) -> Any:
        try:
            item = self.work.get_nowait()
        except asyncio.QueueEmpty:
            return EMPTY
        if item is _DONE:
            self.work.put_nowait(_DONE)  # leave the end mark for the others; this worker ends too
            return None
        return item

    # --- the pool's journal -----------------------------------------------------------

    def lease_until(self) -> tuple[float, float]:
        now = self.outbox.now()
        return now, now + self.lease

    def defer_until(self, decision: Decision, result: DeliveryResult, now: float) -> float | None:
        """When a failed row may be tried again, or None when its failure is final.

        Transient failures are never final; neither is "no provider could be
        tried" while the recipient has an address one of the providers serves
        (breaker open, unhealthy, rate limited: the delivery code marks
        those transient with ``retry_after``; older results say permanent).
        """
        error = result.error
        if result.status != "failed" or error is None:
            return None
        if error.error_class is not ErrorClass.TRANSIENT:
            if error.code != ErrorCode.NO_PROVIDER_AVAILABLE or decision.message is None:
                return None
            message = decision.message
            usable = [slot for slot in self.slots if slot.name not in decision.skip]
            if not any(message.address_for(slot.channel) is not None for slot in usable):
                return None
        if error.retry_after is not None:
            return now + error.retry_after
        delay: float = self.outbox.retry_delay * 2.0 ** min(decision.attempts, 30)
        return now + min(delay, self.outbox.max_retry_delay)

    def _outcome(self, decision: Decision, result: DeliveryResult, now: float) -> tuple[float | None, Any]:
        until = self.defer_until(decision, result, now)
        return until, (None if until is not None else result)

    async def start(self, item: Decision, done: tuple[Decision, DeliveryResult] | None) -> tuple[Message | None, Any]:
        now, until = self.lease_until()
        shown = None
        if done is None:
            claimed = await self.writer.submit(mark_sending, item.row_id, self.owner, now, until, self.route)
        else:
            previous, result = done
            defer, shown = self._outcome(previous, result, now)
            claimed = await self.writer.submit(
                finish_and_start, previous.row_id, result, now, defer, item.row_id, self.owner, until, self.route
            )
            self._recorded(previous.row_id)
        if not claimed:
            self._recorded(item.row_id)  # another run took it over; it reports the row
            return None, shown
        return item.message, shown

    async def finish(self, done: tuple[Decision, DeliveryResult]) -> DeliveryResult | None:
        decision, result = done
        now = self.outbox.now()
        defer, shown = self._outcome(decision, result, now)
        await self.writer.submit(mark_final, decision.row_id, result, now, defer)
        self._recorded(decision.row_id)
        return shown  # type: ignore[no-any-return]

    def delivered(self, item: Decision, result: DeliveryResult) -> None:
        self.unrecorded[item.row_id] = (item, result)

    async def abandon(self, item: Decision, exc: BaseException) -> None:
        text = f"the broadcast stopped on {type(exc).__name__}: {exc}"
        await self.writer.submit(abandon, item.row_id, self.owner, self.outbox.now(), CONFIG_STOP_CODE, text)
        self._recorded(item.row_id)

    def _recorded(self, row_id: int) -> None:
        self.unrecorded.pop(row_id, None)
        self.held.discard(row_id)
        if not self.held:
            self.idle.set()

    # --- feeding ------------------------------------------------------------------------

    async def ingest(self, messages: Iterable[Message] | AsyncIterable[Message], name: str) -> None:
        """Journal the whole input before the first send, a chunk per transaction."""
        self.campaign = await self.writer.submit(open_campaign, name, self.outbox.now())
        number = 0
        written: asyncio.Future[tuple[int, list[DeliveryResult]]] | None = None
        async for chunk in _chunks(messages, INGEST_CHUNK):
            items = []
            for message in chunk:
                if not isinstance(message, Message):
                    raise InvalidMessageError(f"broadcast item #{number} is a {type(message).__name__}, not a Message")
                number += 1
                items.append((number, message))
            # Read the next chunk while the writer journals this one (the writer keeps their order).
            submitted = self.writer.submit(ingest_chunk, items, self.campaign, self.outbox.now(), self.escalate)
            if written is not None:
                await self._given(await written)
            written = submitted
        if written is not None:
            await self._given(await written)
        await self.writer.submit(campaign_journalled, self.campaign, self.outbox.now())

    async def _given(self, outcome: tuple[int, list[DeliveryResult]]) -> None:
        """Pass on the stored results of messages the journal already held."""
        for result in outcome[1]:
            self.control.already_done += 1
            self.control.already_sent += result.ok
            await self.work.put(result)

    async def claim(self) -> None:
        """Feed due rows to the pool; when a scan is over, wait for the deferred
        rows that fall due before the deadline, and scan again."""
        ends_at = self.outbox.now() + self.deadline
        first = True
        while not self.control.stopping:
            after = 0
            await self.writer.submit(fire_escalations, self.campaign, self.outbox.now())
            while not self.control.stopping:
                now, until = self.lease_until()
                after, decisions = await self.writer.submit(
                    claim_due, self.campaign, after, CHUNK, self.owner, now, until, self.idempotent, self.rows
                )
                if not decisions:
                    break
                for decision in decisions:
                    if decision.kind == "send":
                        self.held.add(decision.row_id)
                        self.idle.clear()
                for decision in decisions:
                    if decision.kind == "send":
                        if decision.skip and decision.message is not None:
                            self.skips[decision.message.metadata.idempotency_key] = decision.skip
                        await self.work.put(decision)
                    elif (
                        decision.kind == "done" and self.report_stored and (first or decision.result.status == "failed")  # type: ignore[union-attr]
                    ):
                        await self.work.put(decision.result)  # stored results are reported once per run
            first = False
            await self.idle.wait()  # the rows of this scan are finished (or deferred)
            now = self.outbox.now()
            deferred, due, _, _ = await self.writer.submit(waiting, self.campaign, self.owner, now, self.rows)
            timer = await self.writer.submit(next_escalation, self.campaign) if self.escalate else None
            if timer is not None and timer <= ends_at:
                due = timer if due is None or not deferred else min(due, timer)
                deferred = deferred or 1
            if not deferred or due is None or due > ends_at or self.control.stopping:
                return
            stop_event, _ = self.control.attach()
            pause = max(0.0, due - now)
            if timer is not None:  # a receipt may settle or fail a row meanwhile: look again soon
                pause = min(pause, RECEIPT_POLL)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop_event.wait(), pause)

    async def heartbeat(self) -> None:
        """Renew this run's leases well before they expire (real time, not the orchestrator's clock)."""
        while True:
            await asyncio.sleep(self.lease / 3)
            if self.held:
                _, until = self.lease_until()
                await self.writer.submit(renew, list(self.held), self.owner, until)

    async def report(self) -> None:
        """What is left for later: deferred rows and rows other runs hold."""
        deferred, due, leased, leased_until = await self.writer.submit(
            waiting, self.campaign, self.owner, self.outbox.now(), self.rows
        )
        control = self.control
        control.deferred, control.deferred_until = deferred, due
        control.leased, control.leased_until = leased, leased_until

    async def run(self, feed: Callable[[], Awaitable[None]]) -> AsyncGenerator[DeliveryResult, None]:
        failure: list[BaseException] = []

        async def feeder() -> None:
            try:
                await feed()
            except Exception as exc:
                failure.append(exc)
            for _ in range(self.concurrency):
                await self.work.put(_DONE)

        self.control.attach()
        helpers = [asyncio.ensure_future(feeder()), asyncio.ensure_future(self.heartbeat())]
        pool = stream_results(self, self.deliver, concurrency=self.concurrency, journal=self, control=self.control)
        finished = False
        try:
            async for result in pool:
                yield result
            if failure:
                raise failure[0]
            finished = True
        finally:
            await pool.aclose()
            for task in helpers:
                task.cancel()
            await asyncio.gather(*helpers, return_exceptions=True)
            now = self.outbox.now()
            outcomes = [
                (row_id, result, self.defer_until(item, result, now))
                for row_id, (item, result) in self.unrecorded.items()
            ]
            self.unrecorded, self.held = {}, set()
            with contextlib.suppress(Exception):
                if outcomes:  # delivered before the stop: record them, not "unknown"
                    await self.writer.submit(mark_all_final, outcomes, self.outbox.now())
                await self.writer.submit(release, self.owner, self.outbox.now())
                await self.report()
            if finished and not self.control.stopping:
                async for result in self.leftovers():
                    yield result

    async def leftovers(self) -> AsyncIterator[DeliveryResult]:
        """The stored result of each row still deferred at the end (one result per message)."""
        if not self.control.deferred:
            return
        from broadcastio.outbox._rows import stored_result

        columns = (
            "id, idempotency_key, state, owner, next_attempt_at, route, reference_id, provider, "
            "provider_message_id, error_code, error_class, error_message"
        )
        scope, params = ("campaign = ? AND ", (self.campaign,)) if self.campaign is not None else ("", ())
        if self.rows is not None:
            scope, params = f"{scope}row_number BETWEEN ? AND ? AND ", (*params, *self.rows)
        with self.outbox._reader() as conn:
            query = (
                f"SELECT {columns} FROM outbox WHERE {scope}state = 'pending' AND owner IS NULL "
                "AND next_attempt_at IS NOT NULL AND error_code IS NOT NULL ORDER BY id"
            )
            for row in conn.execute(query, params):
                yield stored_result(row)


async def _chunks(messages: Iterable[Message] | AsyncIterable[Message], size: int) -> AsyncIterator[list[Any]]:
    chunk: list[Any] = []
    if isinstance(messages, AsyncIterable):
        async for message in messages:
            chunk.append(message)
            if len(chunk) >= size:
                yield chunk
                chunk = []
    elif isinstance(messages, Iterable) and not isinstance(messages, (str, bytes, Message)):
        for message in messages:
            chunk.append(message)
            if len(chunk) >= size:
                yield chunk
                chunk = []
                await asyncio.sleep(0)
    else:
        raise InvalidMessageError(
            f"broadcast takes an iterable or async iterable of Message, got {type(messages).__name__}"
        )
    if chunk:
        yield chunk


def default_campaign_name() -> str:
    """A new campaign's name when the caller gives none: its start time, plus a random tail."""
    return f"broadcast-{dt.datetime.now(dt.UTC).strftime('%Y%m%dT%H%M%S')}-{secrets.token_hex(3)}"


async def journalled_broadcast(
    outbox: Outbox,
    messages: Iterable[Message] | AsyncIterable[Message],
    deliver: Deliver,
    slots: Sequence[ProviderSlot],
    all_slots: Sequence[ProviderSlot],
    *,
    concurrency: int,
    campaign: str | None = None,
    deadline: float | None = None,
    control: RunControl | None = None,
    escalate: Escalation | None = None,
) -> AsyncGenerator[DeliveryResult, None]:
    """Journal every message of ``messages`` into campaign ``campaign``, then deliver the campaign.

    Messages already journalled are not sent again: a final row yields its
    stored result, a row another live run holds a busy one.
    """
    if campaign is not None and (not isinstance(campaign, str) or not campaign):
        raise UsageError("campaign= must be a non-empty string")
    run = JournalRun(
        outbox,
        deliver,
        slots,
        all_slots,
        concurrency=concurrency,
        deadline=deadline,
        control=control,
        escalate=escalate,
    )
    name = campaign or default_campaign_name()
    run.control.campaign = name

    async def feed() -> None:
        await run.ingest(messages, name)
        await run.claim()

    stream = run.run(feed)
    try:
        async for result in stream:
            yield result
    finally:
        await stream.aclose()  # release this run's rows now, not when the generator is collected


async def journalled_resume(
    outbox: Outbox,
    deliver: Deliver,
    slots: Sequence[ProviderSlot],
    all_slots: Sequence[ProviderSlot],
    *,
    concurrency: int,
    campaign: str | None = None,
    deadline: float | None = None,
    control: RunControl | None = None,
    rows: tuple[int, int] | None = None,
) -> AsyncGenerator[DeliveryResult, None]:
    """Deliver the rows that are not final (of one campaign, or all), in journal order.

    ``rows=(first, last)`` (needs ``campaign``) keeps to the rows whose input
    row numbers lie in that range, both ends included.

    ``pending`` rows are sent (deferred ones when due, within the deadline);
    ``sending`` rows whose run is gone become ``unknown``; ``unknown`` rows
    are sent again only when every provider of their last route is
    idempotent here, otherwise their stored result is yielded. Rows another
    live run holds are left alone and not yielded.
    """
    run = JournalRun(outbox, deliver, slots, all_slots, concurrency=concurrency, deadline=deadline, control=control)
    run.rows = _check_rows(rows, campaign)
    if campaign is not None:
        outbox.campaign(campaign)  # raises UsageError naming the campaigns when unknown
        run.campaign = await run.writer.submit(open_campaign, campaign, outbox.now())
        run.control.campaign = campaign

    stream = run.run(run.claim)
    try:
        async for result in stream:
            yield result
    finally:
        await stream.aclose()
