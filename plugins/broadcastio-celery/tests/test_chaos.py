"""A 20,000-message campaign on 4 Celery worker processes while workers die (SIGKILL of the whole worker).

Celery on Redis delivers a chunk task at least once; the outbox turns that
into exactly once at an idempotent receiver, and at most once plus
``unknown`` at a plain one.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable

import pytest
from broadcastio import Outbox
from broadcastio_celery import CeleryWorkers

from .conftest import Receiver, Workers, journal, settled, wait_for

TOTAL = 20_000
CHUNK = 250
NAMES = ("w1", "w2", "w3", "w4")
KILLS = 2
IN_FLIGHT = 8
"""Sends in flight per worker (BROADCASTIO_CONCURRENCY in conftest)."""


def _run(outbox_url: str, broker_url: str, receiver: Receiver, workers: Workers, seed: int) -> None:
    rng = random.Random(seed)
    journal(outbox_url, "big", TOTAL)
    for name in NAMES:
        workers.start(name)
    chunks = CeleryWorkers().start(
        outbox_url, "big", total_rows=TOTAL, chunk_size=CHUNK, config_path=None, options={"broker_url": broker_url}
    )
    assert chunks == TOTAL // CHUNK
    for threshold in sorted(rng.uniform(0.1, 0.7) * TOTAL for _ in range(KILLS)):
        wait_for(lambda threshold=threshold: receiver.total >= threshold, 60, f"{threshold:.0f} sends", workers)
        victim = rng.choice(NAMES)
        workers.kill(victim)
        time.sleep(rng.uniform(0.0, 1.0))
        workers.start(victim)
    wait_for(settled(outbox_url, "big"), 90, "the campaign to settle", workers)


@pytest.mark.slow
@pytest.mark.timeout(150)
def test_exactly_once_at_an_idempotent_receiver(
    outbox_url: str, broker_url: str, make_receiver: Callable[..., Receiver], workers_for: Callable[..., Workers]
) -> None:
    receiver = make_receiver(idempotent=True)
    workers = workers_for(receiver)
    _run(outbox_url, broker_url, receiver, workers, seed=1)
    with Outbox(outbox_url) as box:
        status = box.campaign("big")
    assert status.total == TOTAL
    assert (status.sent, status.unknown, status.failed) == (TOTAL, 0, 0)  # unknown rows were resent
    assert len(receiver.posts) == TOTAL  # every message arrived
    # Repeats reach the receiver only for rows in flight at a kill, and it deduplicates them.
    assert receiver.total - TOTAL <= KILLS * 2 * IN_FLIGHT


@pytest.mark.slow
@pytest.mark.timeout(150)
def test_at_most_once_at_a_plain_receiver(
    outbox_url: str, broker_url: str, make_receiver: Callable[..., Receiver], workers_for: Callable[..., Workers]
) -> None:
    receiver = make_receiver(idempotent=False)
    workers = workers_for(receiver)
    _run(outbox_url, broker_url, receiver, workers, seed=2)
    with Outbox(outbox_url) as box:
        status = box.campaign("big")
        sent = {row.idempotency_key for row in box.rows("sent", campaign="big")}
        unknown = {row.idempotency_key for row in box.rows("unknown", campaign="big")}
    assert status.total == TOTAL
    assert status.failed == 0
    assert status.sent + status.unknown == TOTAL  # all accounted for
    assert max(receiver.posts.values()) == 1  # never twice
    assert sent <= set(receiver.posts)  # what the outbox calls sent did arrive
    assert set(receiver.posts) <= sent | unknown  # what arrived is sent or unknown, nothing else
    assert status.unknown <= KILLS * 2 * IN_FLIGHT  # only rows in flight at a kill are in doubt


@pytest.mark.slow
@pytest.mark.timeout(120)
def test_a_killed_pool_process_gives_its_chunk_back_at_once(
    outbox_url: str, broker_url: str, make_receiver: Callable[..., Receiver], workers_for: Callable[..., Workers]
) -> None:
    """task_reject_on_worker_lost: the main process requeues the chunk of a pool process that died,
    without waiting for the visibility timeout (a minute here)."""
    receiver = make_receiver(idempotent=False, delay=0.05)
    workers = workers_for(receiver, BROADCASTIO_VISIBILITY_TIMEOUT="60", BROADCASTIO_LEASE_SECONDS="60")
    journal(outbox_url, "oom", 400)
    workers.start("a")
    CeleryWorkers().start(
        outbox_url, "oom", total_rows=400, chunk_size=400, config_path=None, options={"broker_url": broker_url}
    )
    wait_for(lambda: receiver.total >= 40, 60, "worker a to be mid-chunk", workers)
    workers.kill_pool_process("a")
    wait_for(settled(outbox_url, "oom"), 30, "the chunk to come back before the visibility timeout", workers)
    with Outbox(outbox_url) as box:
        status = box.campaign("oom")
    assert status.failed == 0
    assert status.sent + status.unknown == 400
    assert status.unknown <= IN_FLIGHT  # only the sends in flight at the kill are in doubt
    assert max(receiver.posts.values()) == 1  # at most once at a plain receiver
