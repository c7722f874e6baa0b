"""A campaign sent by real Celery worker processes, start to finish."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from broadcastio import Outbox
from broadcastio_celery import CeleryWorkers

from .conftest import Receiver, Workers, journal, settled, wait_for


@pytest.mark.parametrize("store", ["postgres", "sqlite"])
def test_workers_send_a_campaign_once(
    request: pytest.FixtureRequest,
    store: str,
    broker_url: str,
    make_receiver: Callable[..., Receiver],
    workers_for: Callable[..., Workers],
) -> None:
    """On the shared PostgreSQL store and on a SQLite file the workers of one host share."""
    outbox_url: str = request.getfixturevalue("outbox_url" if store == "postgres" else "sqlite_outbox_url")
    receiver = make_receiver(idempotent=False)
    workers = workers_for(receiver)
    journal(outbox_url, "small", 1000)
    workers.start("a")
    workers.start("b")
    options = {"broker_url": broker_url, "via": "hook", "concurrency": "4"}
    chunks = CeleryWorkers().start(
        outbox_url, "small", total_rows=1000, chunk_size=100, config_path=None, options=options
    )
    assert chunks == 10
    wait_for(settled(outbox_url, "small"), 60, "the campaign", workers)
    with Outbox(outbox_url) as box:
        status = box.campaign("small")
    assert (status.sent, status.unknown, status.failed) == (1000, 0, 0)
    assert len(receiver.posts) == 1000
    assert max(receiver.posts.values()) == 1
    assert set(receiver.workers) == {"a", "b"}


def test_the_beat_relay_sends_rows_nobody_enqueued(
    outbox_url: str, make_receiver: Callable[..., Receiver], workers_for: Callable[..., Workers]
) -> None:
    """Rows journalled without a chunk task (as a caller's transaction commits them) are sent by the relay."""
    receiver = make_receiver(idempotent=False)
    workers = workers_for(receiver, BROADCASTIO_OUTBOX=outbox_url, BROADCASTIO_RELAY_INTERVAL="1")
    journal(outbox_url, "committed", 300)
    workers.start("relay", beat=True)
    wait_for(settled(outbox_url, "committed"), 60, "the relay to send the committed rows", workers)
    with Outbox(outbox_url) as box:
        status = box.campaign("committed")
    assert (status.sent, status.unknown, status.failed) == (300, 0, 0)
    assert len(receiver.posts) == 300
    assert max(receiver.posts.values()) == 1


def test_deferred_rows_come_back_by_countdown_without_holding_the_worker(
    outbox_url: str, broker_url: str, make_receiver: Callable[..., Receiver], workers_for: Callable[..., Workers]
) -> None:
    """Rows a transient failure deferred are sent when due by the chunk enqueued again; meanwhile
    the only worker process sends the next chunk instead of sleeping."""
    receiver = make_receiver(
        idempotent=False, fail_first=3
    )  # fewer than the breaker threshold (5): deferred rows, a closed breaker
    workers = workers_for(receiver)
    journal(outbox_url, "later", 400)
    workers.start("solo", queue="later")  # not the default queue: chunks enqueued again must come back here
    CeleryWorkers().start(outbox_url, "later", total_rows=400, chunk_size=200, config_path=None,
                          options={"broker_url": broker_url, "queue": "later"})  # fmt: skip
    wait_for(settled(outbox_url, "later"), 60, "the deferred rows to be sent", workers)
    with Outbox(outbox_url) as box:
        status = box.campaign("later")
    assert (status.sent, status.unknown, status.failed) == (400, 0, 0)
    assert len(receiver.refused) == 3
    assert all(key <= "k000200" for key in receiver.refused)  # the first chunk's first sends were refused
    assert max(receiver.posts.values()) == 1  # a refused request is not a delivery; each arrived once
    second_chunk_done = max(at for key, at in receiver.accepted_at.items() if key > "k000200")
    retried_first = min(receiver.accepted_at[key] for key in receiver.refused)
    assert second_chunk_done < retried_first  # the worker sent chunk 2 while chunk 1's rows waited
