"""Operating a campaign on the outbox: cancel, pause, resume, and the report (rate, ETA, providers)."""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from broadcastio import DeliveryError, DeliveryResult, Message, Metadata, Orchestrator, UsageError
from broadcastio.outbox import Outbox
from broadcastio.outbox._schema import SCHEMA_VERSION
from broadcastio.outbox._store import claim_due, mark_final, mark_sending
from broadcastio.testing import FakeClock, FakeProvider, isolated_plugin_manager
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

_ids = itertools.count()


def messages(n: int, tag: str = "m") -> list[Message]:
    return [
        Message(recipient=f"user-{i}", text=f"hello {i}", metadata=Metadata(idempotency_key=f"{tag}-{i}"))
        for i in range(n)
    ]


def orchestrator(*providers: Any) -> Orchestrator:
    return Orchestrator(list(providers), plugin_manager=isolated_plugin_manager())


def sql(box: Outbox, statement: str, *params: object) -> Any:
    """Run one statement through the outbox's writer (neutral SQL, any store)."""

    def job(conn: Any) -> Any:
        cursor = conn.execute(statement, params)
        return cursor.fetchall() if statement.lstrip().upper().startswith("SELECT") else cursor.rowcount

    return box.writer.call(job)


def states(box: Outbox, campaign: str) -> dict[str, str]:
    return {row.idempotency_key: row.state for row in box.rows(campaign=campaign)}


@pytest.fixture
def outbox(outbox_url: str) -> Iterator[Outbox]:
    with Outbox(outbox_url, retry_delay=0.05, max_retry_delay=0.2) as box:
        yield box


class CallHook(FakeProvider):
    """A fake provider that runs ``action`` (in another thread, as another process would) at call ``at``."""

    def __init__(self, at: int, action: Callable[[], object], **options: Any) -> None:
        super().__init__(**options)
        self.at = at
        self.action = action
        self.keys: list[str] = []

    async def send(self, message: Message, address: str) -> DeliveryResult:
        self.keys.append(message.metadata.idempotency_key)
        if len(self.keys) == self.at:
            await asyncio.to_thread(self.action)
        return await super().send(message, address)


def test_a_version_3_outbox_is_upgraded(tmp_path: Any) -> None:
    """A version 3 SQLite file gains campaigns.paused_at and cancelled_at, and its campaigns keep running."""
    import sqlite3

    outbox_url = str(tmp_path / "v3.db")

    with Outbox(outbox_url) as box:
        box.add(messages(3), campaign="old")
    conn = sqlite3.connect(outbox_url)
    with conn:
        conn.execute("ALTER TABLE campaigns DROP COLUMN paused_at")
        conn.execute("ALTER TABLE campaigns DROP COLUMN cancelled_at")
        conn.execute("UPDATE outbox_meta SET value = '3' WHERE key = 'schema_version'")
    conn.close()
    with Outbox(outbox_url) as box:
        assert not box.campaign_report("old").paused
        assert box.pause_campaign("old").changed
        assert sql(box, "SELECT value FROM outbox_meta WHERE key = 'schema_version'") == [(str(SCHEMA_VERSION),)]
    assert SCHEMA_VERSION == 4


class TestCancel:
    def test_unsent_rows_become_cancelled_and_the_rest_keep_their_state(self, outbox: Outbox) -> None:
        """pending (free or deferred) -> cancelled with a reason; sent, failed, unknown and sending stay."""
        outbox.add(messages(6), campaign="c")
        for key, state, extra in (
            ("m-0", "sent", ""),
            ("m-1", "failed", ""),
            ("m-2", "unknown", ""),
            ("m-3", "sending", ", owner = 'elsewhere:1:x/1', next_attempt_at = 9999999999"),
            ("m-4", "pending", ", next_attempt_at = 9999999999"),
        ):
            sql(outbox, f"UPDATE outbox SET state = ?{extra} WHERE idempotency_key = ?", state, key)
        change = outbox.cancel_campaign("c")
        assert (change.changed, change.standing, change.rows, change.in_flight) == (True, "cancelled", 2, 1)
        assert states(outbox, "c") == {
            "m-0": "sent",
            "m-1": "failed",
            "m-2": "unknown",
            "m-3": "sending",
            "m-4": "cancelled",
            "m-5": "cancelled",
        }
        cancelled = list(outbox.rows("cancelled", campaign="c"))
        assert {row.last_error_code for row in cancelled} == {"outbox.cancelled"}
        assert all(row.owner is None and row.next_attempt_at is None for row in cancelled)
        report = outbox.campaign_report("c")
        assert report.cancelled
        assert report.status.cancelled == 2
        assert report.status.done == 4

    def test_a_row_claimed_but_not_yet_sending_cannot_be_marked_sending(self, outbox: Outbox) -> None:
        """Cancel clears the owner of claimed rows, so the run's mark_sending (owner = ?) fails."""
        outbox.add(messages(3), campaign="c")
        campaign_id = sql(outbox, "SELECT id FROM campaigns WHERE name = ?", "c")[0][0]
        now = time.time()
        _, decisions = outbox.writer.call(claim_due, campaign_id, 0, 10, "run-a", now, now + 60, frozenset())
        assert [d.kind for d in decisions] == ["send"] * 3
        assert outbox.writer.call(mark_sending, decisions[0].row_id, "run-a", now, now + 60, "fake")
        outbox.cancel_campaign("c")
        assert not outbox.writer.call(mark_sending, decisions[1].row_id, "run-a", now, now + 60, "fake")
        outbox.writer.call(mark_final, decisions[0].row_id, DeliveryResult.success("id-0"), now, None)
        assert states(outbox, "c") == {"m-0": "sent", "m-1": "cancelled", "m-2": "cancelled"}

    def test_a_send_in_flight_that_fails_transiently_ends_cancelled(self, outbox: Outbox) -> None:
        """The row goes back to pending, and its run's release cancels it: nothing stays pending."""
        provider = CallHook(
            1, lambda: outbox.cancel_campaign("c"), outcomes=(DeliveryError.transient("busy", "503"),), latency=0.05
        )
        with orchestrator(provider) as orch:
            results = list(orch.broadcast(messages(5), outbox=outbox, campaign="c", concurrency=1))
        assert provider.keys == ["m-0"]
        assert states(outbox, "c") == dict.fromkeys(("m-0", "m-1", "m-2", "m-3", "m-4"), "cancelled")
        assert len(results) <= 1

    def test_cancel_twice_is_idempotent(self, outbox: Outbox) -> None:
        """The second cancel changes nothing and says since when it is cancelled."""
        outbox.add(messages(2), campaign="c")
        first, second = outbox.cancel_campaign("c"), outbox.cancel_campaign("c")
        assert first.changed
        assert not second.changed
        assert second.standing == "cancelled"
        assert "already cancelled" in second.detail
        assert outbox.campaign("c").cancelled == 2

    def test_a_finished_campaign_has_nothing_to_cancel(self, outbox: Outbox) -> None:
        with orchestrator(FakeProvider()) as orch:
            list(orch.broadcast(messages(2), outbox=outbox, campaign="c"))
        change = outbox.cancel_campaign("c")
        assert (change.changed, change.standing) == (False, "finished")
        assert "finished" in change.detail
        assert not outbox.campaign_report("c").cancelled

    def test_a_cancelled_campaign_is_never_sent_and_cannot_be_resumed(self, outbox: Outbox) -> None:
        """resume, outbox-wide resume and a rerun of the broadcast send nothing; a rerun gives failed results."""
        outbox.add(messages(4), campaign="c")
        outbox.cancel_campaign("c")
        provider = FakeProvider()
        with orchestrator(provider) as orch:
            assert list(orch.resume(outbox, campaign="c")) == []
            assert list(orch.resume(outbox)) == []
            again = list(orch.broadcast(messages(4), outbox=outbox, campaign="c"))
        assert provider.calls == 0
        assert {(r.status, r.error.code if r.error else None) for r in again} == {("failed", "outbox.cancelled")}
        change = outbox.resume_campaign("c")
        assert (change.changed, change.standing) == (False, "cancelled")

    def test_an_interrupted_send_of_a_cancelled_campaign_becomes_unknown(self, outbox: Outbox) -> None:
        """Nothing claims a cancelled campaign's rows, so cancel itself settles a dead run's sending rows."""
        outbox.add(messages(2), campaign="c")
        sql(
            outbox,
            "UPDATE outbox SET state = 'sending', owner = 'elsewhere:1:x/1', next_attempt_at = ? "
            "WHERE idempotency_key = 'm-0'",
            time.time() - 1,
        )
        outbox.cancel_campaign("c")
        assert states(outbox, "c") == {"m-0": "unknown", "m-1": "cancelled"}

    @pytest.mark.parametrize("action", ["pause_campaign", "resume_campaign", "cancel_campaign", "campaign_report"])
    def test_an_unknown_campaign_is_a_usage_error_naming_the_known_ones(self, outbox: Outbox, action: str) -> None:
        outbox.add(messages(1, "a"), campaign="spring")
        outbox.add(messages(1, "b"), campaign="summer")
        with pytest.raises(UsageError, match="no campaign named 'winter'.*campaigns: spring, summer"):
            getattr(outbox, action)("winter")


class TestCancelWhileRunning:
    @settings(
        max_examples=20,
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )
    @given(at=st.integers(min_value=1, max_value=30), concurrency=st.integers(min_value=1, max_value=6))
    def test_cancel_at_any_point_never_sends_a_cancelled_row(self, outbox: Outbox, at: int, concurrency: int) -> None:
        """Every row ends sent or cancelled, never both: each sent row was called, no cancelled row was."""
        name = f"run-{next(_ids)}"
        batch = messages(30, name)
        provider = CallHook(at, lambda: outbox.cancel_campaign(name))
        with orchestrator(provider) as orch:
            list(orch.broadcast(batch, outbox=outbox, campaign=name, concurrency=concurrency))
        found = states(outbox, name)
        called = set(provider.keys)
        assert {key for key, state in found.items() if state == "sent"} == called
        assert not called & {key for key, state in found.items() if state == "cancelled"}
        assert set(found.values()) <= {"sent", "cancelled"}
        counts = outbox.campaign(name)
        assert counts.sent + counts.cancelled == counts.total == 30
        assert len(called) >= min(at, 30)


class TestPauseWhileRunning:
    @settings(
        max_examples=15,
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )
    @given(at=st.integers(min_value=1, max_value=30), concurrency=st.integers(min_value=1, max_value=6))
    def test_pause_at_any_point_loses_nothing_and_resume_sends_each_once(
        self, outbox: Outbox, at: int, concurrency: int
    ) -> None:
        """After a pause every row is sent (and was called) or pending and free; a resume sends the rest once."""
        name = f"pause-{next(_ids)}"
        provider = CallHook(at, lambda: outbox.pause_campaign(name))
        with orchestrator(provider) as orch:
            list(orch.broadcast(messages(30, name), outbox=outbox, campaign=name, concurrency=concurrency))
            found = states(outbox, name)
            assert {key for key, state in found.items() if state == "sent"} == set(provider.keys)
            assert set(found.values()) <= {"sent", "pending"}
            assert all(row.owner is None for row in outbox.rows("pending", campaign=name))
            outbox.resume_campaign(name)
            list(orch.resume(outbox, campaign=name))
        assert sorted(provider.keys) == sorted(f"{name}-{i}" for i in range(30))
        assert outbox.campaign(name).sent == 30


class TestPause:
    def test_a_paused_campaign_is_not_claimed_nor_waited_for(self, outbox: Outbox) -> None:
        """resume of a paused campaign ends at once (deferred rows included); resuming it lets it finish."""
        outbox.add(messages(5), campaign="p")
        sql(outbox, "UPDATE outbox SET next_attempt_at = ? WHERE idempotency_key = 'm-4'", time.time() + 0.3)
        assert outbox.pause_campaign("p").changed
        provider = FakeProvider()
        with orchestrator(provider) as orch:
            started = time.monotonic()
            assert list(orch.resume(outbox, campaign="p")) == []
            assert list(orch.resume(outbox)) == []
            assert time.monotonic() - started < 2.0
            assert provider.calls == 0
            assert outbox.campaign("p").pending == 5
            change = outbox.resume_campaign("p")
            assert (change.changed, change.standing) == (True, "running")
            assert sum(r.ok for r in orch.resume(outbox, campaign="p")) == 5

    def test_a_run_paused_mid_way_finishes_its_sends_and_gives_back_the_rest(self, outbox: Outbox) -> None:
        """In-flight attempts finish; claimed rows are released; the run ends long before its deadline."""
        provider = CallHook(3, lambda: outbox.pause_campaign("p"), latency=0.02)
        with orchestrator(provider) as orch:
            started = time.monotonic()
            results = list(orch.broadcast(messages(200), outbox=outbox, campaign="p", concurrency=4, deadline=60))
            took = time.monotonic() - started
        counts = outbox.campaign("p")
        assert took < 10
        assert counts.sent == len(provider.keys) == sum(r.ok for r in results)
        assert counts.sent <= 3 + 4
        assert counts.pending == 200 - counts.sent
        assert counts.sending == 0
        assert all(row.owner is None for row in outbox.rows("pending", campaign="p"))
        outbox.resume_campaign("p")
        with orchestrator(FakeProvider()) as orch:
            assert sum(r.ok for r in orch.resume(outbox, campaign="p")) == counts.pending
        assert outbox.campaign("p").sent == 200

    def test_other_campaigns_keep_going(self, outbox: Outbox) -> None:
        outbox.add(messages(3, "a"), campaign="a")
        outbox.add(messages(3, "b"), campaign="b")
        outbox.pause_campaign("a")
        with orchestrator(FakeProvider()) as orch:
            assert sum(r.ok for r in orch.resume(outbox)) == 3
        assert (outbox.campaign("a").pending, outbox.campaign("b").sent) == (3, 3)

    def test_pause_says_why_nothing_changed(self, outbox: Outbox) -> None:
        """Twice: already paused; finished: nothing to pause; cancelled: nothing to pause; resume twice: not paused."""
        outbox.add(messages(2, "a"), campaign="a")
        assert outbox.pause_campaign("a").changed
        again = outbox.pause_campaign("a")
        assert (again.changed, again.standing) == (False, "paused")
        assert "already paused" in again.detail
        assert outbox.resume_campaign("a").changed
        assert "not paused" in outbox.resume_campaign("a").detail
        with orchestrator(FakeProvider()) as orch:
            list(orch.broadcast(messages(2, "f"), outbox=outbox, campaign="f"))
        finished = outbox.pause_campaign("f")
        assert (finished.changed, finished.standing) == (False, "finished")
        assert "finished" in finished.detail
        outbox.add(messages(2, "c"), campaign="c")
        outbox.cancel_campaign("c")
        assert "cancelled" in outbox.pause_campaign("c").detail


class TestReport:
    def test_counts_rate_eta_providers_and_reasons(self, outbox_url: str) -> None:
        """The rate counts outcomes of the last minute; ETA = rows to send / rate."""
        clock = FakeClock(start=1_800_000_000.0)
        with Outbox(outbox_url, clock=clock) as box:
            box.add(messages(100), campaign="r")
            now = clock.now().timestamp()
            for i in range(30):  # 30 outcomes over the last 10 s; 10 more a while ago
                sql(
                    box,
                    "UPDATE outbox SET state = ?, provider = ?, updated_at = ?, error_code = ?, error_class = ? "
                    "WHERE idempotency_key = ?",
                    "failed" if i % 10 == 0 else "sent",
                    "sms" if i % 2 else "email",
                    now - 10 + i / 3,
                    "invalid_recipient" if i % 10 == 0 else None,
                    "permanent" if i % 10 == 0 else None,
                    f"m-{i}",
                )
            for i in range(30, 40):
                sql(
                    box,
                    "UPDATE outbox SET state = 'sent', updated_at = ? WHERE idempotency_key = ?",
                    now - 300,
                    f"m-{i}",
                )
            report = box.campaign_report("r")
            assert (report.status.sent, report.status.failed, report.status.pending, report.status.total) == (
                37,
                3,
                60,
                100,
            )
            assert report.journalled
            assert not report.paused
            assert not report.cancelled
            assert not report.finished
            assert report.rate == pytest.approx(30 / 10, rel=0.01)
            assert report.eta_seconds == pytest.approx(60 / 3, rel=0.01)
            providers = report.by_provider()
            assert (providers["sms"].sent, providers["email"].sent, providers["email"].failed) == (15, 12, 3)
            assert sum(item.total for item in report.providers) == 30
            assert [(r.state, r.error_class, r.code, r.count) for r in report.reasons] == [
                ("failed", "permanent", "invalid_recipient", 3)
            ]
            box.pause_campaign("r")
            assert box.campaign_report("r").eta_seconds is None
            clock.advance(120)  # nothing finished in the last minute
            box.resume_campaign("r")
            late = box.campaign_report("r")
            assert (late.rate, late.eta_seconds) == (0.0, None)

    def test_before_the_input_is_journalled_the_rate_is_unknown(self, outbox: Outbox) -> None:
        sql(outbox, "INSERT INTO campaigns (name, created_at) VALUES ('j', ?)", time.time())
        report = outbox.campaign_report("j")
        assert (report.journalled, report.rate, report.eta_seconds, report.status.total) == (False, None, None, 0)

    @settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(
        st.lists(st.sampled_from(["pending", "sending", "sent", "failed", "unknown", "cancelled"]), max_size=40),
        st.sampled_from([None, "pause", "cancel"]),
    )
    def test_counts_always_add_up(self, outbox: Outbox, row_states: list[str], action: str | None) -> None:
        """Per state, per provider and in total, the report accounts for every row once."""
        name = f"sum-{next(_ids)}"
        outbox.add(messages(len(row_states), name), campaign=name)
        for i, state in enumerate(row_states):
            sql(
                outbox,
                "UPDATE outbox SET state = ?, provider = ? WHERE idempotency_key = ?",
                state,
                None if state == "pending" else f"p{i % 3}",
                f"{name}-{i}",
            )
        if action is not None:
            getattr(outbox, f"{action}_campaign")(name)
        report = outbox.campaign_report(name)
        counts = report.status
        assert counts.total == len(row_states)
        assert sum(
            getattr(counts, state) for state in ("pending", "sending", "sent", "failed", "unknown", "cancelled")
        ) == (counts.total)
        assert counts.done + counts.left == counts.total
        assert sum(item.total for item in report.providers) == sum(state != "pending" for state in row_states)
        assert counts.sent == row_states.count("sent")
