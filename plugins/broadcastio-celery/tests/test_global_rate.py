"""A provider's rate limit holds for the whole campaign, not per worker: 4 Celery workers with
``per_second = 100`` and shared limits (``BROADCASTIO_LIMITS_URL``) stay within 100/s together."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable

import pytest
from broadcastio import Outbox
from broadcastio_celery import CeleryWorkers

from .conftest import Receiver, Workers, journal, settled, wait_for

TOTAL = 1200
PER_SECOND = 100
BURST = 5


@pytest.mark.slow
@pytest.mark.timeout(120)
def test_four_workers_share_one_rate_limit(
    outbox_url: str, broker_url: str, make_receiver: Callable[..., Receiver], workers_for: Callable[..., Workers]
) -> None:
    receiver = make_receiver(idempotent=False)
    workers = workers_for(
        receiver,
        rate_limit=f"{{ per_second = {PER_SECOND}, burst = {BURST} }}",
        BROADCASTIO_LIMITS_URL=broker_url,  # the broker's Redis also holds the shared limits
    )
    journal(outbox_url, "paced", TOTAL)
    for name in ("w1", "w2", "w3", "w4"):
        workers.start(name)
    CeleryWorkers().start(
        outbox_url, "paced", total_rows=TOTAL, chunk_size=100, config_path=None, options={"broker_url": broker_url}
    )
    wait_for(settled(outbox_url, "paced"), 90, "the paced campaign", workers)
    with Outbox(outbox_url) as box:
        status = box.campaign("paced")
    assert (status.sent, status.failed, status.unknown) == (TOTAL, 0, 0)
    assert len(receiver.posts) == TOTAL
    assert len(receiver.workers) >= 3  # the campaign really was spread over the workers
    times = sorted(receiver.accepted_at.values())
    start = times[0]
    per_window = Counter(math.floor(at - start) for at in times)
    # Every 1-second window holds at most the rate plus the burst (and a little network jitter:
    # a request granted at the end of one window may arrive at the start of the next).
    assert max(per_window.values()) <= PER_SECOND + BURST + 5, sorted(per_window.items())
    elapsed = times[-1] - start
    assert elapsed >= (TOTAL - BURST) / PER_SECOND * 0.9  # per worker, 4 x 100/s would take a quarter of this
