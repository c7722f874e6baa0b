"""Campaigns through the outbox: journal first, transient never final, graceful stops, bad rows fail alone."""

from __future__ import annotations

import asyncio
import sqlite3
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import msgspec
import pytest
from broadcastio import (
    BreakerPolicy,
    ConfigurationError,
    DeliveryError,
    DeliveryResult,
    Message,
    Metadata,
    Orchestrator,
    UsageError,
)
from broadcastio.outbox import CampaignStatus, Outbox, OutboxStatus, RunControl
from broadcastio.testing import FakeProvider, isolated_plugin_manager

Build = Callable[..., Orchestrator]


def message(i: int) -> Message:
    return Message(recipient=f"user-{i}", text=f"hello {i}", metadata=Metadata(idempotency_key=f"key-{i}"))


def messages(n: int) -> Iterator[Message]:
    return (message(i) for i in range(n))


def real(providers: list[object], **options: object) -> Orchestrator:
    """An orchestrator on the real clock (breaker cool-downs and deferrals take real time)."""
    return Orchestrator(providers, plugin_manager=isolated_plugin_manager(), **options)  # type: ignore[arg-type]


@pytest.fixture
def outbox(outbox_url: str) -> Iterator[Outbox]:
    """An outbox on SQLite, then on PostgreSQL (conftest's ``outbox_url``)."""
    with Outbox(outbox_url, retry_delay=0.05, max_retry_delay=0.2) as box:
        yield box


async def collect(stream) -> list[DeliveryResult]:  # type: ignore[no-untyped-def]
    return [result async for result in stream]


def force(box: Outbox, sql: str, *params: object) -> None:
    with box._reader() as conn:  # commits each statement, on either database
        conn.execute(sql, params)


class CountingSpy(FakeProvider):
    """Records how many rows the journal held when the first send happened."""

    def __init__(self, box: Outbox, **options: object) -> None:
        super().__init__(**options)  # type: ignore[arg-type]
        self.box = box
        self.total_at_first_send: int | None = None

    async def send(self, message: Message, address: str) -> DeliveryResult:
        if self.total_at_first_send is None:
            self.total_at_first_send = self.box.status().total
        return await super().send(message, address)


class TestJournalFirst:
    async def test_the_whole_input_is_journalled_before_the_first_send(
        self, outbox: Outbox, make_orchestrator: Build
    ) -> None:
        """Every message is in the journal, with its row number, before any provider call."""
        spy = CountingSpy(outbox)
        results = await collect(make_orchestrator([spy]).abroadcast(messages(5000), outbox=outbox, campaign="c1"))
        assert len(results) == 5000
        assert spy.total_at_first_send == 5000
        rows = list(outbox.rows())
        assert [row.row_number for row in rows[:3]] == [1, 2, 3]
        assert {row.campaign for row in rows} == {"c1"}

    async def test_the_campaign_knows_total_done_and_left(self, outbox: Outbox, make_orchestrator: Build) -> None:
        """Outbox.campaign() counts a campaign's rows; a rerun reports what was already sent."""
        provider = FakeProvider(outcomes=(DeliveryError.permanent("rejected", "no"),))
        orchestrator = make_orchestrator([provider])
        await collect(orchestrator.abroadcast(messages(10), outbox=outbox, campaign="spring"))
        status = outbox.campaign("spring")
        assert isinstance(status, CampaignStatus)
        assert (status.total, status.sent, status.failed, status.done, status.left) == (10, 9, 1, 10, 0)
        assert status.journalled
        control = RunControl()
        again = await collect(orchestrator.abroadcast(messages(12), outbox=outbox, campaign="spring", control=control))
        assert len(again) == 12
        assert (control.already_done, control.already_sent) == (10, 9)
        assert provider.calls == 12
        assert [c.name for c in outbox.campaigns()] == ["spring"]
        with pytest.raises(UsageError, match="spring"):
            outbox.campaign("autumn")

    async def test_a_campaign_needs_an_outbox(self, make_orchestrator: Build) -> None:
        with pytest.raises(UsageError, match="outbox"):
            await collect(make_orchestrator([FakeProvider()]).abroadcast(messages(1), campaign="x"))


class TestTransientIsNeverFinal:
    async def test_transient_failures_are_retried_within_the_run(
        self, outbox: Outbox, make_orchestrator: Build
    ) -> None:
        """A transient failure defers the row; the run tries it again when due and delivers it."""
        provider = FakeProvider(outcomes=(DeliveryError.transient("service_unavailable", "503"),) * 3)
        results = await collect(make_orchestrator([provider]).abroadcast(messages(5), outbox=outbox, concurrency=2))
        assert sorted(r.status for r in results) == ["delivered"] * 5
        assert outbox.status() == OutboxStatus(sent=5, total=5)
        assert max(row.attempts for row in outbox.rows()) >= 2

    async def test_retry_after_sets_the_next_attempt(self, outbox: Outbox, make_orchestrator: Build) -> None:
        """A provider's retry_after decides when the row is due; past the deadline it stays pending."""
        error = DeliveryError.transient("rate_limited", "429", retry_after=30.0)
        provider = FakeProvider(outcomes=(error,))
        before = outbox.now()
        results = await collect(make_orchestrator([provider]).abroadcast([message(1)], outbox=outbox, deadline=1.0))
        assert [r.status for r in results] == ["failed"]  # one result per message: not delivered (yet)
        assert results[0].error is not None
        assert results[0].error.code == "rate_limited"
        (row,) = outbox.rows()
        assert row.state == "pending"
        assert row.owner is None
        assert row.next_attempt_at is not None
        assert 29 <= row.next_attempt_at.timestamp() - before <= 32

    async def test_what_the_deadline_leaves_stays_pending_for_resume(
        self, outbox: Outbox, make_orchestrator: Build
    ) -> None:
        """deadline=0: no waiting; the deferred rows are resumed later and delivered."""
        provider = FakeProvider(outcomes=(DeliveryError.transient("timeout", "connect timeout"),) * 4)
        orchestrator = make_orchestrator([provider])
        control = RunControl()
        results = await collect(
            orchestrator.abroadcast(messages(6), outbox=outbox, concurrency=1, deadline=0, control=control)
        )
        assert len(results) == 6
        assert outbox.status() == OutboxStatus(pending=4, sent=2, total=6)
        assert control.deferred == 4
        assert control.deferred_until is not None
        await asyncio.sleep(0.25)
        resumed = await collect(orchestrator.aresume(outbox, deadline=0))
        assert [r.status for r in resumed] == ["delivered"] * 4
        assert outbox.status() == OutboxStatus(sent=6, total=6)

    async def test_an_open_breaker_leaves_rows_resumable(self, outbox: Outbox) -> None:
        """Rows skipped while the breaker is open are never failed; the run or a resume delivers them."""
        provider = FakeProvider(outcomes=(DeliveryError.transient("service_unavailable", "503"),) * 2)
        orchestrator = real([provider], breaker=BreakerPolicy(failure_threshold=2, cooldown=0.2))
        results = await collect(orchestrator.abroadcast(messages(50), outbox=outbox, concurrency=4, deadline=0))
        assert len(results) == 50
        status = outbox.status()
        assert status.failed == 0
        assert status.unknown == 0
        await asyncio.sleep(0.3)
        await collect(orchestrator.aresume(outbox, deadline=5))
        assert outbox.status() == OutboxStatus(sent=50, total=50)

    async def test_permanent_failures_and_missing_addresses_are_final(
        self, outbox: Outbox, make_orchestrator: Build
    ) -> None:
        """Only permanent failures (and recipients no provider can reach) end failed."""
        provider = FakeProvider(channel="sms", outcomes=(DeliveryError.permanent("invalid_recipient", "bad"),))
        from broadcastio import Recipient

        unreachable = Message(
            recipient=Recipient(email="a@example.org"), text="x", metadata=Metadata(idempotency_key="u")
        )
        results = await collect(make_orchestrator([provider]).abroadcast([message(1), unreachable], outbox=outbox))
        assert sorted(r.status for r in results) == ["failed", "failed"]
        assert outbox.status() == OutboxStatus(failed=2, total=2)


class TestStops:
    async def test_a_graceful_stop_lets_in_flight_sends_finish(self, outbox: Outbox) -> None:
        """stop(): no new message is taken, in-flight ones finish, the rest stays pending for resume."""
        provider = FakeProvider(latency=0.05)
        control = RunControl()
        orchestrator = real([provider])
        seen = 0
        async for _ in orchestrator.abroadcast(messages(200), outbox=outbox, concurrency=4, control=control):
            seen += 1
            if seen == 8:
                control.stop(grace=5.0)
        status = outbox.status()
        assert status.unknown == 0
        assert status.sending == 0
        assert status.total == 200
        assert status.sent == provider.calls
        assert [row for row in outbox.rows() if row.owner is not None] == []
        await collect(orchestrator.aresume(outbox))
        assert outbox.status() == OutboxStatus(sent=200, total=200)
        keys = [key for key, _ in provider.call_log]
        assert len(keys) == len(set(keys))

    async def test_an_abort_marks_only_what_was_in_flight_unknown(self, outbox: Outbox) -> None:
        """abort() cuts off the sends in flight: those rows, and only those, are unknown."""
        provider = FakeProvider(latency=5.0)
        control = RunControl()
        orchestrator = real([provider])
        stream = orchestrator.abroadcast(messages(100), outbox=outbox, concurrency=3, control=control)
        task = asyncio.ensure_future(collect(stream))
        await asyncio.sleep(0.3)
        control.abort()
        assert await asyncio.wait_for(task, 5) == []
        status = outbox.status()
        assert (status.unknown, status.pending, status.sending) == (3, 97, 0)

    async def test_a_stop_without_outbox_stops_taking_messages(self) -> None:
        provider = FakeProvider(latency=0.02)
        control = RunControl()
        seen = 0
        async for _ in real([provider]).abroadcast(messages(1000), concurrency=2, control=control):
            seen += 1
            if seen == 4:
                control.stop()
        assert seen <= 8
        assert provider.calls == seen


class TestTakeOver:
    async def test_a_dead_processes_lease_is_taken_at_once(self, outbox: Outbox, make_orchestrator: Build) -> None:
        """A lease whose owner is a dead process of this host does not make resume wait."""
        outbox.add(messages(2))
        child = subprocess.run(  # noqa: ASYNC221  (a short-lived child, to get a pid that is surely dead)
            [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True, check=True
        )
        dead = f"{outbox.owner.split(':')[0]}:{int(child.stdout)}:deadbeef/1"
        far = outbox.now() + 3600
        force(outbox, "UPDATE outbox SET owner = ?, next_attempt_at = ?", dead, far)
        provider = FakeProvider()
        control = RunControl()
        results = await collect(make_orchestrator([provider]).aresume(outbox, control=control))
        assert [r.status for r in results] == ["delivered", "delivered"]
        assert control.leased == 0

    async def test_a_live_lease_is_reported(self, outbox: Outbox, make_orchestrator: Build) -> None:
        outbox.add(messages(2))
        far = outbox.now() + 3600
        force(outbox, "UPDATE outbox SET owner = 'alive', next_attempt_at = ? WHERE id = 1", far)
        control = RunControl()
        results = await collect(make_orchestrator([FakeProvider()]).aresume(outbox, control=control))
        assert len(results) == 1
        assert control.leased == 1
        assert control.leased_until == pytest.approx(far)


def poison(box: Outbox, row_id: int) -> None:
    """Store a message msgspec refuses to decode (metadata.tags a string), as older versions could."""
    with box._reader() as conn:
        blob = conn.execute("SELECT message FROM outbox WHERE id = ?", (row_id,)).fetchone()[0]
        data = msgspec.msgpack.decode(blob)
        data["metadata"]["tags"] = "urgent"
        conn.execute("UPDATE outbox SET message = ? WHERE id = ?", (msgspec.msgpack.encode(data), row_id))


class TestBadRows:
    async def test_an_undecodable_row_fails_alone(self, outbox: Outbox, make_orchestrator: Build) -> None:
        """The poisoned row is failed with a clear code; every other row is delivered."""
        outbox.add(messages(600))
        poison(outbox, 300)
        assert len(list(outbox.rows(messages=True))) == 600  # listing never raises
        provider = FakeProvider()
        results = await collect(make_orchestrator([provider]).aresume(outbox))
        assert len(results) == 600
        assert provider.calls == 599
        assert outbox.status() == OutboxStatus(sent=599, failed=1, total=600)
        (bad,) = outbox.rows(state="failed", messages=True)
        assert bad.idempotency_key == "key-299"
        assert bad.message is None
        assert bad.last_error_code == "outbox.undecodable_row"
        assert "cannot be decoded" in (bad.last_error_message or "")

    async def test_a_configuration_error_keeps_the_campaign_resumable(
        self, outbox: Outbox, make_orchestrator: Build
    ) -> None:
        provider = FakeProvider(outcomes=(None, ConfigurationError("credentials refused")))
        with pytest.raises(ConfigurationError):
            await collect(make_orchestrator([provider]).abroadcast(messages(50), outbox=outbox, concurrency=1))
        status = outbox.status()
        assert (status.sent, status.pending, status.total) == (1, 49, 50)


def test_a_version_1_outbox_is_upgraded(tmp_path: Path) -> None:
    """An outbox written before campaigns opens, keeps its rows and resumes them."""
    path = tmp_path / "v1.db"
    conn = sqlite3.connect(path)
    conn.executescript(
        """
        CREATE TABLE outbox_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
        INSERT INTO outbox_meta VALUES ('schema_version', '1');
        CREATE TABLE outbox (id INTEGER PRIMARY KEY, idempotency_key TEXT NOT NULL UNIQUE, state TEXT NOT NULL,
            attempts INTEGER NOT NULL DEFAULT 0, owner TEXT, next_attempt_at REAL, route TEXT, reference_id TEXT,
            provider TEXT, provider_message_id TEXT, error_code TEXT, error_class TEXT, error_message TEXT,
            created_at REAL NOT NULL, updated_at REAL NOT NULL, message BLOB NOT NULL);
        """
    )
    blob = msgspec.msgpack.encode(message(1))
    conn.execute(
        "INSERT INTO outbox (idempotency_key, state, created_at, updated_at, message) "
        "VALUES ('key-1', 'pending', 1, 1, ?)",
        (blob,),
    )
    conn.commit()
    conn.close()
    with Outbox(path) as box:
        (row,) = box.rows(messages=True)
        assert row.message == message(1)
        assert row.campaign is None
        orchestrator = real([FakeProvider()])
        try:
            assert [r.status for r in orchestrator.resume(box)] == ["delivered"]
        finally:
            orchestrator.close()


class TestChunks:
    """``aresume(rows=...)``: one chunk of a campaign, as a Celery chunk task sends it."""

    async def test_a_chunk_sends_only_its_rows_and_a_second_run_sends_nothing(
        self, outbox: Outbox, make_orchestrator: Build
    ) -> None:
        outbox.add(messages(50), campaign="c")
        fake = FakeProvider()
        orchestrator = make_orchestrator([fake])
        first = await collect(orchestrator.aresume(outbox, campaign="c", rows=(11, 20)))
        assert sorted(r.idempotency_key for r in first) == sorted(f"key-{i}" for i in range(10, 20))
        assert fake.calls == 10
        assert outbox.campaign("c").sent == 10
        again = await collect(orchestrator.aresume(outbox, campaign="c", rows=(11, 20)))
        assert fake.calls == 10  # a redelivered chunk finds its rows sent
        assert all(r.ok for r in again)
        rest = await collect(orchestrator.aresume(outbox, campaign="c"))
        assert len(rest) == 40
        assert outbox.campaign("c").sent == 50

    @pytest.mark.parametrize("rows", [(0, 3), (5, 2), (1,), [1, 2], (1.0, 2.0), (True, 2)])
    async def test_a_bad_range_is_a_usage_error(self, outbox: Outbox, make_orchestrator: Build, rows: object) -> None:
        outbox.add(messages(3), campaign="c")
        with pytest.raises(UsageError, match="rows="):
            await collect(make_orchestrator([FakeProvider()]).aresume(outbox, campaign="c", rows=rows))  # type: ignore[arg-type]

    async def test_a_range_needs_a_campaign(self, outbox: Outbox, make_orchestrator: Build) -> None:
        with pytest.raises(UsageError, match="needs campaign"):
            await collect(make_orchestrator([FakeProvider()]).aresume(outbox, rows=(1, 2)))
