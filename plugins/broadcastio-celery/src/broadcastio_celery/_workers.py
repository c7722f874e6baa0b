"""``--workers celery``: enqueue a journalled campaign as chunk tasks."""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from broadcastio import ConfigurationError, Outbox, UsageError
from broadcastio.outbox import DEFAULT_DEADLINE

from broadcastio_celery._settings import ENV, WorkerSettings

__all__ = ["DEFAULT_CHUNK_SIZE", "CeleryWorkers"]

DEFAULT_CHUNK_SIZE = 250
"""Rows per chunk task: a few hundred, so a chunk runs for seconds, not minutes."""
_OPTIONS = ("broker_url", "concurrency", "deadline", "queue", "via")


def _deadline(options: Mapping[str, str]) -> float:
    raw = options.get("deadline")
    if raw is None:
        return DEFAULT_DEADLINE
    try:
        value = float(raw)
    except (TypeError, ValueError):
        raise UsageError(f"option deadline must be a number of seconds, got {raw!r}") from None
    if value < 0:
        raise UsageError(f"option deadline must be >= 0 seconds, got {raw!r}")
    return value


def _via(options: Mapping[str, str]) -> list[str] | None:
    raw = options.get("via")
    if raw is None:
        return None
    names = [name.strip() for name in str(raw).split(",") if name.strip()]
    if not names:
        raise UsageError(f"option via must name providers, comma-separated, got {raw!r}")
    return names


def _concurrency(options: Mapping[str, str]) -> int | None:
    raw = options.get("concurrency")
    if raw is None:
        return None
    try:
        value = int(raw)
    except (TypeError, ValueError):
        raise UsageError(f"option concurrency must be a whole number >= 1, got {raw!r}") from None
    if value < 1:
        raise UsageError(f"option concurrency must be a whole number >= 1, got {raw!r}")
    return value


class CeleryWorkers:
    """Runs a campaign on Celery workers: one ``broadcastio.send_chunk`` task per chunk.

    Options (``--worker-option key=value`` or a mapping): ``broker_url``
    (default ``BROADCASTIO_BROKER_URL``), ``deadline`` (seconds the chunks
    keep retrying deferred rows, default 900), ``queue`` (default
    ``broadcastio``), ``via`` (providers of the route, comma-separated) and
    ``concurrency`` (sends in flight per worker process; default the
    worker's ``BROADCASTIO_CONCURRENCY``). The workers need the campaign's outbox and their own
    ``broadcastio.toml`` (``config_path``, read on the worker's machine; None:
    the worker's ``BROADCASTIO_CONFIG``).
    """

    name = "celery"

    def start(
        self,
        outbox_url: str,
        campaign: str,
        *,
        total_rows: int,
        chunk_size: int,
        config_path: str | None,
        options: Mapping[str, str],
    ) -> int:
        """Enqueue the chunks of ``campaign`` (already journalled in ``outbox_url``); returns how many."""
        from broadcastio_celery import SEND_CHUNK, chunks, make_app

        if isinstance(total_rows, bool) or not isinstance(total_rows, int) or total_rows < 0:
            raise UsageError(f"total_rows must be a whole number >= 0, got {total_rows!r}")
        if isinstance(chunk_size, bool) or not isinstance(chunk_size, int) or chunk_size < 1:
            raise UsageError(f"chunk_size must be a whole number >= 1, got {chunk_size!r}")
        unknown = sorted(set(options) - set(_OPTIONS))
        if unknown:
            raise UsageError(f"unknown celery worker options: {', '.join(unknown)}; known: {', '.join(_OPTIONS)}")
        with Outbox(outbox_url) as box:
            box.campaign(campaign)  # UsageError naming the campaigns when it is not journalled
        ends_at = time.time() + _deadline(options)
        extra = {"via": _via(options), "concurrency": _concurrency(options)}
        overrides: dict[str, Any] = {"queue": options["queue"]} if "queue" in options else {}
        broker = options.get("broker_url")
        try:
            settings = WorkerSettings.from_env(broker_url=broker, **overrides)
        except ConfigurationError as exc:
            raise ConfigurationError(
                f"--workers celery: {exc} (or the broker_url option; see {ENV['broker_url']})"
            ) from None
        app = make_app(settings.broker_url, outbox_url=None, settings=settings)
        ranges = chunks(total_rows, chunk_size)
        try:
            with app.producer_or_acquire() as producer:
                for first, last in ranges:
                    app.send_task(
                        SEND_CHUNK,
                        args=(outbox_url, campaign, first, last),
                        kwargs={"ends_at": ends_at, "config_path": config_path, **extra},
                        queue=settings.queue,
                        producer=producer,
                    )
        finally:
            app.close()
        return len(ranges)
