"""``CeleryWorkers.start`` (``--workers celery``) and the settings, against a real Redis."""

from __future__ import annotations

import math

import pytest
from broadcastio import ConfigurationError, Outbox, UsageError
from broadcastio_celery import SEND_CHUNK, CeleryWorkers, WorkerSettings, chunks, make_app

from .conftest import journal, queued


@pytest.mark.parametrize(("total", "size"), [(1000, 250), (1001, 250), (7, 300)])
def test_start_enqueues_one_task_per_chunk(outbox_url: str, broker_url: str, total: int, size: int) -> None:
    journal(outbox_url, "spring", total)
    count = CeleryWorkers().start(
        outbox_url, "spring", total_rows=total, chunk_size=size, config_path=None, options={"broker_url": broker_url}
    )
    tasks = queued(broker_url)
    assert count == math.ceil(total / size)
    assert len(tasks) == count
    assert {task["task"] for task in tasks} == {SEND_CHUNK}
    ranges = sorted((task["args"][2], task["args"][3]) for task in tasks)  # type: ignore[index]
    covered = [row for first, last in ranges for row in range(first, last + 1)]
    assert covered == list(range(1, total + 1))
    assert all(task["args"][:2] == [outbox_url, "spring"] for task in tasks)  # type: ignore[index]
    assert all(task["kwargs"]["ends_at"] is not None for task in tasks)  # type: ignore[index]


def test_start_passes_the_route_and_concurrency_to_every_chunk(outbox_url: str, broker_url: str) -> None:
    journal(outbox_url, "spring", 10)
    options = {"broker_url": broker_url, "via": "hook, backup", "concurrency": "4", "deadline": "60"}
    CeleryWorkers().start(outbox_url, "spring", total_rows=10, chunk_size=5, config_path="/etc/b.toml", options=options)
    tasks = queued(broker_url)
    assert len(tasks) == 2
    for task in tasks:
        kwargs = task["kwargs"]
        assert kwargs["via"] == ["hook", "backup"]  # type: ignore[index]
        assert kwargs["concurrency"] == 4  # type: ignore[index]
        assert kwargs["config_path"] == "/etc/b.toml"  # type: ignore[index]


def test_start_refuses_a_campaign_that_is_not_journalled(outbox_url: str, broker_url: str) -> None:
    with Outbox(outbox_url) as box:
        box.add([], campaign="other")
    with pytest.raises(UsageError, match="no campaign named 'spring'"):
        CeleryWorkers().start(
            outbox_url, "spring", total_rows=5, chunk_size=2, config_path=None, options={"broker_url": broker_url}
        )
    assert queued(broker_url) == []


def test_start_refuses_bad_arguments(outbox_url: str, broker_url: str) -> None:
    journal(outbox_url, "spring", 3)
    workers = CeleryWorkers()
    options = {"broker_url": broker_url}
    with pytest.raises(UsageError, match="chunk_size"):
        workers.start(outbox_url, "spring", total_rows=3, chunk_size=0, config_path=None, options=options)
    with pytest.raises(UsageError, match="unknown celery worker options: colour"):
        workers.start(outbox_url, "spring", total_rows=3, chunk_size=1, config_path=None, options={"colour": "x"})
    with pytest.raises(UsageError, match="concurrency"):
        workers.start(
            outbox_url, "spring", total_rows=3, chunk_size=1, config_path=None, options={**options, "concurrency": "0"}
        )
    with pytest.raises(UsageError, match="deadline"):
        workers.start(
            outbox_url, "spring", total_rows=3, chunk_size=1, config_path=None, options={**options, "deadline": "soon"}
        )
    assert queued(broker_url) == []


def test_the_plugin_is_named_celery() -> None:
    assert CeleryWorkers.name == "celery"


def test_chunks_cover_every_row_once() -> None:
    assert chunks(0, 10) == []
    assert chunks(5, 2) == [(1, 2), (3, 4), (5, 5)]
    assert chunks(4, 4) == [(1, 4)]


def test_settings_from_the_environment() -> None:
    settings = WorkerSettings.from_env(
        {
            "BROADCASTIO_BROKER_URL": "redis://127.0.0.1:1/0",
            "BROADCASTIO_VISIBILITY_TIMEOUT": "30",
            "BROADCASTIO_CONCURRENCY": "4",
            "BROADCASTIO_OUTBOX": "/tmp/x.sqlite",
        }
    )
    assert settings.visibility_timeout == 30
    assert settings.max_countdown == 15
    assert settings.concurrency == 4
    assert settings.outbox_url == "/tmp/x.sqlite"
    with pytest.raises(ConfigurationError, match="BROADCASTIO_BROKER_URL"):
        WorkerSettings.from_env({})
    with pytest.raises(ConfigurationError, match="BROADCASTIO_CONCURRENCY must be a number"):
        WorkerSettings.from_env({"BROADCASTIO_BROKER_URL": "redis://x", "BROADCASTIO_CONCURRENCY": "many"})
    with pytest.raises(ConfigurationError, match="visibility_timeout must be a number >= 1"):
        WorkerSettings.from_env({"BROADCASTIO_BROKER_URL": "redis://x", "BROADCASTIO_VISIBILITY_TIMEOUT": "0"})


def test_the_app_makes_delivery_safe() -> None:
    app = make_app("redis://127.0.0.1:1/0", outbox_url="/tmp/o.sqlite", visibility_timeout=40, relay_interval=7)
    conf = app.conf
    assert conf.task_acks_late is True
    assert conf.task_reject_on_worker_lost is True
    assert conf.worker_prefetch_multiplier == 1
    assert conf.task_serializer == "json"
    assert conf.accept_content == ["json"]
    assert conf.broker_transport_options["visibility_timeout"] == 40
    assert conf.beat_schedule["broadcastio-relay"]["schedule"] == 7
    assert conf.beat_schedule["broadcastio-relay"]["kwargs"] == {"outbox_url": "/tmp/o.sqlite"}
    assert SEND_CHUNK in app.tasks
    with pytest.raises(ConfigurationError, match="queue"):
        make_app("redis://127.0.0.1:1/0", outbox_url=None, queue="")
