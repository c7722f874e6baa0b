"""Redis dies mid-campaign (SIGKILL; it keeps nothing) and comes back on the same port: nothing is lost or doubled."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest
from broadcastio import Outbox
from broadcastio.testing.services import RedisServer
from broadcastio_celery import CeleryWorkers

from .conftest import Receiver, Workers, journal, settled, wait_for

TOTAL = 5000


@pytest.mark.slow
@pytest.mark.timeout(150)
def test_a_redis_outage_loses_and_doubles_nothing(
    outbox_url: str,
    broker_url: str,
    redis: RedisServer,
    make_receiver: Callable[..., Receiver],
    workers_for: Callable[..., Workers],
) -> None:
    receiver = make_receiver(idempotent=True)
    # Beat runs the relay pass every 2 s: it sends the rows of chunks Redis lost with its data.
    workers = workers_for(receiver, BROADCASTIO_OUTBOX=outbox_url, BROADCASTIO_RELAY_INTERVAL="2")
    journal(outbox_url, "outage", TOTAL)
    workers.start("a", beat=True)
    workers.start("b")
    CeleryWorkers().start(
        outbox_url, "outage", total_rows=TOTAL, chunk_size=250, config_path=None, options={"broker_url": broker_url}
    )
    wait_for(lambda: receiver.total >= TOTAL // 4, 60, "a quarter of the campaign", workers)
    redis.stop()
    time.sleep(3)
    redis.start()
    wait_for(settled(outbox_url, "outage"), 100, "the campaign to settle after the outage", workers)
    with Outbox(outbox_url) as box:
        status = box.campaign("outage")
    assert (status.total, status.sent, status.unknown, status.failed) == (TOTAL, TOTAL, 0, 0)
    assert len(receiver.posts) == TOTAL  # nothing lost
    assert max(receiver.posts.values()) == 1  # no worker died, so nothing was even sent twice
    assert all(worker in receiver.workers for worker in ("a", "b"))
