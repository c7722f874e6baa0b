"""broadcastio-celery is found through its entry point: `--workers celery` is offered with every plugin installed."""

from __future__ import annotations

from broadcastio import CampaignWorkers, make_plugin_manager
from broadcastio_celery import CeleryWorkers


def test_the_installed_plugin_offers_celery_workers() -> None:
    offered = [item for batch in make_plugin_manager().hook.broadcastio_campaign_workers() for item in batch]
    celery = [item for item in offered if item.name == "celery"]
    assert len(celery) == 1
    assert isinstance(celery[0], CeleryWorkers)
    assert isinstance(celery[0], CampaignWorkers)  # the runtime-checkable protocol
