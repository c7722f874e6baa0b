"""Fault injection: a 10,000-message journalled broadcast through a misbehaving receiver.

The primary webhook talks to the chaos receiver of ``_chaos_server.py``
(dropped connections, resets mid-answer, 500/503, 429 with Retry-After,
answers slower than the client's timeout), with retries; a healthy webhook
sink is the fallback. Both receivers deduplicate by Idempotency-Key and the
providers say so (``idempotent=True``). At the end:

- every message is accounted for: delivered, failed with a permanent
  reason, or unknown; the outbox says the same;
- no message reached both receivers (no duplicate delivery);
- no key was tried more often than the retry policy allows;
- after a 429, the orchestrator's clock slept at least Retry-After before the
  next attempt to that provider, and the receiver saw the gap in real time.
"""

from __future__ import annotations

import asyncio
import itertools
from collections import Counter, defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from broadcastio import BreakerPolicy, ErrorClass, Message, Metadata, Orchestrator, Recipient, RetryPolicy, SystemClock
from broadcastio.events import AttemptEvent
from broadcastio.outbox import Outbox
from broadcastio.testing import isolated_plugin_manager
from broadcastio.testing.servers import serve_app
from broadcastio_webhook import WebhookProvider

from ._chaos_server import ChaosState, SinkState, chaos_app, sink_app

pytestmark = pytest.mark.slow

COUNT = 10_000
INVALID_EVERY = 97  # one recipient in 97 does not exist anywhere
MAX_ATTEMPTS = 4
RETRY_AFTER = 0.05
TIMEOUT = 0.25


class RecordingClock(SystemClock):
    """The real clock, remembering every sleep in the order each task asked for it."""

    def __init__(self) -> None:
        self.log: dict[int, list[tuple[Any, ...]]] = defaultdict(list)

    async def sleep(self, seconds: float) -> None:
        self.log[id(asyncio.current_task())].append(("sleep", seconds))
        await super().sleep(seconds)

    def attempt(self, event: AttemptEvent) -> None:
        """Hook: attempts land in the same per-task log as the sleeps around them."""
        attempt = event.attempt
        key = event.message.metadata.idempotency_key
        self.log[id(asyncio.current_task())].append(("attempt", key, attempt.provider, attempt.error))


def messages() -> Iterator[Message]:
    for i in range(COUNT):
        name = f"invalid-{i}" if i % INVALID_EVERY == 0 else f"user-{i}"
        yield Message(
            recipient=Recipient(addresses={"webhook": name}),
            text=f"hello {i}",
            metadata=Metadata(idempotency_key=f"chaos-{i}"),
        )


async def test_every_message_is_accounted_for_under_chaos(tmp_path: Path) -> None:
    """Retries within the policy, Retry-After respected, fallback, no duplicate, nothing lost."""
    chaos, sink = ChaosState(retry_after=RETRY_AFTER, slow_seconds=TIMEOUT * 2.5, seed=20261128), SinkState()
    clock = RecordingClock()
    with serve_app(chaos_app(chaos)) as chaos_url, serve_app(sink_app(sink)) as sink_url:
        primary = WebhookProvider(
            name="chaos",
            url=f"{chaos_url}/hook",
            idempotent=True,
            timeout=TIMEOUT,
            retry_policy=RetryPolicy(max_attempts=MAX_ATTEMPTS, backoff="exponential", base_delay=0.002, max_delay=1.0),
        )
        backup = WebhookProvider(name="backup", url=f"{sink_url}/hook", idempotent=True, timeout=5.0)
        orchestrator = Orchestrator(
            [primary, backup],
            breaker=BreakerPolicy(enabled=False),  # keep every message on the chaos path: retries are under test
            plugin_manager=isolated_plugin_manager(),
            clock=clock,
            on_attempt=clock.attempt,
        )
        with Outbox(tmp_path / "outbox.db") as outbox:
            async with orchestrator:
                results = [result async for result in orchestrator.abroadcast(messages(), outbox=outbox)]
            status = outbox.status()
            rows = {row.idempotency_key: row for row in outbox.rows()}

    # Every message accounted for, the same way in the results and in the outbox.
    by_key = {result.idempotency_key: result for result in results}
    assert len(results) == len(by_key) == COUNT
    outcomes = Counter(result.status for result in results)
    assert status.total == COUNT
    assert (status.sent, status.failed, status.unknown) == (
        outcomes["delivered"],
        outcomes["failed"],
        outcomes["unknown"],
    )
    assert all(rows[key].state == {"delivered": "sent"}.get(r.status, r.status) for key, r in by_key.items())
    invalid = {f"chaos-{i}" for i in range(0, COUNT, INVALID_EVERY)}
    for key, result in by_key.items():
        if result.status == "delivered":
            receiver = chaos.processed if result.provider == "chaos" else sink.delivered
            assert key in receiver, key
        elif result.status == "failed":
            assert result.error is not None
            assert result.error.error_class is ErrorClass.PERMANENT, result
            assert key in invalid, result
        else:
            assert result.error is not None  # ambiguous to the end: may have arrived
    assert {key for key, r in by_key.items() if r.status == "failed"} == invalid
    # The chaos did happen, and the fallback was used.
    fates = Counter(receipt.fate for receipts in chaos.requests.values() for receipt in receipts)
    assert all(fates[fate] > 0 for fate in ("ok", "drop", "reset", "500", "503", "429", "slow")), fates
    assert any(r.provider == "backup" and r.ok for r in results)

    # No duplicate delivery: a message taken by the chaos receiver never also went to the backup.
    assert not (chaos.processed & sink.delivered)
    # Retries within the policy: at most MAX_ATTEMPTS requests per key, one at the backup.
    assert max(len(receipts) for receipts in chaos.requests.values()) <= MAX_ATTEMPTS
    assert max(sink.requests.values()) == 1

    # Retry-After respected, seen by the orchestrator's clock ...
    checked = 0
    for log in clock.log.values():
        for index, entry in enumerate(log):
            if entry[0] != "attempt" or entry[3] is None or entry[3].retry_after is None:
                continue
            slept = 0.0
            for later in log[index + 1 :]:
                if later[0] == "sleep":
                    slept += later[1]
                    continue
                if later[1] == entry[1] and later[2] == entry[2]:  # the next attempt, same message and provider
                    assert slept >= entry[3].retry_after, (entry, slept)
                    checked += 1
                break
    assert checked > 100
    # ... and by the receiver, in real time.
    for receipts in chaos.requests.values():
        for before, after in itertools.pairwise(receipts):
            if before.fate == "429":
                assert after.at - before.at >= RETRY_AFTER * 0.95
    attempts = Counter(len(receipts) for receipts in chaos.requests.values())
    summary = f"outcomes={dict(outcomes)} fates={dict(fates)} attempts={dict(attempts)} retry_after_checked={checked}"
    print(summary)  # noqa: T201
