"""Campaigns through the real CLI in child processes, against a real local webhook receiver.

Each test runs ``broadcastio broadcast --outbox`` (``python -m broadcastio``)
and stops it the way a user or a deploy would: SIGTERM, SIGINT, SIGINT
twice, SIGKILL; then ``broadcastio outbox resume`` finishes the campaign.
The receiver (``_receiver.py``, its own process) counts messages by
Idempotency-Key: every message arrives exactly once through an idempotent
provider (the receiver deduplicates), at most once otherwise, and then
every message that did not arrive is listed ``unknown``.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

pytestmark = pytest.mark.timeout(60)

HERE = Path(__file__).resolve().parent
RUN_TIMEOUT = 40.0


@dataclass
class Receiver:
    url: str

    def stats(self) -> dict[str, object]:
        with urllib.request.urlopen(f"{self.url}/stats", timeout=10) as response:
            return json.loads(response.read())  # type: ignore[no-any-return]

    def keys(self) -> dict[str, int]:
        return self.stats()["keys"]  # type: ignore[return-value]


def start_receiver(*options: str) -> tuple[subprocess.Popen[str], Receiver]:
    process = subprocess.Popen(
        [sys.executable, str(HERE / "_receiver.py"), *options], stdout=subprocess.PIPE, text=True
    )
    assert process.stdout is not None
    line = process.stdout.readline()
    assert line.startswith("PORT "), line
    return process, Receiver(f"http://127.0.0.1:{int(line.split()[1])}")


@pytest.fixture
def receiver(request: pytest.FixtureRequest) -> Iterator[Receiver]:
    """Options come from ``@pytest.mark.parametrize("receiver", [[...]], indirect=True)``."""
    process, found = start_receiver(*getattr(request, "param", []))
    try:
        yield found
    finally:
        process.kill()
        process.wait(timeout=10)


CONFIG = """
[retry]
max_attempts = {attempts}
backoff = "exponential"
base_delay = 0.05
max_delay = 0.5

[breaker]
failure_threshold = 5
cooldown = 0.5

[[providers]]
name = "hook"
type = "webhook"

[providers.settings]
url = "{url}/hook"
idempotent = {idempotent}
timeout = 5.0
"""


def write_campaign(folder: Path, receiver: Receiver, count: int, *, idempotent: bool, attempts: int = 1) -> None:
    config = CONFIG.format(url=receiver.url, idempotent=str(idempotent).lower(), attempts=attempts)
    (folder / "broadcastio.toml").write_text(config)
    lines = ["address.webhook,name"] + [f"user-{i},Person {i}" for i in range(count)]
    (folder / "people.csv").write_text("\n".join(lines) + "\n")


def cli(folder: Path, *args: str) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "COLUMNS": "200"}
    return subprocess.Popen(
        [sys.executable, "-m", "broadcastio", *args],
        cwd=folder,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )


def broadcast(folder: Path, *extra: str) -> subprocess.Popen[str]:
    return cli(folder, "broadcast", "-r", "people.csv", "--text", "Hi {name}", "--outbox", "box.db", *extra)


def finish(process: subprocess.Popen[str]) -> tuple[int, str, str]:
    out, err = process.communicate(timeout=RUN_TIMEOUT)
    return process.returncode, out, err


def resume(folder: Path, *extra: str) -> tuple[int, str, str]:
    return finish(cli(folder, "outbox", "resume", "box.db", "--json", *extra))


def count(folder: Path, where: str = "state = 'sent'") -> int:
    path = folder / "box.db"
    if not path.exists():
        return 0
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5)
        try:
            return int(conn.execute(f"SELECT count(*) FROM outbox WHERE {where}").fetchone()[0])
        finally:
            conn.close()
    except sqlite3.OperationalError:
        return 0


def wait_for(condition, timeout: float = 20.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.02)
    raise AssertionError("condition not reached in time")


def states(folder: Path) -> dict[str, str]:
    conn = sqlite3.connect(folder / "box.db")
    try:
        return dict(conn.execute("SELECT idempotency_key, state FROM outbox").fetchall())
    finally:
        conn.close()


def check_at_most_once(folder: Path, receiver: Receiver) -> None:
    """Plain provider: nobody got a message twice; every message that did not arrive is listed unknown."""
    receipts = receiver.keys()
    rows = states(folder)
    assert max(receipts.values()) == 1
    assert set(receipts) <= set(rows)
    missing = set(rows) - set(receipts)
    assert all(rows[key] == "unknown" for key in missing)
    assert all(rows[key] in ("sent", "unknown") for key in rows)


@pytest.mark.parametrize("receiver", [["--dedup", "--latency", "0.01"]], indirect=True)
def test_sigterm_stops_gracefully_and_resume_finishes_exactly_once(tmp_path: Path, receiver: Receiver) -> None:
    """SIGTERM: summary, the resume command, exit 143; resume delivers the rest; each message once."""
    write_campaign(tmp_path, receiver, 3000, idempotent=True)
    process = broadcast(tmp_path, "--concurrency", "8")
    wait_for(lambda: count(tmp_path) >= 200)
    process.send_signal(signal.SIGTERM)
    code, out, err = finish(process)
    assert code == 143, err[-2000:]
    assert "broadcast summary" in out
    assert "to finish: broadcastio outbox resume box.db --campaign people.csv" in err
    assert count(tmp_path, "state = 'sending' OR owner IS NOT NULL") == 0  # leases released
    assert count(tmp_path, "1") == 3000  # the whole campaign was journalled first
    assert count(tmp_path, "state = 'unknown'") == 0  # in-flight sends finished within the grace
    code, out, err = resume(tmp_path)
    assert code == 0, err[-2000:]
    assert count(tmp_path) == 3000
    assert set(receiver.keys()) == set(states(tmp_path))  # every message arrived (deduplicated by key)


@pytest.mark.parametrize("receiver", [["--latency", "0.01"]], indirect=True)
def test_sigint_stops_gracefully_and_resume_finishes_at_most_once(tmp_path: Path, receiver: Receiver) -> None:
    """Ctrl-C: no 'Aborted!', a summary, exit 130; resume right after finishes the campaign."""
    write_campaign(tmp_path, receiver, 2000, idempotent=False)
    process = broadcast(tmp_path, "--concurrency", "8")
    wait_for(lambda: count(tmp_path) >= 100)
    process.send_signal(signal.SIGINT)
    code, out, err = finish(process)
    assert code == 130, err[-2000:]
    assert "Aborted" not in err
    assert "broadcast summary" in out
    code, out, err = resume(tmp_path)
    assert code == 0, err[-2000:]  # nothing was cut off, so nothing is unknown
    assert count(tmp_path) == 2000
    check_at_most_once(tmp_path, receiver)


@pytest.mark.parametrize("receiver", [["--latency", "2.0"]], indirect=True)
def test_a_second_sigint_stops_at_once(tmp_path: Path, receiver: Receiver) -> None:
    """Two Ctrl-C: the run ends well before the grace period; only what was in flight is unknown."""
    write_campaign(tmp_path, receiver, 200, idempotent=False)
    process = broadcast(tmp_path, "--concurrency", "4", "--grace", "30")
    wait_for(lambda: count(tmp_path, "state = 'sending'") == 4)
    started = time.monotonic()
    process.send_signal(signal.SIGINT)
    time.sleep(0.2)
    process.send_signal(signal.SIGINT)
    code, _, err = finish(process)
    assert code == 130, err[-2000:]
    assert time.monotonic() - started < 10
    assert "stopping now" in err
    assert count(tmp_path, "state = 'unknown'") == 4
    assert count(tmp_path, "state = 'pending'") == 196
    listing = finish(cli(tmp_path, "outbox", "list", "box.db", "--status", "unknown", "--json"))
    assert listing[0] == 0
    rows = [json.loads(line) for line in listing[1].splitlines()]
    assert len(rows) == 4
    assert all(row["error_code"] == "outbox.interrupted" for row in rows)
    assert all(row["row"] is not None and "user-" not in row["to"] for row in rows)  # masked
    code, _out, err = resume(tmp_path, "--concurrency", "50")
    assert code == 3, err[-2000:]  # four may have been delivered: not resent, listed
    assert "may have been delivered" in err
    check_at_most_once(tmp_path, receiver)


@pytest.mark.parametrize("receiver", [["--dedup", "--latency", "0.01"]], indirect=True)
def test_sigkill_right_after_start_then_resume_alone_delivers_all(tmp_path: Path, receiver: Receiver) -> None:
    """Journal first: killed as soon as sending starts, the campaign is all in the outbox; an
    immediate resume takes the dead run's leases at once and delivers everything, without the input."""
    write_campaign(tmp_path, receiver, 3000, idempotent=True)
    process = broadcast(tmp_path, "--concurrency", "8")
    wait_for(lambda: count(tmp_path, "state != 'pending'") >= 1)
    process.send_signal(signal.SIGKILL)
    process.communicate(timeout=RUN_TIMEOUT)
    (tmp_path / "people.csv").unlink()
    assert count(tmp_path, "1") == 3000
    code, out, err = resume(tmp_path, "--results", "resumed.jsonl")
    assert code == 0, err[-2000:]
    summary = json.loads(out)
    assert summary["delivered"] >= 2990
    lines = [json.loads(line) for line in (tmp_path / "resumed.jsonl").read_text().splitlines()]
    assert len(lines) == summary["delivered"]
    assert {line["row"] for line in lines} <= set(range(1, 3001))  # each result carries its input row
    assert len({line["row"] for line in lines}) == len(lines)
    assert count(tmp_path) == 3000
    assert set(receiver.keys()) == set(states(tmp_path))


@pytest.mark.parametrize("receiver", [["--dedup", "--unavailable-for", "1.0"]], indirect=True)
def test_a_one_second_outage_at_the_start_does_not_fail_the_campaign(tmp_path: Path, receiver: Receiver) -> None:
    """3,000 messages through a receiver answering 503 for its first second: all delivered,
    in the same run (deferred rows are retried once the breaker lets them) or after one resume."""
    write_campaign(tmp_path, receiver, 3000, idempotent=True, attempts=3)
    code, _, err = finish(broadcast(tmp_path, "--json", "--deadline", "20"))
    if code != 0:  # the breaker kept them back past the deadline: still pending, never failed
        assert code == 4, err[-2000:]
        assert count(tmp_path, "state = 'failed'") == 0
        code, _out, err = resume(tmp_path)
    assert code == 0, err[-2000:]
    assert count(tmp_path) == 3000
    assert receiver.stats()["refused"] > 0  # the outage was met
    assert set(receiver.keys()) == set(states(tmp_path))
