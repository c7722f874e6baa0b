"""The Celery app of broadcastio: settings that make a task's delivery safe, and its two tasks.

``broadcastio.send_chunk`` sends rows ``first..last`` of a journalled
campaign through :meth:`Orchestrator.aresume <broadcastio.Orchestrator.aresume>`.
Celery on Redis delivers a task at least once; the outbox makes running it
twice harmless (a sent row stays sent, a row another live run holds is left
alone, a row a dead run left ``sending`` becomes ``unknown`` and is resent
only through idempotent providers). Rows the run could not finish now
(deferred, held elsewhere, or stopped by a warm shutdown) make the task
enqueue itself again with a countdown instead of sleeping in a worker slot.

``broadcastio.relay`` is one watcher pass over the outbox (the transactional outbox's relay):
beat runs it so committed transactional-outbox rows, deferred rows and
rows whose chunk task was lost get sent.
"""

from __future__ import annotations

import logging
import time
import weakref
from typing import Any

from broadcastio import ConfigurationError, UsageError
from broadcastio.outbox import DEFAULT_DEADLINE
from celery import Celery, signals  # type: ignore[import-untyped]

from broadcastio_celery import RELAY, SEND_CHUNK, _shutdown
from broadcastio_celery._runtime import ChunkOutcome, ProcessRuntime
from broadcastio_celery._settings import WorkerSettings

__all__ = ["make_app"]

_MIN_COUNTDOWN = 0.5
_MAX_BACKOFF = 30.0
log = logging.getLogger("broadcastio.celery")
_runtimes: weakref.WeakSet[ProcessRuntime] = weakref.WeakSet()  # the apps of this process (they hold them)


def _close_runtimes(**_: Any) -> None:
    """``worker_process_shutdown``: flush and close what this process opened."""
    for runtime in list(_runtimes):
        runtime.close()


def _connect_signals() -> None:
    signals.worker_init.connect(_shutdown.arm, weak=False, dispatch_uid="broadcastio-celery-arm")
    signals.worker_shutting_down.connect(_shutdown.announce, weak=False, dispatch_uid="broadcastio-celery-stop")
    signals.worker_process_shutdown.connect(_close_runtimes, weak=False, dispatch_uid="broadcastio-celery-close")


def _transport_options(settings: WorkerSettings) -> dict[str, Any]:
    """Redis (kombu) ack emulation: an unacknowledged task goes back to the
    queue ``visibility_timeout`` seconds after it was taken; the sweep that
    does it runs every ``unacked_restore_interval`` seconds."""
    return {
        "visibility_timeout": settings.visibility_timeout,
        "unacked_restore_interval": max(1.0, min(10.0, settings.visibility_timeout / 4)),
        "unacked_restore_throttle": 1,
    }


def make_app(
    broker_url: str,
    *,
    outbox_url: str | None,
    config_path: str | None = None,
    settings: WorkerSettings | None = None,
    **overrides: Any,
) -> Any:
    """A Celery app whose workers send broadcastio campaign chunks.

    :param broker_url: the Redis URL of the broker (``redis://host:6379/0``).
    :param outbox_url: the outbox the relay beat task watches (a SQLite path
        or a ``postgresql://`` DSN); None: no relay entry in the beat schedule.
        Chunk tasks carry their own outbox target.
    :param config_path: the ``broadcastio.toml`` every worker process builds
        its orchestrator from (default: ``BROADCASTIO_CONFIG``, then ``./broadcastio.toml``).
    :param settings: the other settings (visibility timeout, concurrency,
        lease, shutdown grace, relay interval, queue, shared-limits URL);
        default from the ``BROADCASTIO_*`` environment. ``overrides`` are
        :class:`WorkerSettings` fields that win over both.
    """
    base = settings or WorkerSettings.from_env(broker_url=broker_url)
    try:
        fields = {**base.__dict__, "broker_url": broker_url, **overrides}
        if outbox_url is not None:
            fields["outbox_url"] = outbox_url
        if config_path is not None:
            fields["config_path"] = config_path
        chosen = WorkerSettings(**fields)
    except TypeError as exc:
        raise ConfigurationError(f"make_app: {exc}") from None
    runtime = ProcessRuntime(chosen)
    _runtimes.add(runtime)
    _connect_signals()
    app = Celery("broadcastio", broker=chosen.broker_url, set_as_current=False)
    app.conf.update(
        task_acks_late=True,  # acknowledged after the run, so a lost worker's chunk is delivered again
        task_reject_on_worker_lost=True,  # a killed pool child's chunk goes back to the queue at once
        worker_prefetch_multiplier=1,  # a worker reserves no chunk it cannot start
        task_serializer="json",
        result_serializer="json",
        accept_content=["json"],
        task_ignore_result=True,
        result_backend=None,
        task_default_queue=chosen.queue,
        broker_transport_options=_transport_options(chosen),
        broker_connection_retry_on_startup=True,
        broker_connection_max_retries=None,  # ride out a broker outage instead of exiting
        task_publish_retry=True,
        task_publish_retry_policy={"max_retries": 60, "interval_start": 0.2, "interval_step": 0.5, "interval_max": 2},
        worker_cancel_long_running_tasks_on_connection_loss=False,
        enable_utc=True,
        timezone="UTC",
    )
    app.conf.broadcastio = chosen
    if chosen.outbox_url is not None and chosen.relay_interval > 0:
        app.conf.beat_schedule = {
            "broadcastio-relay": {
                "task": RELAY,
                "schedule": chosen.relay_interval,
                "kwargs": {"outbox_url": chosen.outbox_url},  # beat's outbox: the workers need not know it
                "options": {"expires": max(chosen.relay_interval, 1.0)},
            }
        }
    app.task(bind=True, name=SEND_CHUNK, ignore_result=True, shared=False)(_chunk_task(runtime))
    app.task(bind=True, name=RELAY, ignore_result=True, shared=False)(_relay_task(runtime))
    return app


def _countdown(due: float, settings: WorkerSettings) -> float:
    return min(max(due - time.time(), _MIN_COUNTDOWN), settings.max_countdown)


def _chunk_task(runtime: ProcessRuntime) -> Any:
    settings = runtime.settings

    def send_chunk(
        task: Any,
        outbox_url: str,
        campaign: str,
        first: int,
        last: int,
        *,
        ends_at: float | None = None,
        config_path: str | None = None,
        tries: int = 0,
        via: list[str] | None = None,
        concurrency: int | None = None,
    ) -> dict[str, Any]:
        """Send rows ``first..last`` of ``campaign``; enqueue the rest again when it falls due."""
        ends = float(ends_at) if ends_at is not None else time.time() + DEFAULT_DEADLINE
        where = {"campaign": campaign, "rows": [first, last]}

        def again(countdown: float, next_tries: int = 0) -> None:
            kwargs = {"ends_at": ends, "config_path": config_path, "tries": next_tries, "via": via,
                      "concurrency": concurrency}  # fmt: skip
            info = task.request.delivery_info or {}
            queue = info.get("routing_key") or settings.queue  # back to the queue it came from
            task.apply_async((outbox_url, campaign, first, last), kwargs, countdown=countdown, queue=queue)

        if _shutdown.requested():  # taken just before the warm shutdown: leave it to another worker
            again(0)
            return {**where, "requeued": 0}
        try:
            outcome: ChunkOutcome = runtime.run(
                lambda: runtime.send_rows(
                    outbox_url, campaign, (first, last), config_path, via=via, concurrency=concurrency
                )
            )
        except (ConfigurationError, UsageError):
            log.exception("chunk %s rows %d-%d of campaign %s cannot run", task.request.id, first, last, campaign)
            raise
        except Exception as exc:  # the journal or the broker is out of reach: try again later, within the deadline
            if time.time() >= ends:
                raise
            countdown = min(_MAX_BACKOFF, 2.0**tries, settings.max_countdown)
            log.warning("chunk rows %d-%d of %s failed (%s); again in %.1f s", first, last, campaign, exc, countdown)
            again(countdown, tries + 1)
            return {**where, "error": type(exc).__name__, "requeued": countdown}
        summary = {**where, **outcome.summary()}
        if outcome.stopped:  # warm shutdown: in-flight attempts finished, the rest released
            again(0)
            return {**summary, "requeued": 0}
        due = outcome.due
        if due is None:
            return summary
        if due > ends:
            log.warning(
                "campaign %s rows %d-%d: %d deferred, %d held elsewhere past the deadline; left pending",
                campaign, first, last, outcome.deferred, outcome.leased,
            )  # fmt: skip
            return summary
        countdown = _countdown(due, settings)
        again(countdown)
        return {**summary, "requeued": countdown}

    return send_chunk


def _relay_task(runtime: ProcessRuntime) -> Any:
    settings = runtime.settings

    def relay(task: Any, outbox_url: str | None = None, config_path: str | None = None) -> dict[str, Any]:
        """One watcher pass over the outbox: what callers committed, what fell due, what a lost chunk left."""
        target = outbox_url or settings.outbox_url
        if target is None:
            raise ConfigurationError("the relay needs an outbox: set BROADCASTIO_OUTBOX or make_app(outbox_url=...)")
        if _shutdown.requested():
            return {"skipped": "shutdown"}
        outcome = runtime.run(lambda: runtime.relay_pass(target, config_path))
        return outcome.summary()

    return relay
