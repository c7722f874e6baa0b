"""broadcastio-celery is found through its entry point: `--workers celery` is offered with every plugin installed."""

from __future__ import annotations

from broadcastio import make_plugin_manager
from broadcastio._workers import campaign_workers
from broadcastio_celery import CeleryWorkers


def test_the_installed_plugin_offers_celery_workers() -> None:
    offered = campaign_workers(make_plugin_manager())
    assert isinstance(offered["celery"], CeleryWorkers)
