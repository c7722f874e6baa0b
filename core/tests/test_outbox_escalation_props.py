"""Property: for any interleaving of receipts, timer firings, watchers and crashes, a message is
escalated at most once per provider, never after the escalation's level was recorded, and never
sent again through a provider whose receipt said delivered (bounded: a few dozen short runs)."""

from __future__ import annotations

import asyncio
import datetime as dt
import socket
import sqlite3
import subprocess
import tempfile
from pathlib import Path
from typing import Any

from broadcastio import Escalation, Message, Metadata, Orchestrator, Recipient
from broadcastio.outbox import Outbox
from broadcastio.outbox._store import claim_due, mark_sending
from broadcastio.receipts import Receipt, ReceiptLevel
from broadcastio.testing import FakeClock, FakeProvider, isolated_plugin_manager
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

ROUTE = ("a", "b", "c")
WINDOW = 600.0

operations = st.lists(
    st.one_of(
        st.tuples(st.just("advance"), st.sampled_from([1.0, 300.0, 599.0, 601.0, 1200.0])),
        st.tuples(
            st.just("receipt"),
            st.sampled_from(list(ReceiptLevel)),
            st.sampled_from(["current", "earlier"]),
            st.integers(0, 3),  # receipt id: small, so replays happen
        ),
        st.tuples(st.just("watch"), st.integers(0, 1)),  # which of two watchers
        st.tuples(st.just("crash"), st.just(0)),  # a run that claimed the row and died before sending
    ),
    max_size=14,
)


def _dead_pid() -> int:
    child = subprocess.Popen(["true"])
    child.wait()
    return child.pid


DEAD_OWNER = f"{socket.gethostname()}:{_dead_pid()}:dead"


def _accepted(path: Path) -> list[tuple[str, str]]:
    conn = sqlite3.connect(path)
    try:
        return conn.execute("SELECT provider, provider_message_id FROM accepts ORDER BY rowid").fetchall()
    finally:
        conn.close()


def _escalations(path: Path) -> list[tuple[str, str]]:
    conn = sqlite3.connect(path)
    try:
        return conn.execute("SELECT from_provider, reason FROM escalations ORDER BY rowid").fetchall()
    finally:
        conn.close()


async def _play(path: Path, steps: list[tuple[Any, ...]], unless: str) -> None:
    clock = FakeClock()
    providers = [FakeProvider(name, "sms") for name in ROUTE]
    boxes = [Outbox(path, clock=clock, owner=f"watcher-{i}") for i in range(2)]
    crasher = Outbox(path, clock=clock, owner=DEAD_OWNER)
    orchestrators = [Orchestrator(providers, plugin_manager=isolated_plugin_manager(), clock=clock) for _ in range(2)]
    escalation = Escalation(after=dt.timedelta(seconds=WINDOW), unless=unless)  # type: ignore[arg-type]
    cancel_level = escalation.level
    message = Message(recipient=Recipient(phone="+15550001"), text="hi", metadata=Metadata(idempotency_key="m"))
    try:
        boxes[0].add([message], escalate=escalation)
        settled: dict[str, int] = {}  # provider -> its calls when a receipt of the cancel level was recorded
        for step in [("watch", 0), *steps]:
            before = _escalations(path)
            kind = step[0]
            if kind == "advance":
                clock.advance(step[1])
            elif kind == "watch":
                [_ async for _ in orchestrators[step[1]].awatch(boxes[step[1]], once=True)]
            elif kind == "crash":
                now = crasher.now()
                _, decisions = await crasher.writer.submit(
                    claim_due, None, 0, 10, crasher.owner, now, now + 60, frozenset()
                )
                for decision in decisions:
                    if decision.kind == "send":
                        await crasher.writer.submit(
                            mark_sending, decision.row_id, crasher.owner, now, now + 60, ",".join(ROUTE)
                        )
            else:
                _, level, which, number = step
                accepted = _accepted(path)
                if not accepted:
                    continue
                provider, message_id = accepted[-1] if which == "current" else accepted[0]
                receipt = Receipt(
                    provider_type="fake",
                    receipt_id=f"{provider}-{number}-{level.name}",
                    provider_message_id=message_id,
                    level=level,
                    status=level.name.lower(),
                    occurred_at=clock.now(),
                    provider=provider,
                )
                outcome = await boxes[number % 2].record(receipt)
                current = next(boxes[0].rows()).provider
                if outcome == "recorded" and level >= cancel_level and provider == current:
                    settled.setdefault(provider, len(providers[ROUTE.index(provider)].call_log))
            after = _escalations(path)
            new = after[len(before) :]
            for provider, _reason in new:
                assert provider not in settled, f"escalated away from {provider} after its {unless} receipt"
            froms = [provider for provider, _ in after]
            assert len(froms) == len(set(froms)), "two escalations away from one provider"
            for provider, calls in settled.items():
                assert len(providers[ROUTE.index(provider)].call_log) == calls, f"{provider} sent again"
            for provider in providers:
                assert len(provider.call_log) <= 1, f"{provider.name} called twice"
        event(f"escalations: {len(_escalations(path))}, settled: {len(settled)}")
    finally:
        for box in (*boxes, crasher):
            box.close()
        for orchestrator in orchestrators:
            await orchestrator.aclose()


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(steps=operations, unless=st.sampled_from(["delivered", "read"]))
def test_escalation_invariants_hold_for_any_interleaving(steps: list[tuple[Any, ...]], unless: str) -> None:
    with tempfile.TemporaryDirectory() as folder:
        asyncio.run(_play(Path(folder) / "outbox.db", steps, unless))
