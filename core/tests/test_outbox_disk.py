"""A full disk under the outbox: a documented OutboxError, never a raw sqlite3 error, and nothing lost."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from broadcastio import Message, Metadata, Orchestrator, OutboxError
from broadcastio.outbox import Outbox
from broadcastio.testing import FakeProvider, isolated_plugin_manager


class SmallDisk(Outbox):
    """An outbox whose file may not grow past ``pages`` pages, as on a full disk (SQLITE_FULL)."""

    pages = 0

    def _connect(self) -> sqlite3.Connection:
        conn = super()._connect()
        if self.pages:
            conn.execute(f"PRAGMA max_page_count={self.pages}")
        return conn


def messages(n: int) -> list[Message]:
    return [
        Message(recipient=f"user{i}@example.test", text="x" * 2000, metadata=Metadata(idempotency_key=f"k-{i}"))
        for i in range(n)
    ]


async def test_full_disk_raises_outbox_error_and_keeps_what_was_journalled(tmp_path: Path) -> None:
    """The broadcast stops with OutboxError naming the file; rows committed before stay readable."""
    outbox = SmallDisk(tmp_path / "outbox.db")
    pages = sqlite3.connect(tmp_path / "outbox.db").execute("PRAGMA page_count").fetchone()[0]
    outbox.close()
    SmallDisk.pages = pages + 40  # room for a few dozen rows, not for 2,000
    outbox = SmallDisk(tmp_path / "outbox.db")
    provider = FakeProvider("mail", "email")
    try:
        async with Orchestrator([provider], plugin_manager=isolated_plugin_manager()) as orchestrator:
            with pytest.raises(OutboxError, match=r"outbox\.db.*(full|disk)") as info:
                async for _ in orchestrator.abroadcast(messages(2000), outbox=outbox):
                    pass
        assert isinstance(info.value.__cause__, sqlite3.Error)
        assert provider.calls == 0  # journal first: nothing was sent from a journal that could not be written
    finally:
        outbox.close()
        SmallDisk.pages = 0
    reopened = Outbox(tmp_path / "outbox.db")
    try:
        assert reopened.status().total >= 0  # the file is intact and readable
    finally:
        reopened.close()
