"""PostgreSQL restarts mid-campaign (a clean restart, then a crash-like one): the campaign finishes,
nothing lost, nothing sent twice at an idempotent receiver."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest
from broadcastio import Outbox
from broadcastio.testing.services import PostgresServer
from broadcastio_celery import CeleryWorkers

from .conftest import Receiver, Workers, journal, settled, wait_for

TOTAL = 5000


@pytest.mark.slow
@pytest.mark.timeout(180)
@pytest.mark.parametrize("mode", ["fast", "immediate"])
def test_a_postgresql_restart_mid_campaign_loses_and_doubles_nothing(
    mode: str,
    outbox_url: str,
    broker_url: str,
    pg: PostgresServer,
    make_receiver: Callable[..., Receiver],
    workers_for: Callable[..., Workers],
) -> None:
    receiver = make_receiver(idempotent=True)
    workers = workers_for(receiver)
    journal(outbox_url, "restart", TOTAL)
    workers.start("a")
    workers.start("b")
    CeleryWorkers().start(
        outbox_url, "restart", total_rows=TOTAL, chunk_size=250, config_path=None, options={"broker_url": broker_url}
    )
    wait_for(lambda: receiver.total >= TOTAL // 4, 60, "a quarter of the campaign", workers)
    pg.stop(mode)
    time.sleep(2)
    pg.start()
    wait_for(settled(outbox_url, "restart"), 120, "the campaign to settle after the restart", workers)
    with Outbox(outbox_url) as box:
        status = box.campaign("restart")
    assert status.total == TOTAL
    assert (status.sent, status.unknown, status.failed) == (TOTAL, 0, 0)
    assert len(receiver.posts) == TOTAL  # nothing lost
    # The idempotent receiver may see a row again (a send whose outcome the restart cut off
    # is repeated under the same key), never deliver it twice.
    assert set(receiver.delivered) == set(receiver.posts)
