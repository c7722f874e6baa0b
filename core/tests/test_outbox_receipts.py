"""The outbox as a receipt sink: matching, recording, receipt-driven fallback, escalation, reconciliation."""

from __future__ import annotations

import datetime as dt
import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import msgspec
import pytest
from broadcastio import (
    ConfigurationError,
    DeliveryError,
    DeliveryResult,
    Escalation,
    Message,
    Metadata,
    Orchestrator,
    Recipient,
    UsageError,
)
from broadcastio.outbox import Outbox
from broadcastio.receipts import Receipt, ReceiptLevel, ReceiptSink
from broadcastio.testing import FakeClock, FakeProvider

Build = Callable[..., Orchestrator]
TEN_MINUTES = dt.timedelta(minutes=10)


def message(i: int) -> Message:
    return Message(
        recipient=Recipient(phone=f"+4930000{i:04d}"),
        text="hello",
        metadata=Metadata(idempotency_key=f"key-{i}", reference_id=f"r{i}"),
    )


def receipt(
    number: int,
    level: ReceiptLevel,
    *,
    message_id: str | None = None,
    key: str | None = None,
    provider: str | None = "wa",
    error: DeliveryError | None = None,
) -> Receipt:
    return Receipt(
        provider_type="fake",
        receipt_id=f"receipt-{number}",
        provider_message_id=message_id,
        idempotency_key=key,
        level=level,
        status=level.name.lower(),
        error=error,
        occurred_at=dt.datetime(2026, 1, 1, tzinfo=dt.UTC),
        provider=provider,
    )


@pytest.fixture
def box(outbox_url: str, clock: FakeClock) -> Iterator[Outbox]:
    """An outbox on SQLite, then on PostgreSQL (conftest's ``outbox_url``)."""
    with Outbox(outbox_url, clock=clock) as outbox:
        yield outbox


def providers() -> tuple[FakeProvider, FakeProvider]:
    return FakeProvider("wa", "whatsapp"), FakeProvider("sms", "sms")


async def collect(stream: Any) -> list[DeliveryResult]:
    return [result async for result in stream]


def row(box: Outbox, key: str = "key-0") -> Any:
    return next(item for item in box.rows() if item.idempotency_key == key)


async def sent_through_wa(
    box: Outbox, make_orchestrator: Build, count: int = 1, escalate: Escalation | None = None
) -> tuple[Orchestrator, FakeProvider, FakeProvider]:
    wa, sms = providers()
    orchestrator = make_orchestrator([wa, sms])
    results = await collect(
        orchestrator.abroadcast(
            (message(i) for i in range(count)), outbox=box, campaign="c", deadline=0, escalate=escalate
        )
    )
    assert [result.provider for result in results] == ["wa"] * count
    return orchestrator, wa, sms


def message_id(box: Outbox, key: str = "key-0") -> str:
    found = row(box, key).provider_message_id
    assert found is not None
    return str(found)


class TestMatching:
    async def test_the_outbox_is_a_receipt_sink(self, box: Outbox) -> None:
        assert isinstance(box, ReceiptSink)
        assert isinstance(box.receipt_sink(), ReceiptSink)

    async def test_matched_by_provider_message_id(self, box: Outbox, make_orchestrator: Build) -> None:
        await sent_through_wa(box, make_orchestrator)
        assert await box.record(receipt(1, ReceiptLevel.DELIVERED, message_id=message_id(box))) == "recorded"
        found = row(box)
        assert (found.state, found.receipt_level, found.receipt_status) == ("sent", ReceiptLevel.DELIVERED, "delivered")
        assert found.receipt_at is not None

    async def test_matched_by_idempotency_key(self, box: Outbox, make_orchestrator: Build) -> None:
        await sent_through_wa(box, make_orchestrator)
        assert await box.record(receipt(1, ReceiptLevel.READ, key="key-0")) == "recorded"
        assert row(box).receipt_level is ReceiptLevel.READ

    async def test_an_unknown_message_is_kept_as_orphan(self, box: Outbox, make_orchestrator: Build) -> None:
        await sent_through_wa(box, make_orchestrator)
        assert await box.record(receipt(1, ReceiptLevel.DELIVERED, message_id="nobody's")) == "orphaned"
        assert row(box).receipt_level is None
        with box._reader() as conn:
            stored = [tuple(found) for found in conn.execute("SELECT outbox_id, outcome FROM receipts")]
        assert stored == [(None, "orphaned")]

    async def test_an_orphan_is_adopted_when_its_acceptance_is_recorded(
        self, box: Outbox, make_orchestrator: Build
    ) -> None:
        """A receipt faster than the commit of its send's outcome (no key echoed) is applied then."""
        error = DeliveryError.permanent("whatsapp.131026", "message undeliverable")
        early = receipt(1, ReceiptLevel.FAILED, message_id="wa-1", error=error)  # the id wa will return
        assert await box.record(early) == "orphaned"
        orchestrator, _, sms = await sent_through_wa(box, make_orchestrator)
        found = row(box)
        assert (found.state, found.skip, found.last_error_code) == ("pending", ("wa",), "whatsapp.131026")
        assert [(e.kind, e.detail) for e in box.history("key-0")] == [
            ("receipt", "failed (recorded)"),
            ("escalation", "failed"),
        ]
        await collect(orchestrator.awatch(box, once=True))
        assert len(sms.call_log) == 1

    async def test_a_replay_is_a_duplicate_and_changes_nothing(self, box: Outbox, make_orchestrator: Build) -> None:
        await sent_through_wa(box, make_orchestrator)
        first = receipt(1, ReceiptLevel.DELIVERED, message_id=message_id(box))
        assert await box.record(first) == "recorded"
        assert await box.record(first) == "duplicate"
        assert len(box.history("key-0")) == 1

    async def test_a_lower_level_is_stale(self, box: Outbox, make_orchestrator: Build) -> None:
        await sent_through_wa(box, make_orchestrator)
        assert await box.record(receipt(1, ReceiptLevel.READ, message_id=message_id(box))) == "recorded"
        assert await box.record(receipt(2, ReceiptLevel.DELIVERED, message_id=message_id(box))) == "stale"
        assert row(box).receipt_level is ReceiptLevel.READ

    async def test_the_sync_recorder_and_bad_input(self, box: Outbox, make_orchestrator: Build) -> None:
        await sent_through_wa(box, make_orchestrator)
        assert box.record_sync(receipt(1, ReceiptLevel.SENT, key="key-0")) == "recorded"
        with pytest.raises(UsageError):
            box.record_sync("delivered")  # type: ignore[arg-type]
        with pytest.raises(UsageError):
            box.history("no such key")


class TestReceiptDrivenFallback:
    async def test_failed_after_accept_goes_to_the_next_provider(self, box: Outbox, make_orchestrator: Build) -> None:
        orchestrator, wa, sms = await sent_through_wa(box, make_orchestrator)
        error = DeliveryError.permanent("whatsapp.131026", "message undeliverable")
        outcome = await box.record(receipt(1, ReceiptLevel.FAILED, message_id=message_id(box), error=error))
        assert outcome == "recorded"
        found = row(box)
        assert (found.state, found.skip, found.last_error_code) == ("pending", ("wa",), "whatsapp.131026")
        results = await collect(orchestrator.awatch(box, once=True))
        assert [(result.provider, result.status) for result in results] == [("sms", "delivered")]
        assert (len(wa.call_log), len(sms.call_log)) == (1, 1)
        found = row(box)
        assert (found.state, found.provider, found.receipt_level) == ("sent", "sms", None)
        kinds = [(entry.kind, entry.provider, entry.detail) for entry in box.history("key-0")]
        assert kinds == [("receipt", "wa", "failed (recorded)"), ("escalation", "wa", "failed")]
        assert await collect(orchestrator.awatch(box, once=True)) == []  # nothing is sent twice

    async def test_a_late_receipt_of_the_first_provider_is_stale(self, box: Outbox, make_orchestrator: Build) -> None:
        orchestrator, _, _ = await sent_through_wa(box, make_orchestrator)
        first_id = message_id(box)
        await box.record(receipt(1, ReceiptLevel.FAILED, message_id=first_id))
        await collect(orchestrator.awatch(box, once=True))
        assert await box.record(receipt(2, ReceiptLevel.DELIVERED, message_id=first_id)) == "stale"
        assert await box.record(receipt(3, ReceiptLevel.DELIVERED, message_id=message_id(box), provider="sms")) == (
            "recorded"
        )
        assert row(box).receipt_level is ReceiptLevel.DELIVERED

    async def test_failed_after_delivered_changes_nothing(self, box: Outbox, make_orchestrator: Build) -> None:
        orchestrator, _, sms = await sent_through_wa(box, make_orchestrator)
        assert await box.record(receipt(1, ReceiptLevel.DELIVERED, message_id=message_id(box))) == "recorded"
        assert await box.record(receipt(2, ReceiptLevel.FAILED, message_id=message_id(box))) == "stale"
        assert row(box).state == "sent"
        assert await collect(orchestrator.awatch(box, once=True)) == []
        assert sms.call_log == []

    async def test_no_address_for_the_rest_of_the_route_fails_the_row(
        self, box: Outbox, make_orchestrator: Build
    ) -> None:
        """The next provider's channel has no address for the recipient: failed, not deferred forever."""
        wa, mail = FakeProvider("wa", "whatsapp"), FakeProvider("mail", "email")
        orchestrator = make_orchestrator([wa, mail])
        await collect(orchestrator.abroadcast([message(0)], outbox=box, deadline=0))
        await box.record(receipt(1, ReceiptLevel.FAILED, message_id=message_id(box)))
        results = await collect(orchestrator.awatch(box, once=True))
        assert [result.status for result in results] == ["failed"]
        assert row(box).state == "failed"
        assert (len(wa.call_log), len(mail.call_log)) == (1, 0)

    async def test_failed_on_the_last_provider_fails_the_row(self, box: Outbox, make_orchestrator: Build) -> None:
        orchestrator, _, sms = await sent_through_wa(box, make_orchestrator)
        await box.record(receipt(1, ReceiptLevel.FAILED, message_id=message_id(box)))
        await collect(orchestrator.awatch(box, once=True))
        error = DeliveryError.permanent("sms.30003", "unreachable handset")
        await box.record(receipt(2, ReceiptLevel.FAILED, message_id=message_id(box), provider="sms", error=error))
        found = row(box)
        assert (found.state, found.last_error_code) == ("failed", "sms.30003")
        assert await collect(orchestrator.awatch(box, once=True)) == []
        assert len(sms.call_log) == 1


class TestEscalation:
    def test_escalation_checks_its_arguments(self) -> None:
        assert Escalation(after=TEN_MINUTES).unless == "delivered"
        with pytest.raises(ConfigurationError):
            Escalation(after=dt.timedelta(0))
        with pytest.raises(ConfigurationError):
            Escalation(after=TEN_MINUTES, unless="seen")  # type: ignore[arg-type]
        with pytest.raises(ConfigurationError):
            Escalation(after=600)  # type: ignore[arg-type]

    async def test_escalate_needs_an_outbox(self, make_orchestrator: Build) -> None:
        with pytest.raises(UsageError):
            await collect(
                make_orchestrator([FakeProvider()]).abroadcast([message(0)], escalate=Escalation(after=TEN_MINUTES))
            )

    async def test_silence_escalates_once_to_the_next_provider(
        self, box: Outbox, make_orchestrator: Build, clock: FakeClock
    ) -> None:
        orchestrator, wa, sms = await sent_through_wa(box, make_orchestrator, escalate=Escalation(after=TEN_MINUTES))
        assert row(box).escalate_at is not None
        clock.advance(599)
        assert await collect(orchestrator.awatch(box, once=True)) == []
        clock.advance(2)
        results = await collect(orchestrator.awatch(box, once=True))
        assert [result.provider for result in results] == ["sms"]
        for _ in range(3):
            clock.advance(601)
            assert await collect(orchestrator.awatch(box, once=True)) == []
        assert (len(wa.call_log), len(sms.call_log)) == (1, 1)
        assert [(e.kind, e.detail) for e in box.history("key-0")] == [("escalation", "silence")]

    async def test_a_delivered_receipt_cancels_it(
        self, box: Outbox, make_orchestrator: Build, clock: FakeClock
    ) -> None:
        orchestrator, _, sms = await sent_through_wa(box, make_orchestrator, escalate=Escalation(after=TEN_MINUTES))
        await box.record(receipt(1, ReceiptLevel.DELIVERED, message_id=message_id(box)))
        assert row(box).escalate_at is None
        clock.advance(3600)
        assert await collect(orchestrator.awatch(box, once=True)) == []
        assert sms.call_log == []

    async def test_unless_read_is_not_cancelled_by_delivered(
        self, box: Outbox, make_orchestrator: Build, clock: FakeClock
    ) -> None:
        escalation = Escalation(after=TEN_MINUTES, unless="read")
        orchestrator, _, sms = await sent_through_wa(box, make_orchestrator, count=2, escalate=escalation)
        await box.record(receipt(1, ReceiptLevel.DELIVERED, message_id=message_id(box, "key-0")))
        await box.record(receipt(2, ReceiptLevel.READ, message_id=message_id(box, "key-1")))
        clock.advance(601)
        results = await collect(orchestrator.awatch(box, once=True))
        assert [result.idempotency_key for result in results] == ["key-0"]
        assert len(sms.call_log) == 1

    async def test_outbox_add_arms_escalations_for_resume(
        self, box: Outbox, make_orchestrator: Build, clock: FakeClock
    ) -> None:
        box.add([message(0)], escalate=Escalation(after=TEN_MINUTES))
        with pytest.raises(ConfigurationError):
            box.add([message(1)], escalate="10m")  # type: ignore[arg-type]
        wa, sms = providers()
        orchestrator = make_orchestrator([wa, sms])
        await collect(orchestrator.aresume(box, deadline=0))
        clock.advance(601)
        await collect(orchestrator.aresume(box, deadline=0))  # resume fires due timers too
        assert (len(wa.call_log), len(sms.call_log)) == (1, 1)

    async def test_a_running_broadcast_fires_its_own_timers(self, outbox_url: str, make_orchestrator: Build) -> None:
        """Real time: the broadcast waits for its campaign's timers within its deadline."""
        with Outbox(outbox_url) as outbox:
            wa, sms = providers()
            escalation = Escalation(after=dt.timedelta(seconds=0.3))
            results = await collect(
                make_orchestrator([wa, sms]).abroadcast([message(0)], outbox=outbox, deadline=5, escalate=escalation)
            )
            assert [result.provider for result in results] == ["wa", "sms"]
            assert row(outbox).provider == "sms"


class TestReconciliation:
    async def unknown_row(self, box: Outbox, make_orchestrator: Build) -> tuple[Orchestrator, FakeProvider]:
        wa = FakeProvider("wa", "whatsapp", outcomes=(DeliveryError.ambiguous("timeout", "no answer"),))
        orchestrator = make_orchestrator([wa])
        await collect(orchestrator.abroadcast([message(0)], outbox=box, deadline=0))
        assert row(box).state == "unknown"
        return orchestrator, wa

    async def test_delivered_settles_an_unknown_row_as_sent(self, box: Outbox, make_orchestrator: Build) -> None:
        orchestrator, wa = await self.unknown_row(box, make_orchestrator)
        assert await box.record(receipt(1, ReceiptLevel.DELIVERED, key="key-0", message_id="wamid.1")) == "recorded"
        found = row(box)
        assert (found.state, found.provider_message_id, found.last_error) == ("sent", "wamid.1", None)
        await collect(orchestrator.aresume(box, deadline=0))
        assert len(wa.call_log) == 1

    async def test_failed_makes_an_unknown_row_safe_to_resend(self, box: Outbox, make_orchestrator: Build) -> None:
        orchestrator, wa = await self.unknown_row(box, make_orchestrator)
        assert await box.record(receipt(1, ReceiptLevel.FAILED, key="key-0")) == "recorded"
        assert row(box).state == "pending"
        results = await collect(orchestrator.aresume(box, deadline=0))
        assert [result.status for result in results] == ["delivered"]
        assert len(wa.call_log) == 2
        # the resend's own receipts count again, though the same provider failed before
        resent = receipt(2, ReceiptLevel.DELIVERED, message_id=message_id(box))
        assert await box.record(resent) == "recorded"
        assert row(box).receipt_level is ReceiptLevel.DELIVERED


def test_a_version_2_outbox_is_upgraded(tmp_path: Path) -> None:
    """A journal written before receipts opens as version 3 and keeps its rows."""
    path = tmp_path / "v2.db"
    conn = sqlite3.connect(path)
    conn.executescript(
        """
        CREATE TABLE outbox_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
        INSERT INTO outbox_meta VALUES ('schema_version', '2');
        CREATE TABLE campaigns (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, created_at REAL NOT NULL,
            journalled_at REAL);
        CREATE TABLE outbox (id INTEGER PRIMARY KEY, idempotency_key TEXT NOT NULL UNIQUE, state TEXT NOT NULL,
            attempts INTEGER NOT NULL DEFAULT 0, owner TEXT, next_attempt_at REAL, route TEXT, reference_id TEXT,
            provider TEXT, provider_message_id TEXT, error_code TEXT, error_class TEXT, error_message TEXT,
            created_at REAL NOT NULL, updated_at REAL NOT NULL, message BLOB NOT NULL, campaign INTEGER,
            row_number INTEGER);
        """
    )
    conn.execute(
        "INSERT INTO outbox (idempotency_key, state, provider, provider_message_id, created_at, updated_at, message) "
        "VALUES ('key-0', 'sent', 'wa', 'wamid.0', 1, 1, ?)",
        (msgspec.msgpack.encode(message(0)),),
    )
    conn.commit()
    conn.close()
    with Outbox(path) as box:
        found = row(box)
        assert (found.state, found.receipt_level, found.escalate_at) == ("sent", None, None)
        # rows sent before version 3 have no acceptance on record: their key still matches
        assert box.record_sync(receipt(1, ReceiptLevel.DELIVERED, key="key-0")) == "recorded"
    conn = sqlite3.connect(path)
    try:
        assert conn.execute("SELECT value FROM outbox_meta WHERE key = 'schema_version'").fetchone() == ("4",)
    finally:
        conn.close()


def test_a_newer_outbox_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "v9.db"
    conn = sqlite3.connect(path)
    conn.executescript(
        "CREATE TABLE outbox_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);"
        "INSERT INTO outbox_meta VALUES ('schema_version', '9');"
    )
    conn.close()
    with pytest.raises(ConfigurationError, match="version 9"):
        Outbox(path)
