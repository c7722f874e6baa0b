"""SIGTERM (Celery's warm shutdown) mid-chunk: in-flight attempts finish, the rest goes to another worker."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest
from broadcastio import Outbox
from broadcastio_celery import CeleryWorkers

from .conftest import Receiver, Workers, journal, settled, wait_for


@pytest.mark.slow
@pytest.mark.timeout(120)
def test_sigterm_finishes_in_flight_attempts_and_hands_the_chunk_over(
    outbox_url: str, broker_url: str, make_receiver: Callable[..., Receiver], workers_for: Callable[..., Workers]
) -> None:
    receiver = make_receiver(idempotent=False, delay=0.1)  # a plain receiver: a repeat would show
    workers = workers_for(receiver)
    journal(outbox_url, "term", 400)
    workers.start("a")
    CeleryWorkers().start(
        outbox_url, "term", total_rows=400, chunk_size=200, config_path=None, options={"broker_url": broker_url}
    )
    wait_for(lambda: receiver.total >= 40, 60, "worker a to be mid-chunk", workers)
    stopped_at = time.monotonic()
    assert workers.terminate("a") == 0  # a warm shutdown, not a crash
    assert time.monotonic() - stopped_at < 15  # in-flight attempts finish; the rest is not sent by a
    by_a = receiver.workers["a"]
    with Outbox(outbox_url) as box:
        status = box.campaign("term")
    assert status.unknown == 0  # nothing in doubt: the attempts in flight finished
    assert status.sending == 0  # and the rest was released
    assert status.sent == by_a < 200  # a stopped mid-chunk: every attempt it made is recorded
    workers.start("b")
    wait_for(settled(outbox_url, "term"), 60, "worker b to finish the campaign", workers)
    with Outbox(outbox_url) as box:
        status = box.campaign("term")
    assert (status.sent, status.unknown, status.failed) == (400, 0, 0)
    assert len(receiver.posts) == 400  # each message arrived
    assert max(receiver.posts.values()) == 1  # once
    first_chunk_by_b = [key for key, worker in receiver.delivered.items() if worker == "b" and key <= "k000200"]
    assert first_chunk_by_b  # a's unfinished chunk was finished by b
    assert receiver.workers["a"] == by_a  # a sent nothing after its shutdown
