"""What one worker process holds, built once per process: an event loop,
its outboxes and its orchestrators (one per shared-limits namespace).

A prefork child builds its own after the fork (SQLite connections, writer
threads and HTTP clients do not survive a fork), so every accessor first
checks the process id.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import os
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

from broadcastio import Orchestrator, Outbox, build_orchestrator
from broadcastio.config import DEFAULT_CONFIG_FILE
from broadcastio.outbox import RunControl
from broadcastio.plugins import make_plugin_manager

from broadcastio_celery import _shutdown
from broadcastio_celery._limits import coordinator_arguments
from broadcastio_celery._settings import WorkerSettings

__all__ = ["ChunkOutcome", "ProcessRuntime"]

T = TypeVar("T")
log = logging.getLogger("broadcastio.celery")
_POLL = 0.2
"""Seconds between looks at the shutdown event while a run is under way."""
_KEEP = 8
"""Orchestrators a process keeps (one per campaign with shared limits); the oldest is closed."""


class ChunkOutcome:
    """What one run over a chunk (or one relay pass) found and left."""

    def __init__(self, control: RunControl, statuses: collections.Counter[str]) -> None:
        self.statuses = statuses
        self.stopped = control.stopping
        self.already_done = control.already_done
        self.deferred, self.deferred_until = control.deferred, control.deferred_until
        self.leased, self.leased_until = control.leased, control.leased_until

    @property
    def due(self) -> float | None:
        """When rows left behind (deferred, or held by another run) may be taken next, if any."""
        times = [
            when
            for count, when in ((self.deferred, self.deferred_until), (self.leased, self.leased_until))
            if count and when is not None
        ]
        return min(times) if times else None

    def summary(self) -> dict[str, Any]:
        return {
            "results": dict(self.statuses),
            "already_done": self.already_done,
            "deferred": self.deferred,
            "leased": self.leased,
            "stopped": self.stopped,
        }


class ProcessRuntime:
    """The per-process state behind the tasks of one app."""

    def __init__(self, settings: WorkerSettings) -> None:
        self.settings = settings
        self._pid: int | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._outboxes: dict[str, Outbox] = {}
        self._orchestrators: dict[tuple[str, str | None], Orchestrator] = {}
        self._retired: list[Orchestrator] = []  # closed on this loop before the next run

    def _fresh(self) -> asyncio.AbstractEventLoop:
        if self._pid != os.getpid() or self._loop is None:
            # Inherited objects belong to the parent: drop them without closing them here.
            self._pid, self._loop = os.getpid(), asyncio.new_event_loop()
            self._outboxes, self._orchestrators, self._retired = {}, {}, []
        return self._loop

    def outbox(self, url: str) -> Outbox:
        self._fresh()
        box = self._outboxes.get(url)
        if box is None:
            box = self._outboxes[url] = Outbox(url, lease_seconds=self.settings.lease_seconds)
        return box

    def orchestrator(self, config_path: str | None, campaign: str | None) -> Orchestrator:
        """This process's orchestrator from ``broadcastio.toml``; with shared limits, one per campaign."""
        self._fresh()
        path = config_path or self.settings.config_path or DEFAULT_CONFIG_FILE
        namespace = (campaign or "broadcastio") if self.settings.limits_url else None
        key = (path, namespace)
        built = self._orchestrators.get(key)
        if built is None:
            manager = make_plugin_manager()
            extra = coordinator_arguments(self.settings.limits_url, namespace, manager) if namespace else {}
            built = self._orchestrators[key] = build_orchestrator(path, plugin_manager=manager, **extra)
            while len(self._orchestrators) > _KEEP:
                oldest = next(iter(self._orchestrators))
                self._retired.append(self._orchestrators.pop(oldest))
            log.info("broadcastio worker process %d built its orchestrator from %s", os.getpid(), path)
        return built

    def run(self, work: Callable[[], Awaitable[T]]) -> T:
        loop = self._fresh()
        while self._retired:
            with contextlib.suppress(Exception):
                loop.run_until_complete(self._retired.pop().aclose())
        return loop.run_until_complete(work())

    async def watch_stop(self, control: RunControl, limit: float | None) -> None:
        """Stop ``control`` gracefully when the worker shuts down (or after ``limit`` seconds)."""
        loop = asyncio.get_running_loop()
        ends = None if limit is None else loop.time() + limit
        # The shutdown flag is a multiprocessing.Event set by another process: it can only be polled here.
        while not _shutdown.requested() and (ends is None or loop.time() < ends):  # noqa: ASYNC110
            await asyncio.sleep(_POLL)
        control.stop(self.settings.shutdown_grace)

    async def send_rows(
        self,
        outbox_url: str,
        campaign: str,
        rows: tuple[int, int],
        config_path: str | None,
        *,
        via: Sequence[str] | None = None,
        concurrency: int | None = None,
    ) -> ChunkOutcome:
        """One run over rows ``first..last`` of ``campaign``: no waiting for deferred rows (deadline 0);
        ``via`` limits the route, ``concurrency`` overrides this worker's sends in flight."""
        outbox = self.outbox(outbox_url)
        orchestrator = self.orchestrator(config_path, campaign)
        control = RunControl()
        statuses: collections.Counter[str] = collections.Counter()
        watcher = asyncio.ensure_future(self.watch_stop(control, None))
        try:
            async for result in orchestrator.aresume(
                outbox,
                campaign=campaign,
                rows=rows,
                deadline=0,
                control=control,
                concurrency=concurrency or self.settings.concurrency,
                via=via,
            ):
                statuses[result.status] += 1
        finally:
            watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watcher
        return ChunkOutcome(control, statuses)

    async def relay_pass(self, outbox_url: str, config_path: str | None) -> ChunkOutcome:
        """One watcher pass over the whole outbox, bounded by half the visibility timeout."""
        outbox = self.outbox(outbox_url)
        orchestrator = self.orchestrator(config_path, None)
        control = RunControl()
        statuses: collections.Counter[str] = collections.Counter()
        watcher = asyncio.ensure_future(self.watch_stop(control, self.settings.max_countdown))
        try:
            async for result in orchestrator.awatch(
                outbox, once=True, control=control, concurrency=self.settings.concurrency
            ):
                statuses[result.status] += 1
        finally:
            watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watcher
        return ChunkOutcome(control, statuses)

    def close(self) -> None:
        """Close this process's orchestrators and outboxes (``worker_process_shutdown``)."""
        if self._pid != os.getpid() or self._loop is None:
            return
        loop = self._loop
        for orchestrator in self._orchestrators.values():
            with contextlib.suppress(Exception):
                loop.run_until_complete(orchestrator.aclose())
        for box in self._outboxes.values():
            with contextlib.suppress(Exception):
                box.close()
        self._orchestrators, self._outboxes = {}, {}
        loop.close()
        self._loop = None
