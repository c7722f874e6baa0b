"""Operating campaigns through the real CLI in child processes, against a real local webhook receiver.

A slow campaign runs in one process (``campaign start``, local or on
worker processes) while a second process cancels or pauses it, or a signal
stops the command that follows it. The receiver (``_receiver.py``) counts
what arrived by Idempotency-Key, so the tests check at the far end that a
cancelled message never left and that nothing arrived twice.
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
from pathlib import Path

import pytest

pytestmark = pytest.mark.timeout(90)

HERE = Path(__file__).resolve().parent
RUN_TIMEOUT = 60.0
CONFIG = """
[[providers]]
name = "hook"
type = "webhook"

[providers.settings]
url = "{url}/hook"
timeout = 5.0
"""


@pytest.fixture
def outbox_url() -> str:
    """The outbox of these tests, relative to the campaign's folder: the one place to point them elsewhere."""
    return "box.db"


@pytest.fixture
def receiver() -> Iterator[str]:
    """A receiver that takes 50 ms per message, so a campaign of a hundred lasts seconds."""
    process = subprocess.Popen(
        [sys.executable, str(HERE / "_receiver.py"), "--latency", "0.05"], stdout=subprocess.PIPE, text=True
    )
    assert process.stdout is not None
    line = process.stdout.readline()
    assert line.startswith("PORT "), line
    try:
        yield f"http://127.0.0.1:{int(line.split()[1])}"
    finally:
        process.kill()
        process.wait(timeout=10)


def received(url: str) -> dict[str, int]:
    with urllib.request.urlopen(f"{url}/stats", timeout=10) as response:
        return json.loads(response.read())["keys"]  # type: ignore[no-any-return]


@pytest.fixture
def folder(tmp_path: Path, receiver: str) -> Path:
    (tmp_path / "broadcastio.toml").write_text(CONFIG.format(url=receiver))
    lines = ["address.webhook,name"] + [f"user-{i},Person {i}" for i in range(120)]
    (tmp_path / "people.csv").write_text("\n".join(lines) + "\n")
    return tmp_path


def spawn(folder: Path, *args: str, with_workers: bool = False) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "COLUMNS": "200"}
    env.pop("BROADCASTIO_CONFIG", None)
    program = [str(HERE / "_ops_workers.py"), "cli"] if with_workers else ["-m", "broadcastio"]
    return subprocess.Popen(
        [sys.executable, *program, *args],
        cwd=folder,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )


def finish(process: subprocess.Popen[str]) -> tuple[int, str, str]:
    out, err = process.communicate(timeout=RUN_TIMEOUT)
    return process.returncode, out, err


def start(folder: Path, outbox_url: str, *extra: str, with_workers: bool = False) -> subprocess.Popen[str]:
    return spawn(
        folder,
        "campaign",
        "start",
        "--outbox",
        outbox_url,
        "-r",
        "people.csv",
        "--campaign",
        "spring",
        "--text",
        "Hi {name}",
        "--concurrency",
        "2",
        *extra,
        with_workers=with_workers,
    )


def rows(folder: Path, outbox_url: str) -> dict[str, str]:
    path = folder / outbox_url
    if not path.exists():
        return {}
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5)
        try:
            return dict(conn.execute("SELECT idempotency_key, state FROM outbox").fetchall())
        finally:
            conn.close()
    except sqlite3.OperationalError:
        return {}


def wait_for(condition, timeout: float = 30.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.05)
    raise AssertionError("timed out")


def sent(folder: Path, outbox_url: str) -> int:
    return sum(state == "sent" for state in rows(folder, outbox_url).values())


def test_cancel_from_another_process_stops_a_running_campaign(folder: Path, outbox_url: str, receiver: str) -> None:
    """What was sent arrived once; what was cancelled never left; the run ends at once with exit 1."""
    runner = start(folder, outbox_url)
    try:
        wait_for(lambda: sent(folder, outbox_url) >= 10)
        code, _, said = finish(spawn(folder, "campaign", "cancel", "spring", "--outbox", outbox_url))
        assert code == 0, said
        assert "campaign spring cancelled:" in said
        cancelled_at = time.monotonic()
        code, _, err = finish(runner)
    finally:
        runner.kill()
    assert time.monotonic() - cancelled_at < 10
    assert code == 1, err
    states = rows(folder, outbox_url)
    assert set(states.values()) <= {"sent", "cancelled"}
    cancelled = {key for key, state in states.items() if state == "cancelled"}
    arrived = received(receiver)
    assert len(cancelled) > 0
    assert set(arrived) == {key for key, state in states.items() if state == "sent"}
    assert set(arrived.values()) == {1}
    assert not cancelled & set(arrived)
    assert f"campaign spring was cancelled: {len(cancelled)} message(s) not sent" in err
    code, report, _ = finish(spawn(folder, "campaign", "status", "spring", "--outbox", outbox_url, "--json"))
    counts = json.loads(report)["status"]
    assert (code, counts["cancelled"], counts["sent"] + counts["cancelled"], counts["total"]) == (
        0,
        len(cancelled),
        120,
        120,
    )
    again = finish(spawn(folder, "campaign", "cancel", "spring", "--outbox", outbox_url))
    assert again[0] == 0
    assert "already cancelled" in again[2]


def test_pause_from_another_process_then_resume_and_run_here(folder: Path, outbox_url: str, receiver: str) -> None:
    """The paused run finishes its sends, exits 4 naming `campaign resume`; `resume --run` finishes the campaign."""
    runner = start(folder, outbox_url)
    try:
        wait_for(lambda: sent(folder, outbox_url) >= 10)
        code, _, said = finish(spawn(folder, "campaign", "pause", "spring", "--outbox", outbox_url))
        assert code == 0, said
        code, _, err = finish(runner)
    finally:
        runner.kill()
    assert code == 4, err
    assert "campaign spring is paused; to go on: broadcastio campaign resume spring --outbox box.db" in err
    states = rows(folder, outbox_url)
    assert set(states.values()) <= {"sent", "pending"}
    assert 0 < sum(state == "pending" for state in states.values()) < 120
    code, out, err = finish(spawn(folder, "campaign", "resume", "spring", "--outbox", outbox_url, "--run", "--json"))
    assert code == 0, err
    assert "campaign spring resumed" in err
    assert json.loads(out)["delivered"] == sum(state == "pending" for state in states.values())
    arrived = received(receiver)
    assert len(arrived) == 120
    assert set(arrived.values()) == {1}


def test_sigterm_while_waiting_stops_waiting_not_the_workers(folder: Path, outbox_url: str, receiver: str) -> None:
    """`campaign start --workers processes --wait` exits 143 and says so; the worker processes finish the campaign."""
    marks = folder / f"{outbox_url}.workers"
    follower = start(
        folder, outbox_url, "--workers", "processes", "--chunk-size", "40", "--wait", "--poll", "0.1", with_workers=True
    )
    try:
        wait_for(lambda: sent(folder, outbox_url) >= 5)
        follower.send_signal(signal.SIGTERM)
        code, out, err = finish(follower)
        assert code == 143, err
        assert "3 chunk(s) of up to 40 rows handed to processes workers" in err
        assert "SIGTERM: stopped waiting; the workers go on with campaign spring" in err
        assert "campaign spring: " in err  # the plain progress lines of a terminal-less run
        assert "delivered" in out
        assert sent(folder, outbox_url) < 120
        wait_for(lambda: len(list(marks.glob("*.done"))) == 3, timeout=60)
    finally:
        follower.kill()
        for mark in marks.glob("*") if marks.exists() else ():
            if not mark.name.endswith(".done"):
                try:
                    os.kill(int(mark.name), signal.SIGKILL)
                except ProcessLookupError:
                    pass
    assert sent(folder, outbox_url) == 120
    arrived = received(receiver)
    assert len(arrived) == 120
    assert set(arrived.values()) == {1}
