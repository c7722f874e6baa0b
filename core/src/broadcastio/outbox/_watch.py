"""A long-running runner over the journal: due timers, receipt-driven fallbacks, deferred rows.

Each pass is one journalled resume with no deadline of its own: it fires
the escalation timers that are due (one claim each, in the writer's
transaction), then sends every row that is due (pending after a failed
receipt, an escalation, or a transient failure), with leases like any
run, so several watchers and broadcasts can share one outbox. Between
passes it sleeps until the next timer or deferral falls due, at most
``poll`` seconds (receipts arrive from other processes, such as
``receipts serve --outbox``). Stored results of rows nobody can move are
not reported again.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncGenerator, Sequence

from broadcastio._broadcast import RunControl
from broadcastio._errors import ConfigurationError
from broadcastio._models import DeliveryResult
from broadcastio._routing import ProviderSlot
from broadcastio.outbox._box import Outbox
from broadcastio.outbox._receipts import next_escalation
from broadcastio.outbox._runner import Deliver, JournalRun
from broadcastio.outbox._store import open_campaign, waiting

__all__ = ["DEFAULT_POLL", "watch"]

DEFAULT_POLL = 1.0
"""Seconds between passes when nothing falls due sooner."""


async def watch(
    outbox: Outbox,
    deliver: Deliver,
    slots: Sequence[ProviderSlot],
    all_slots: Sequence[ProviderSlot],
    *,
    concurrency: int,
    campaign: str | None = None,
    control: RunControl | None = None,
    once: bool = False,
    poll: float = DEFAULT_POLL,
) -> AsyncGenerator[DeliveryResult, None]:
    """Yield the result of every send the watcher makes, until ``control`` stops it (or one pass with ``once``)."""
    if isinstance(poll, bool) or not isinstance(poll, (int, float)) or poll <= 0:
        raise ConfigurationError(f"poll= must be a number of seconds > 0, got {poll!r}")
    control = control or RunControl()
    campaign_id = None
    if campaign is not None:
        outbox.campaign(campaign)  # raises UsageError naming the campaigns when unknown
        campaign_id = await outbox.writer.submit(open_campaign, campaign, outbox.now())
    while not control.stopping:
        run = JournalRun(outbox, deliver, slots, all_slots, concurrency=concurrency, deadline=0.0, control=control)
        run.campaign = campaign_id
        run.report_stored = False
        control.campaign = campaign
        stream = run.run(run.claim)
        try:
            async for result in stream:
                yield result
        finally:
            await stream.aclose()
        if once or control.stopping:
            return
        now = outbox.now()
        deferred, due, _, _ = await outbox.writer.submit(waiting, campaign_id, outbox.owner, now)
        timer = await outbox.writer.submit(next_escalation, campaign_id)
        pause = poll
        for when in (due if deferred else None, timer):
            if when is not None:
                pause = min(pause, max(0.0, when - now))
        stop_event, _ = control.attach()
        await _pause(stop_event, outbox.news, pause)


async def _pause(stop_event: asyncio.Event, news: asyncio.Event | None, seconds: float) -> None:
    """Sleep ``seconds``, or less: until a stop, or until rows are committed (a relay's LISTEN)."""
    if news is None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop_event.wait(), seconds)
        return
    waits = [asyncio.ensure_future(stop_event.wait()), asyncio.ensure_future(news.wait())]
    try:
        await asyncio.wait(waits, timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in waits:
            task.cancel()
        news.clear()
