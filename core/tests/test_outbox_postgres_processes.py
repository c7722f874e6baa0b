"""The PostgreSQL outbox across real processes: concurrent claimers, and the relay killed and restarted."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psycopg
from broadcastio import Message, Metadata
from broadcastio.outbox import Outbox

CLAIMER = r"""
import asyncio, json, sys, time, pathlib
from broadcastio import Orchestrator
from broadcastio.outbox import Outbox
from broadcastio.testing import FakeProvider, isolated_plugin_manager

dsn, go, out = sys.argv[1], pathlib.Path(sys.argv[2]), pathlib.Path(sys.argv[3])
provider = FakeProvider(keep=0, latency=0.002)
orchestrator = Orchestrator([provider], plugin_manager=isolated_plugin_manager())

async def main():
    with Outbox(dsn) as box:
        while not go.exists():
            await asyncio.sleep(0.01)
        async for _ in orchestrator.aresume(box, campaign="shared", concurrency=4):
            pass

asyncio.run(main())
out.write_text(json.dumps([key for key, _ in provider.call_log]))
"""

CONFIG = """\
[[providers]]
name = "files"
type = "file"
[providers.settings]
directory = "{directory}"
"""


def message(i: int) -> Message:
    return Message(recipient=f"user-{i}", text="hello", metadata=Metadata(idempotency_key=f"key-{i}"))


def wait_for(condition: object, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():  # type: ignore[operator]
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def test_two_processes_claiming_one_campaign_never_send_a_row_twice(pg_url: str, tmp_path: Path) -> None:
    total = 3000
    with Outbox(pg_url) as box:
        box.add((message(i) for i in range(total)), campaign="shared")
    go = tmp_path / "go"
    outs = [tmp_path / f"out-{n}.json" for n in range(2)]
    children = [
        subprocess.Popen([sys.executable, "-c", CLAIMER, pg_url, str(go), str(out)], stderr=subprocess.PIPE)
        for out in outs
    ]
    time.sleep(1.0)  # both have opened the outbox
    go.touch()
    for child in children:
        _, stderr = child.communicate(timeout=120)
        assert child.returncode == 0, stderr.decode()[-3000:]
    sent = [json.loads(out.read_text()) for out in outs]
    assert all(keys for keys in sent), [len(keys) for keys in sent]  # both took part
    every = sent[0] + sent[1]
    assert len(every) == len(set(every)) == total  # disjoint claims, nothing left
    with Outbox(pg_url) as box:
        assert box.campaign("shared").sent == total


class Relay:
    """``broadcastio outbox relay DSN`` as a child process."""

    def __init__(self, dsn: str, config: Path) -> None:
        env = {key: value for key, value in os.environ.items() if not key.startswith("BROADCASTIO_")}
        self.process = subprocess.Popen(
            [sys.executable, "-m", "broadcastio", "outbox", "relay", dsn, "-c", str(config), "--poll", "0.5"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            env=env,
        )

    def kill(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=30)

    def terminate(self) -> int:
        self.process.send_signal(signal.SIGTERM)
        _, stderr = self.process.communicate(timeout=60)
        self.stderr = stderr.decode()
        return self.process.returncode


def delivered(directory: Path) -> list[str]:
    path = directory / "files.jsonl"
    if not path.exists():
        return []
    return [json.loads(line)["idempotency_key"] for line in path.read_text().splitlines() if line.strip()]


def commit(dsn: str, box: Outbox, keys: range, *, roll_back: bool = False) -> None:
    with psycopg.connect(dsn) as conn:
        conn.execute("CREATE TABLE IF NOT EXISTS orders (id TEXT PRIMARY KEY)")
        for i in keys:
            conn.execute("INSERT INTO orders (id) VALUES (%s)", (f"order-{i}",))
        box.add((message(i) for i in keys), connection=conn, campaign="orders")
        if roll_back:
            conn.rollback()
        else:
            conn.commit()


def test_the_relay_sends_committed_rows_once_also_when_killed_and_restarted(pg_url: str, tmp_path: Path) -> None:
    sink = tmp_path / "sent"
    config = tmp_path / "broadcastio.toml"
    config.write_text(CONFIG.format(directory=sink))
    with Outbox(pg_url) as box:
        commit(pg_url, box, range(0, 20), roll_back=True)  # never journalled
        commit(pg_url, box, range(100, 150))
        first = Relay(pg_url, config)
        try:
            wait_for(lambda: box.campaign("orders").sent == 50, 60, "the first relay to send 50 rows")
        finally:
            first.kill()
        commit(pg_url, box, range(200, 260))  # committed while no relay runs
        second = Relay(pg_url, config)
        try:
            wait_for(lambda: box.campaign("orders").sent == 110, 60, "the restarted relay to send the rest")
        finally:
            code = second.terminate()
        assert code == 143, second.stderr
        keys = delivered(sink)
        assert sorted(keys) == sorted(f"key-{i}" for i in [*range(100, 150), *range(200, 260)])  # once each
        assert box.status().total == 110


def test_a_relay_killed_mid_send_leaves_at_most_its_in_flight_rows_unknown(pg_url: str, tmp_path: Path) -> None:
    sink = tmp_path / "sent"
    config = tmp_path / "broadcastio.toml"
    config.write_text(CONFIG.format(directory=sink))
    total = 2000
    with Outbox(pg_url) as box:
        commit(pg_url, box, range(total))
        first = Relay(pg_url, config)
        try:
            wait_for(lambda: len(delivered(sink)) >= 200, 60, "the relay to start sending")
        finally:
            first.kill()
        second = Relay(pg_url, config)
        try:
            wait_for(lambda: box.status().pending + box.status().sending == 0, 120, "the campaign to finish")
        finally:
            second.terminate()
        status = box.status()
        keys = delivered(sink)
        assert len(keys) == len(set(keys))  # the file provider is not idempotent: nothing is sent twice
        sent = {row.idempotency_key for row in box.rows("sent")}
        unknown = {row.idempotency_key for row in box.rows("unknown")}
        assert sent <= set(keys) <= sent | unknown
        assert status.sent + status.unknown == total
        assert status.unknown <= 64  # only what the killed relay had in flight
