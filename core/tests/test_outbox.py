"""The outbox: journal before the first attempt, record every outcome, resume safely."""

from __future__ import annotations

import asyncio
import tracemalloc
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from broadcastio import (
    ConfigurationError,
    DeliveryError,
    DeliveryResult,
    MemoryProvider,
    Message,
    Metadata,
    Orchestrator,
    UsageError,
)
from broadcastio.outbox import Outbox, OutboxRow, OutboxStatus
from broadcastio.providers.memory import DeliveredWithError
from broadcastio.testing import FakeProvider, isolated_plugin_manager

Build = Callable[..., Orchestrator]


def message(i: int, text: str = "hello") -> Message:
    metadata = Metadata(idempotency_key=f"key-{i}", reference_id=f"r{i}")
    return Message(recipient=f"user-{i}", text=text, metadata=metadata)


def messages(n: int, start: int = 0) -> Iterator[Message]:
    return (message(i) for i in range(start, start + n))


@pytest.fixture
def outbox(outbox_url: str) -> Iterator[Outbox]:
    """An outbox on SQLite, then on PostgreSQL (conftest's ``outbox_url``)."""
    with Outbox(outbox_url) as box:
        yield box


def force(box: Outbox, sql: str, *params: object) -> None:
    """Change rows behind the outbox's back, as a dead process would have left them
    (a reader connection commits each statement, on either database)."""
    with box._reader() as conn:
        conn.execute(sql, params)


async def collect(stream) -> list[DeliveryResult]:  # type: ignore[no-untyped-def]
    return [result async for result in stream]


class Spy(FakeProvider):
    """Records the outbox state of each message at the moment it is sent."""

    def __init__(self, box: Outbox, **options: object) -> None:
        super().__init__("spy", **options)  # type: ignore[arg-type]
        self.box = box
        self.states_seen: list[str] = []

    async def send(self, message: Message, address: str) -> DeliveryResult:
        row = next(r for r in self.box.rows() if r.idempotency_key == message.metadata.idempotency_key)
        self.states_seen.append(row.state)
        return await super().send(message, address)


class TestJournal:
    async def test_every_message_is_sending_before_its_provider_is_called(
        self, outbox: Outbox, make_orchestrator: Build
    ) -> None:
        """The provider only ever sees rows already committed as `sending`."""
        spy = Spy(outbox)
        results = await collect(make_orchestrator([spy]).abroadcast(messages(20), outbox=outbox, concurrency=4))
        assert len(results) == 20
        assert spy.states_seen == ["sending"] * 20

    async def test_outcomes_are_recorded(self, outbox: Outbox, make_orchestrator: Build) -> None:
        """Delivered rows are `sent` with provider and message id; failures keep their error."""
        provider = FakeProvider(
            outcomes=(
                None,
                DeliveryError.permanent("invalid_recipient", "no such user"),
                DeliveredWithError(DeliveryError.ambiguous("timeout", "read timed out")),
            )
        )
        results = await collect(make_orchestrator([provider]).abroadcast(messages(3), outbox=outbox, concurrency=1))
        assert [r.status for r in results] == ["delivered", "failed", "unknown"]
        assert outbox.status() == OutboxStatus(sent=1, failed=1, unknown=1, total=3)
        rows = {row.idempotency_key: row for row in outbox.rows()}
        assert rows["key-0"].state == "sent"
        assert rows["key-0"].provider == "fake"
        assert rows["key-0"].provider_message_id == results[0].provider_message_id
        assert rows["key-0"].attempts == 1
        assert rows["key-0"].route == ("fake",)
        assert rows["key-0"].reference_id == "r0"
        assert rows["key-1"].state == "failed"
        assert (rows["key-1"].last_error_code, rows["key-1"].last_error_class) == ("invalid_recipient", "permanent")
        assert rows["key-1"].last_error_message == "no such user"
        assert rows["key-2"].state == "unknown"
        assert rows["key-2"].last_error_class == "ambiguous"
        assert all(row.next_attempt_at is None and row.owner is None for row in rows.values())

    async def test_rows_carry_the_whole_message(self, outbox: Outbox, make_orchestrator: Build) -> None:
        """The journal stores the whole message, so a resume can send it as it was."""
        await collect(make_orchestrator([FakeProvider()]).abroadcast(messages(3), outbox=outbox))
        stored = [row.message for row in outbox.rows(messages=True)]
        assert stored == list(messages(3))
        assert all(row.message is None for row in outbox.rows())

    async def test_rows_filter_by_state(self, outbox: Outbox, make_orchestrator: Build) -> None:
        """rows(state=...) takes one state or several."""
        provider = FakeProvider(outcomes=(DeliveryError.permanent("rejected", "no"),))
        await collect(make_orchestrator([provider]).abroadcast(messages(4), outbox=outbox, concurrency=1))
        assert [r.idempotency_key for r in outbox.rows(state="failed")] == ["key-0"]
        assert len(list(outbox.rows(state=("sent", "failed")))) == 4
        assert isinstance(next(outbox.rows()), OutboxRow)
        with pytest.raises(UsageError, match="states are"):
            list(outbox.rows(state="lost"))  # type: ignore[arg-type]


class TestRerun:
    async def test_a_second_run_sends_nothing_and_yields_stored_results(
        self, outbox: Outbox, make_orchestrator: Build
    ) -> None:
        """Final rows are skipped; their stored result is yielded instead."""
        provider = FakeProvider(outcomes=(DeliveryError.permanent("rejected", "no"),))
        orchestrator = make_orchestrator([provider])
        first = await collect(orchestrator.abroadcast(messages(50), outbox=outbox, concurrency=8))
        second = await collect(orchestrator.abroadcast(messages(50), outbox=outbox, concurrency=8))
        assert provider.calls == 50

        def summary(results: list[DeliveryResult]) -> list[tuple[object, ...]]:
            return sorted((r.idempotency_key, r.status, r.provider_message_id, r.reference_id) for r in results)

        assert summary(second) == summary(first)
        failed = next(r for r in second if r.status == "failed")
        assert failed.error is not None
        assert failed.error.code == "rejected"
        assert outbox.status().total == 50

    async def test_a_rerun_sends_only_new_messages(self, outbox: Outbox, make_orchestrator: Build) -> None:
        """Extending a broadcast sends the new tail only."""
        provider = FakeProvider()
        orchestrator = make_orchestrator([provider])
        await collect(orchestrator.abroadcast(messages(30), outbox=outbox))
        results = await collect(orchestrator.abroadcast(messages(40), outbox=outbox))
        assert len(results) == 40
        assert provider.calls == 40
        assert outbox.status() == OutboxStatus(sent=40, total=40)

    async def test_a_key_given_twice_is_sent_once(self, outbox: Outbox, make_orchestrator: Build) -> None:
        """The second copy of a key in one broadcast is reported busy, not sent."""
        provider = FakeProvider()
        results = await collect(
            make_orchestrator([provider]).abroadcast([message(1), message(1)], outbox=outbox, concurrency=2)
        )
        assert provider.calls == 1
        assert sorted(r.status for r in results) == ["delivered", "unknown"]
        busy = next(r for r in results if r.status == "unknown")
        assert busy.error is not None
        assert busy.error.code == "outbox.in_progress"

    def test_the_sync_facade_takes_an_outbox(self, outbox: Outbox) -> None:
        """broadcast(outbox=...) and resume() work without an event loop."""
        provider = FakeProvider()
        orchestrator = Orchestrator([provider], plugin_manager=isolated_plugin_manager())
        try:
            assert len(list(orchestrator.broadcast(messages(10), outbox=outbox))) == 10
            outbox.add(messages(5, start=10))
            assert len(list(orchestrator.resume(outbox))) == 5
        finally:
            orchestrator.close()
        assert provider.calls == 15
        assert outbox.status() == OutboxStatus(sent=15, total=15)


class TestResume:
    async def test_pending_rows_are_sent(self, outbox: Outbox, make_orchestrator: Build) -> None:
        """Rows journalled but never attempted are sent by resume, once."""
        assert outbox.add(messages(600)) == 600
        assert outbox.add(messages(600)) == 0
        assert outbox.status() == OutboxStatus(pending=600, total=600)
        assert all(row.owner is None and row.next_attempt_at is None for row in outbox.rows())
        provider = FakeProvider(keep=0)
        orchestrator = make_orchestrator([provider])
        results = await collect(orchestrator.aresume(outbox, concurrency=16))
        assert len(results) == 600
        assert provider.calls == 600
        assert outbox.status() == OutboxStatus(sent=600, total=600)
        assert await collect(orchestrator.aresume(outbox)) == []

    async def test_a_dead_runs_sending_row_becomes_unknown_and_is_not_resent(
        self, outbox: Outbox, make_orchestrator: Build
    ) -> None:
        """Without idempotent providers, an interrupted row stays unknown and is listed."""
        outbox.add(messages(3))
        force(outbox, "UPDATE outbox SET state='sending', owner='dead', next_attempt_at=1, route='fake' WHERE id=2")
        provider = FakeProvider()
        results = await collect(make_orchestrator([provider]).aresume(outbox))
        assert provider.calls == 2
        assert sorted(r.status for r in results) == ["delivered", "delivered", "unknown"]
        unknown = list(outbox.rows(state="unknown"))
        assert [row.idempotency_key for row in unknown] == ["key-1"]
        assert unknown[0].last_error_code == "outbox.interrupted"
        # A second resume still lists it and still does not send it.
        again = await collect(make_orchestrator([provider]).aresume(outbox))
        assert [r.idempotency_key for r in again] == ["key-1"]
        assert provider.calls == 2

    async def test_an_unknown_row_is_resent_when_every_provider_is_idempotent(
        self, outbox: Outbox, make_orchestrator: Build
    ) -> None:
        """An idempotent provider makes the resend safe: the row ends sent."""
        outbox.add(messages(2))
        force(
            outbox,
            "UPDATE outbox SET state='sending', attempts=1, owner='dead', next_attempt_at=1, route='fake' WHERE id=1",
        )
        provider = FakeProvider(idempotent=True)
        results = await collect(make_orchestrator([provider]).aresume(outbox))
        assert [r.status for r in results] == ["delivered", "delivered"]
        assert outbox.status() == OutboxStatus(sent=2, total=2)
        assert next(outbox.rows()).attempts == 2  # the dead run's attempt and the resend

    async def test_an_unknown_row_stays_when_one_possible_provider_is_not_idempotent(
        self, outbox: Outbox, make_orchestrator: Build
    ) -> None:
        """Every provider of the row's last route, and of this one, must be idempotent."""
        outbox.add(messages(1))
        force(outbox, "UPDATE outbox SET state='unknown', route='fake,other', error_code='timeout' WHERE id=1")
        safe, unsafe = FakeProvider(idempotent=True), FakeProvider("other", channel="fake")
        results = await collect(make_orchestrator([safe, unsafe]).aresume(outbox))
        assert [r.status for r in results] == ["unknown"]
        assert safe.calls == unsafe.calls == 0
        results = await collect(make_orchestrator([safe, unsafe]).aresume(outbox, via=["fake"]))
        assert [r.status for r in results] == ["unknown"]  # "other" may have been called before

    async def test_rows_leased_by_a_live_run_are_left_alone(self, outbox: Outbox, make_orchestrator: Build) -> None:
        """A resume never touches rows another process holds, nor reports them."""
        outbox.add(messages(2))
        far = outbox.now() + 3600
        force(outbox, "UPDATE outbox SET state='sending', owner='alive', next_attempt_at=? WHERE id=1", far)
        provider = FakeProvider()
        results = await collect(make_orchestrator([provider]).aresume(outbox))
        assert [r.idempotency_key for r in results] == ["key-1"]
        assert outbox.status() == OutboxStatus(sending=1, sent=1, total=2)

    async def test_two_outboxes_on_one_file_never_send_a_row_twice(
        self, outbox_url: str, make_orchestrator: Build
    ) -> None:
        """Concurrent runs with different owners split the rows between them."""
        path = outbox_url
        with Outbox(path, owner="a") as first, Outbox(path, owner="b") as second:
            first.add(messages(400))
            a, b = FakeProvider("a", keep=0), FakeProvider("b", keep=0)
            await asyncio.gather(
                collect(make_orchestrator([a]).aresume(first, concurrency=8)),
                collect(make_orchestrator([b]).aresume(second, concurrency=8)),
            )
            assert a.calls + b.calls == 400
            assert first.status() == OutboxStatus(sent=400, total=400)

    async def test_leases_are_renewed_while_a_send_is_slow(self, outbox_url: str) -> None:
        """A live run keeps its rows past lease_seconds; another run cannot take them over."""
        path = outbox_url
        with Outbox(path, lease_seconds=0.3, owner="slow") as slow_box, Outbox(path, owner="other") as other_box:
            slow = FakeProvider("slow", latency=0.8)
            orchestrator = Orchestrator([slow], plugin_manager=isolated_plugin_manager())
            running = asyncio.ensure_future(collect(orchestrator.abroadcast([message(1)], outbox=slow_box)))
            await asyncio.sleep(0.55)
            thief = FakeProvider("slow")
            stolen = await collect(Orchestrator([thief], plugin_manager=isolated_plugin_manager()).aresume(other_box))
            assert stolen == []
            assert thief.calls == 0
            assert [r.status for r in await running] == ["delivered"]


class TestStopping:
    async def test_breaking_out_gives_claimed_rows_back(self, outbox: Outbox, make_orchestrator: Build) -> None:
        """Rows claimed but not sent are free at once; rows cut off mid-send become unknown."""
        provider = FakeProvider(keep=0)
        orchestrator = make_orchestrator([provider])
        stream = orchestrator.abroadcast(messages(1000), outbox=outbox, concurrency=4)
        async for _ in stream:
            break
        await stream.aclose()
        status = outbox.status()
        assert status.sending == 0
        assert [row for row in outbox.rows() if row.owner is not None] == []
        # A row cut off mid-send is unknown even if its provider call never started.
        assert status.sent <= provider.calls <= status.sent + status.unknown
        await collect(orchestrator.aresume(outbox))
        status = outbox.status()
        assert status.total == status.sent + status.unknown  # what was never journalled is not known here
        keys = [key for key, _ in provider.call_log]
        assert len(keys) == len(set(keys))  # nothing sent twice

    async def test_a_configuration_error_stops_the_run_and_leaves_every_row_pending(
        self, outbox: Outbox, make_orchestrator: Build
    ) -> None:
        """A provider raising a configuration error stops the broadcast; nothing is lost:
        the whole campaign was journalled and every row (the refused one too) stays pending."""
        provider = FakeProvider(outcomes=(ConfigurationError("bad token"),))
        with pytest.raises(ConfigurationError, match="bad token"):
            await collect(make_orchestrator([provider]).abroadcast(messages(5), outbox=outbox, concurrency=1))
        assert outbox.status() == OutboxStatus(pending=5, total=5)
        refused = next(outbox.rows())
        assert refused.last_error_code == "outbox.stopped_by_configuration_error"
        assert refused.owner is None
        assert refused.next_attempt_at is None
        results = await collect(make_orchestrator([FakeProvider()]).aresume(outbox))
        assert [r.status for r in results] == ["delivered"] * 5

    async def test_a_bad_item_stops_the_run(self, outbox: Outbox, make_orchestrator: Build) -> None:
        """Non-messages in the source raise, as without an outbox."""
        from broadcastio import InvalidMessageError

        with pytest.raises(InvalidMessageError, match="#1"):
            await collect(make_orchestrator([FakeProvider()]).abroadcast([message(0), "oops"], outbox=outbox))  # type: ignore[list-item]


class TestConfiguration:
    @pytest.mark.parametrize(
        ("options", "match"),
        [
            ({"synchronous": "SOMETIMES"}, "synchronous"),
            ({"lease_seconds": 0}, "lease_seconds"),
            ({"owner": ""}, "owner"),
        ],
    )
    def test_bad_settings_raise(self, tmp_path: Path, options: dict[str, object], match: str) -> None:
        """Each setting is checked and named in the error."""
        with pytest.raises(ConfigurationError, match=match):
            Outbox(tmp_path / "o.db", **options)  # type: ignore[arg-type]

    def test_a_file_that_is_not_a_database_raises(self, tmp_path: Path) -> None:
        """A wrong path fails at once with the path named."""
        path = tmp_path / "notes.txt"
        path.write_text("not sqlite " * 100)
        with pytest.raises(ConfigurationError, match="notes.txt"):
            Outbox(path)

    def test_settings_are_applied(self, tmp_path: Path) -> None:
        """WAL is on and synchronous is what was asked."""
        with Outbox(tmp_path / "o.db", synchronous="normal") as box:
            assert box.synchronous == "NORMAL"
            conn = box._connect()
            assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
            assert conn.execute("PRAGMA synchronous").fetchone()[0] == 1
            conn.close()
            assert "o.db" in repr(box)

    async def test_a_closed_outbox_refuses_work(self, tmp_path: Path, make_orchestrator: Build) -> None:
        """Using an outbox after close() is a usage error."""
        box = Outbox(tmp_path / "o.db")
        box.close()
        box.close()
        with pytest.raises(UsageError, match="closed"):
            box.status()
        with pytest.raises(UsageError, match="closed"):
            await collect(make_orchestrator([FakeProvider()]).abroadcast(messages(1), outbox=box))


@pytest.mark.slow
async def test_memory_stays_flat(tmp_path: Path, make_orchestrator: Build) -> None:
    """Peak memory does not grow with the number of messages journalled."""

    async def peak(n: int) -> int:
        with Outbox(tmp_path / f"{n}.db", synchronous="OFF") as box:
            orchestrator = make_orchestrator([MemoryProvider(keep=0)])
            tracemalloc.start()
            count = 0
            async for _ in orchestrator.abroadcast(messages(n), outbox=box):
                count += 1
            _, top = tracemalloc.get_traced_memory()
            tracemalloc.stop()
            assert count == n
            return top

    small, large = await peak(4_000), await peak(16_000)  # both past two journal chunks
    assert large < small * 1.5 + 256 * 1024


class TestWriter:
    def test_queued_sending_marks_report_a_lost_lease_per_row(self, outbox: Outbox) -> None:
        """A batch of `sending` marks tells each caller whether its row was still its own."""
        from broadcastio.outbox._store import mark_sending

        outbox.add(messages(3))
        force(outbox, "UPDATE outbox SET owner = 'a'")
        force(outbox, "UPDATE outbox SET owner = 'b' WHERE id = 3")
        with outbox._reader() as conn:
            now = outbox.now()
            calls = [(row_id, "a", now, now + 60, "fake") for row_id in (1, 2, 3)]
            assert mark_sending.many(conn, calls) == [True, True, False]  # type: ignore[attr-defined]
        assert [row.state for row in outbox.rows()] == ["sending", "sending", "pending"]

    async def test_many_concurrent_jobs_share_commits(self, outbox: Outbox, make_orchestrator: Build) -> None:
        """State changes are grouped: far fewer transactions than messages."""
        await collect(make_orchestrator([MemoryProvider(keep=0)]).abroadcast(messages(2000), outbox=outbox))
        assert outbox.status().sent == 2000
        assert outbox.writer.batches < 2000

    def test_a_job_that_raises_fails_alone_in_its_batch(self, outbox: Outbox) -> None:
        """Jobs grouped into one transaction: the failing one gets its error, the others are committed."""
        import time

        from broadcastio import OutboxError
        from broadcastio.outbox._store import open_campaign

        def slow(conn: object) -> None:
            time.sleep(0.3)  # holds the writer so the next jobs queue up into one batch

        def broken(conn: object) -> None:
            conn.execute("SELECT * FROM no_such_table")  # type: ignore[attr-defined]

        held = outbox.writer.post(slow)
        failing = outbox.writer.post(broken)
        fine = outbox.writer.post(open_campaign, "after-the-failure", outbox.now())
        held.result()
        with pytest.raises(OutboxError, match="no_such_table"):
            failing.result()
        assert fine.result() >= 1
        assert [campaign.name for campaign in outbox.campaigns()] == ["after-the-failure"]


def test_store_jobs_accept_a_plain_sqlite_connection(tmp_path: Path) -> None:
    """Job functions run on the writer's ``Db`` wrapper, and still on a bare ``sqlite3`` connection."""
    import sqlite3

    from broadcastio.outbox._store import claim_due, ingest_chunk, open_campaign

    Outbox(tmp_path / "o.db").close()
    conn = sqlite3.connect(tmp_path / "o.db", isolation_level=None)
    try:
        campaign = open_campaign(conn, "plain", 1.0)  # type: ignore[arg-type]
        added, given = ingest_chunk(conn, [(1, message(1)), (2, message(2))], campaign, 1.0)  # type: ignore[arg-type]
        assert (added, given) == (2, [])
        _, decisions = claim_due(conn, campaign, 0, 10, "me", 1.0, 61.0, frozenset())  # type: ignore[arg-type]
        assert [decision.kind for decision in decisions] == ["send", "send"]
    finally:
        conn.close()
