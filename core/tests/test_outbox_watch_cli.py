"""The CLI around escalation in-process: broadcast --escalate-after, outbox watch --once, outbox list's receipt."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
import structlog

pytest.importorskip("click")

from broadcastio.cli import CliState, cli
from broadcastio.outbox import Outbox
from broadcastio.receipts import Receipt, ReceiptLevel
from broadcastio.testing import isolated_plugin_manager
from click.testing import CliRunner, Result

CONFIG = """\
[[providers]]
name = "first"
type = "memory"
[providers.settings]
channel = "sms"

[[providers]]
name = "second"
type = "memory"
[providers.settings]
channel = "sms"
"""


def invoke(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args), obj=CliState(plugin_manager_factory=isolated_plugin_manager, env={}))


@pytest.fixture(autouse=True)
def _reset_structlog() -> Iterator[None]:
    yield
    structlog.reset_defaults()


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("BROADCASTIO_CONFIG", raising=False)
    (tmp_path / "people.csv").write_text("phone,idempotency_key\n+15550000001,k1\n+15550000002,k2\n")
    (tmp_path / "broadcastio.toml").write_text(CONFIG)
    return tmp_path


def broadcast(*extra: str) -> Result:
    return invoke("broadcast", "-r", "people.csv", "-t", "hi", "--outbox", "box.db", "--deadline", "0", *extra)


def test_escalate_after_arms_a_timer_that_watch_fires(workdir: Path) -> None:
    result = broadcast("--escalate-after", "10m", "--unless", "read")
    assert result.exit_code == 0, result.output
    with Outbox(workdir / "box.db") as box:
        rows = list(box.rows())
        assert [row.provider for row in rows] == ["first", "first"]
        assert all(row.escalate_at is not None for row in rows)
        box.record_sync(
            Receipt(
                provider_type="memory",
                receipt_id="r1",
                provider_message_id=rows[0].provider_message_id,
                level=ReceiptLevel.READ,
                status="read",
                occurred_at=rows[0].updated_at,  # type: ignore[arg-type]
                provider="first",
            )
        )
    listed = invoke("outbox", "list", "box.db", "--status", "sent", "--json")
    records = [json.loads(line) for line in listed.output.splitlines()]
    assert [(r["receipt_level"], r["escalate_at"] is None) for r in records] == [("read", True), (None, False)]
    once = invoke("outbox", "watch", "box.db", "--once")
    assert once.exit_code == 0, once.output
    assert "sent " not in once.output  # nothing is due yet
    conn = sqlite3.connect(workdir / "box.db")
    with conn:
        conn.execute("UPDATE outbox SET escalate_at = 0 WHERE escalate_at IS NOT NULL")  # the window has passed
    conn.close()
    once = invoke("outbox", "watch", "box.db", "--once")
    assert once.exit_code == 0, once.output
    assert [line for line in once.output.splitlines() if line.startswith("sent ")] == ["sent k2 via second: delivered"]
    again = invoke("outbox", "watch", "box.db", "--once")
    assert [line for line in again.output.splitlines() if line.startswith("sent ")] == []
    table = invoke("outbox", "list", "box.db", "--status", "sent")
    assert table.exit_code == 0
    assert "read" in table.output  # the receipt column (rich may wrap it)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--escalate-after", "soon"), "not a duration"),
        (("--escalate-after", "0s"), "more than 0"),
        (("--escalate-after", "10m", "--unless", "seen"), "'seen' is not one of"),
    ],
)
def test_bad_escalation_options_are_usage_errors(workdir: Path, args: tuple[str, ...], message: str) -> None:
    result = broadcast(*args)
    assert result.exit_code == 2
    assert message in result.output


def test_escalate_after_needs_an_outbox(workdir: Path) -> None:
    result = invoke("broadcast", "-r", "people.csv", "-t", "hi", "--escalate-after", "10m")
    assert result.exit_code == 2
    assert "need --outbox" in result.output


def test_watch_wants_an_existing_outbox(workdir: Path) -> None:
    result = invoke("outbox", "watch", "missing.db", "--once")
    assert result.exit_code == 2
    assert "no outbox at" in result.output
