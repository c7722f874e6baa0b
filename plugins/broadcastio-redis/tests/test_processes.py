"""Real worker processes, one real Redis, one local receiver: limits hold for all of them together.

Each worker (``_worker.py``) is an Orchestrator with a webhook provider and a
RedisCoordinator on the test's namespace. Every test is bounded in messages
and seconds.
"""

from __future__ import annotations

import asyncio
import bisect
import os
import signal
import time
from collections import Counter
from pathlib import Path

import pytest
from broadcastio.testing.services import RedisServer, redis_server
from broadcastio_redis import RedisCoordinator

from .conftest import Receiver, Workers

NAMES = ("w0", "w1", "w2", "w3")


def settle(condition: object, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():  # type: ignore[operator]
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.02)


def test_four_workers_together_stay_within_the_rate(
    redis: RedisServer, namespace: str, receiver: Receiver, workers: Workers
) -> None:
    """4 workers x 100 messages at per_second = 100 (burst 5): every 1 s window after the first holds <= 105 (+5 for
    network jitter), and the whole run takes about 4 s, not the 1 s four separate limits would allow."""
    per_worker, burst = 100, 5
    start_at = time.time() + 2.0
    for name in NAMES:
        workers.start(name, redis=redis.url, namespace=namespace, url=receiver.url, count=per_worker,
                      per_second=100, burst=burst, concurrency=8, start_at=start_at)  # fmt: skip
    workers.wait(timeout=60)

    times = sorted(r.started for r in receiver.requests)
    assert len(times) == len(NAMES) * per_worker
    assert Counter(r.worker for r in receiver.requests) == dict.fromkeys(NAMES, per_worker)
    first = times[0]
    worst = 0
    for index, started in enumerate(times):
        if started < first + 1.0:
            continue
        in_window = bisect.bisect_left(times, started + 1.0) - index
        worst = max(worst, in_window)
    assert worst <= 100 + burst + 5, f"a 1-second window held {worst} requests"
    assert times[-1] - first >= (len(times) - burst) / 100 * 0.95  # one shared bucket, not four


def test_max_in_flight_is_one_cap_for_every_worker(
    redis: RedisServer, namespace: str, receiver: Receiver, workers: Workers
) -> None:
    """max_in_flight = 5 on 4 workers (concurrency 8 each) against a 50 ms receiver: never more than 5 at once."""
    receiver.delay["*"] = 0.05
    start_at = time.time() + 2.0
    for name in NAMES:
        workers.start(name, redis=redis.url, namespace=namespace, url=receiver.url, count=40, max_in_flight=5,
                      concurrency=8, start_at=start_at)  # fmt: skip
    workers.wait(timeout=60)
    assert len(receiver.requests) == 160
    assert receiver.peak == 5  # the cap is reached, and never passed


def test_a_breaker_opened_by_one_worker_is_seen_by_the_others_within_a_second(
    redis: RedisServer, namespace: str, receiver: Receiver, workers: Workers
) -> None:
    """Once all 4 workers are sending, w0 starts getting 503s and opens its breaker; w1..w3, whose answers are
    fine, stop calling within 1 s and stay off until the cooldown ends."""
    cooldown = 4.0
    receiver.fail_for.add("w0")
    receiver.fail_after = float("inf")
    for name in NAMES:
        workers.start(name, redis=redis.url, namespace=namespace, url=receiver.url, count=2000, pace=0.025,
                      threshold=3, cooldown=cooldown, concurrency=2, start_at=time.time())  # fmt: skip
    settle(lambda: all(len(receiver.by(name)) >= 3 for name in NAMES), 60, "every worker sending")
    receiver.fail_after = time.time()

    def opened() -> list[float]:
        return [line["t"] for line in workers.lines("w0") if line.get("breaker") == "open"]

    settle(lambda: bool(opened()), 10, "w0's breaker to open")
    opened_at = opened()[0]
    quiet_until = opened_at + cooldown - 0.2
    time.sleep(max(0.0, quiet_until - time.time()) + 0.1)
    assert opened_at - receiver.fail_after < 2.0
    for name in NAMES[1:]:
        assert workers.processes[name].poll() is None, f"{name} stopped early"
        calls = receiver.by(name)
        late = [r.started - opened_at for r in calls if opened_at + 1.0 <= r.started < quiet_until]
        assert not late, f"{name} still called the provider {late[0]:.2f} s after w0's breaker opened"
        skipped = [line for line in workers.lines(name) if "circuit_open" in line.get("message", "")]
        assert skipped, f"{name} never skipped the provider"
        assert all(line["code"] == "no_provider_available" for line in skipped)
        assert min(line["t"] for line in skipped) - opened_at < 1.0
    assert all(r.status == 200 for r in receiver.requests if r.worker != "w0")


def test_redis_killed_mid_run_defers_and_loses_nothing(
    namespace: str, receiver: Receiver, workers: Workers, tmp_path: Path
) -> None:
    """Redis is SIGKILLed for 2 s mid-campaign: no request goes out meanwhile (nothing unlimited), the deferred
    messages are sent when it is back, each exactly once, and both outboxes end with every row sent."""
    with redis_server() as server:
        start_at = time.time() + 2.0
        for name in NAMES[:2]:
            workers.start(name, redis=server.url, namespace=namespace, url=receiver.url, count=250, per_second=100,
                          burst=5, concurrency=8, start_at=start_at, outbox=str(tmp_path / f"{name}.db"))  # fmt: skip
        settle(lambda: len(receiver.requests) >= 100, 30, "100 requests before the outage")
        server.stop()
        killed = time.time()
        time.sleep(2.0)
        restarted = time.time()
        server.start()
        workers.wait(timeout=90)

    keys = Counter(r.key for r in receiver.requests)
    assert len(keys) == 500
    assert set(keys.values()) == {1}, "a message was sent twice"
    during = [r for r in receiver.requests if killed + 0.3 < r.started < restarted]
    assert not during, f"{len(during)} requests went out while Redis was down"
    deferred = [
        line for name in NAMES[:2] for line in workers.lines(name) if line.get("failed") == "coordination_unavailable"
    ]
    assert deferred, "no message was deferred during the outage"
    for name in NAMES[:2]:
        done = workers.lines(name)[-1]["done"]
        assert done == {"sent": 250, "pending": 0, "failed": 0, "unknown": 0}


def test_a_sigkilled_holders_slots_come_back_within_the_lease(
    redis: RedisServer, namespace: str, receiver: Receiver, workers: Workers
) -> None:
    """A worker holding all 5 slots is SIGKILLed: its slots stay taken while it lives (renewed past the lease),
    and return within the lease time after it died, not at once."""
    lease = 2.0
    receiver.delay["holder"] = 30.0
    process = workers.start("holder", redis=redis.url, namespace=namespace, url=receiver.url, count=5,
                            max_in_flight=5, lease=lease, concurrency=5, start_at=time.time())  # fmt: skip
    settle(lambda: receiver.concurrent == 5, 30, "the holder's 5 requests")

    async def probe_until_free() -> tuple[bool, float]:
        other = RedisCoordinator(redis.url, namespace=namespace, lease=lease)
        try:
            await asyncio.sleep(lease * 1.5)  # past one lease: only renewal keeps the slots held
            held = not (await other.acquire_slot("hook", 5)).granted
            os.kill(process.pid, signal.SIGKILL)
            killed = time.monotonic()
            while not (await other.acquire_slot("hook", 5)).granted:
                if time.monotonic() - killed > lease * 3:
                    break
                await asyncio.sleep(0.05)
            return held, time.monotonic() - killed
        finally:
            await other.aclose()

    held, freed_after = asyncio.run(probe_until_free())
    process.wait(timeout=10)
    assert held, "the live holder's slots were not held past one lease"
    assert lease / 3 <= freed_after <= lease + 0.5, f"slots came back {freed_after:.2f} s after the kill"
