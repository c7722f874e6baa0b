"""Kill a journalled broadcast with SIGKILL, resume it, and count at the sink.

A broadcast of 10,000 messages runs in a child process against a webhook
sink in another process. The child is killed at random moments, a new child
resumes, and so on until one finishes. Then the sink's receipts are held
against the outbox:

- idempotent provider (the sink deduplicates by Idempotency-Key): every
  message arrived, exactly once after deduplication, and every row is sent;
- plain provider: no message arrived twice, and every message that did not
  arrive is listed as ``unknown`` in the outbox.

Either way the outbox accounts for all 10,000 and nothing is pending.
"""

from __future__ import annotations

import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from broadcastio.outbox import Outbox

pytestmark = pytest.mark.slow

HERE = Path(__file__).resolve().parent
COUNT = 10_000
KILLS = 3
LEASE = 2.0  # the children's lease_seconds
CHILD_TIMEOUT = 60.0


@pytest.fixture
def sink(request: pytest.FixtureRequest) -> Iterator[str]:
    """A sink process; yields its URL. Parametrized indirectly with dedup on or off."""
    args = [sys.executable, str(HERE / "_sink.py")] + (["--dedup"] if request.param else [])
    process = subprocess.Popen(args, stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        assert line.startswith("PORT "), line
        yield f"http://127.0.0.1:{int(line.split()[1])}"
    finally:
        process.kill()
        process.wait(timeout=10)


def stats(url: str) -> tuple[int, dict[str, int]]:
    with urllib.request.urlopen(f"{url}/stats", timeout=10) as response:
        body = json.loads(response.read())
    return body["raw"], body["keys"]


def child(outbox: Path, url: str, phase: str, mode: str) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    args = [sys.executable, str(HERE / "_child.py"), str(outbox), f"{url}/hook", phase, mode, str(COUNT)]
    return subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)


def sent_count(path: Path) -> int:
    """Rows the children have committed as sent (read-only, so the children never wait for us)."""
    if not path.exists():
        return 0
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5)
        try:
            return int(conn.execute("SELECT count(*) FROM outbox WHERE state = 'sent'").fetchone()[0])
        finally:
            conn.close()
    except sqlite3.OperationalError:  # not created yet
        return 0


def run_to_end(process: subprocess.Popen[str]) -> None:
    out, err = process.communicate(timeout=CHILD_TIMEOUT)
    assert process.returncode == 0, err[-3000:]
    assert "DONE" in out


@pytest.mark.parametrize(("sink", "mode"), [(True, "idempotent"), (False, "plain")], indirect=["sink"])
def test_killed_broadcasts_resume_without_loss_or_duplicates(tmp_path: Path, sink: str, mode: str) -> None:
    """SIGKILL at random points, resume in a new process, until done; the sink and the outbox agree."""
    seed = random.randrange(2**32)
    rng = random.Random(seed)
    path = tmp_path / "outbox.db"
    kill_points = []
    for number in range(KILLS):
        before = sent_count(path)
        # Kill once a random share of what is left has been sent, so kills land mid-broadcast
        # however fast this machine is; the first child is sometimes killed while still journalling.
        target = before + int((COUNT - before) * rng.uniform(0.0 if number == 0 else 0.05, 0.6))
        process = child(path, sink, "first" if number == 0 else "again", mode)
        deadline = time.monotonic() + CHILD_TIMEOUT
        while process.poll() is None and time.monotonic() < deadline and sent_count(path) < target:
            time.sleep(0.01)
        if process.poll() is None:
            process.send_signal(signal.SIGKILL)
        process.communicate(timeout=CHILD_TIMEOUT)
        with Outbox(path) as box:
            kill_points.append((target, process.returncode, box.status()))
    # Finish: wait out the dead child's leases, then resume until nothing is pending or sending.
    for _ in range(3):
        time.sleep(LEASE + 0.3)
        run_to_end(child(path, sink, "again", mode))
        with Outbox(path) as box:
            status = box.status()
        if status.pending == status.sending == 0:
            break
    context = f"seed={seed} kills={kill_points} final={status}"

    raw, receipts = stats(sink)
    with Outbox(path) as box:
        rows = {row.idempotency_key: row for row in box.rows()}
    assert status.total == COUNT == len(rows), context
    assert status.pending == status.sending == status.failed == 0, context
    assert sum(code == -signal.SIGKILL for _, code, _ in kill_points) >= 2, context
    expected = {f"crash-{i}" for i in range(COUNT)}
    assert set(rows) == expected, context
    assert set(receipts) <= expected, context
    if mode == "idempotent":
        assert set(receipts) == expected, context  # every recipient got its message (deduplicated by key)
        assert status.sent == COUNT, context
        assert raw >= COUNT, context
    else:
        assert max(receipts.values()) == 1, context  # nobody got a message twice
        assert raw == len(receipts), context
        missing = expected - set(receipts)
        unknown = {key for key, row in rows.items() if row.state == "unknown"}
        assert missing <= unknown, context  # every message that did not arrive is listed
        assert all(rows[key].state == "sent" for key in set(receipts) - unknown), context
        assert status.sent + status.unknown == COUNT, context
    print(context)  # noqa: T201
