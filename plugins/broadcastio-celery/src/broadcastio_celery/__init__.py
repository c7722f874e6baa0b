"""broadcastio-celery: broadcastio campaigns on Celery workers, with Redis as the broker.

``celery -A broadcastio_celery worker --pool prefork`` runs the chunk tasks,
each worker process building its orchestrator once from ``broadcastio.toml``;
``CeleryWorkers().start(...)`` (``broadcastio campaign start --workers celery``)
enqueues a journalled campaign as chunks of a few hundred rows. The outbox
makes Celery's at-least-once delivery exactly once at idempotent providers
and at most once (plus ``unknown``) elsewhere. See ``docs/celery.md``.

``broadcastio_celery.app`` (what ``celery -A broadcastio_celery`` loads) is
built on first use from the ``BROADCASTIO_*`` environment (``ENV``).
"""

from __future__ import annotations

from typing import Any

from broadcastio import hookspecs

from broadcastio_celery._settings import ENV, WorkerSettings
from broadcastio_celery._workers import DEFAULT_CHUNK_SIZE, CeleryWorkers

__all__ = ["DEFAULT_CHUNK_SIZE", "ENV", "RELAY", "SEND_CHUNK", "CeleryWorkers", "WorkerSettings", "chunks", "make_app"]

RELAY = "broadcastio.relay"
SEND_CHUNK = "broadcastio.send_chunk"
_app: Any = None


def make_app(broker_url: str, *, outbox_url: str | None, config_path: str | None = None, **options: Any) -> Any:
    """A Celery app of broadcastio (see :func:`broadcastio_celery._app.make_app`); imports Celery on first use."""
    from broadcastio_celery._app import make_app as build

    return build(broker_url, outbox_url=outbox_url, config_path=config_path, **options)


def chunks(total_rows: int, chunk_size: int) -> list[tuple[int, int]]:
    """Row ranges ``(first, last)``, 1-based and inclusive, covering ``1..total_rows``."""
    return [(first, min(first + chunk_size - 1, total_rows)) for first in range(1, total_rows + 1, chunk_size)]


def __getattr__(name: str) -> Any:
    """``app``: the worker's Celery app, from the environment (``celery -A broadcastio_celery``)."""
    global _app
    if name != "app":
        raise AttributeError(f"module 'broadcastio_celery' has no attribute {name!r}")
    if _app is None:
        settings = WorkerSettings.from_env()
        _app = make_app(settings.broker_url, outbox_url=settings.outbox_url, settings=settings)
    return _app


# An older core without the hook still loads the plugin, only without `--workers celery`.
if hasattr(hookspecs, "broadcastio_campaign_workers"):

    @hookspecs.hookimpl
    def broadcastio_campaign_workers() -> list[CeleryWorkers]:
        return [CeleryWorkers()]
