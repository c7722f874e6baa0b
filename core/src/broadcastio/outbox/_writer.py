"""One thread owns the outbox's write connection and commits in groups.

Callers hand it small jobs (a function of the connection plus arguments)
from any thread or event loop. The thread takes every job waiting, runs
them all in one transaction, commits once, then answers each caller: one
fsync covers many messages, and the database never blocks an event loop.

On PostgreSQL (``_pgbatch``) a lost connection (the server restarted) does
not fail the batch: the thread reconnects with bounded backoff and runs
the whole batch again, for at most ``reconnect_for`` seconds, then fails
it with :class:`~broadcastio.OutboxError`. Running a batch again is safe
even when its first COMMIT did reach the server, because every job is
written to be re-run (see ``docs/outbox.md``).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import queue
import sqlite3
import threading
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

from broadcastio._errors import OutboxError
from broadcastio.outbox._db import Db

__all__ = ["Writer", "job_groups", "run_group"]

T = TypeVar("T")
_STOP = object()
_MAX_BATCH = 2048


def _as_outbox_error(exc: BaseException, name: str) -> BaseException:
    """A database failure (disk full, read-only file, server gone) as the documented OutboxError.

    ``name`` says which outbox (a DSN without its password)."""
    if isinstance(exc, sqlite3.Error):
        error = OutboxError(f"{name}: {exc}; messages already journalled stay in the file")
        error.__cause__ = exc
        return error
    if type(exc).__module__.startswith("psycopg"):
        error = OutboxError(f"{name}: {type(exc).__name__}: {exc}; messages already journalled stay in the database")
        error.__cause__ = exc
        return error
    return exc


def _resolve(pairs: list[tuple[asyncio.Future[Any], Any, bool]]) -> None:
    for future, value, failed in pairs:
        if future.done():  # the caller was cancelled meanwhile
            continue
        if failed:
            future.set_exception(value)
        else:
            future.set_result(value)


def job_groups(batch: list[Any]) -> Iterator[list[Any]]:
    """``batch`` cut into groups: consecutive calls of one job that has a ``many`` form
    (one ``executemany`` for all of them), every other job alone."""
    index = 0
    while index < len(batch):
        function = batch[index][0]
        end = index + 1
        if getattr(function, "many", None) is not None:
            while end < len(batch) and batch[end][0] is function:
                end += 1
        yield batch[index:end]
        index = end


def run_group(db: Db, group: list[Any]) -> list[tuple[Any, bool]]:
    """Run one group of ``job_groups`` on ``db``: its outcomes, none of them failed (it raises instead)."""
    function = group[0][0]
    if len(group) > 1:
        return [(value, False) for value in function.many(db, [job[1] for job in group])]
    return [(function(db, *group[0][1]), False)]


class Writer:
    """A daemon thread with the only write connection of one outbox file."""

    def __init__(
        self,
        connect: Callable[[], Db],
        name: str = "broadcastio-outbox",
        *,
        dialect: str = "sqlite",
        reconnect_for: float = 60.0,
    ) -> None:
        self._connect = connect
        self._name = name
        self._dialect = dialect
        self.reconnect_for = reconnect_for
        self._pg: Any = None
        self._jobs: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._closed = False
        self.batches = 0
        self.jobs_done = 0

    @property
    def reconnects(self) -> int:
        """How many times a lost PostgreSQL connection was opened again (0 on SQLite)."""
        return 0 if self._pg is None else int(self._pg.reconnects)

    def _ensure_started(self) -> None:
        if self._thread is not None:
            return
        with self._lock:
            if self._closed:
                from broadcastio._errors import UsageError

                raise UsageError("this Outbox is closed")
            if self._thread is None:
                ready: concurrent.futures.Future[None] = concurrent.futures.Future()
                thread = threading.Thread(target=self._run, args=(ready,), name=self._name, daemon=True)
                thread.start()
                ready.result()
                self._thread = thread

    def submit(self, function: Callable[..., T], *args: Any) -> asyncio.Future[T]:
        """Queue ``function(connection, *args)``; await the future for its result, committed."""
        self._ensure_started()
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        self._jobs.put((function, args, loop, future))
        return future

    def call(self, function: Callable[..., T], *args: Any) -> T:
        """Run ``function(connection, *args)`` and wait for it, committed (for sync callers)."""
        return self.post(function, *args).result()

    def post(self, function: Callable[..., T], *args: Any) -> concurrent.futures.Future[T]:
        """Queue ``function(connection, *args)`` for a sync caller that has more to do meanwhile."""
        self._ensure_started()
        future: concurrent.futures.Future[T] = concurrent.futures.Future()
        self._jobs.put((function, args, None, future))
        return future

    def close(self) -> None:
        """Finish queued jobs, then stop the thread and close the connection."""
        with self._lock:
            self._closed = True
            thread, self._thread = self._thread, None
        if thread is not None:
            self._jobs.put(_STOP)
            thread.join()

    def _run(self, ready: concurrent.futures.Future[None]) -> None:
        if self._dialect == "postgres":
            from broadcastio.outbox._pgbatch import PgBatches

            ready.set_result(None)  # it connects on its first batch, and again whenever the connection is lost
            batches = self._pg = PgBatches(self._connect, self._name, self.reconnect_for, _as_outbox_error)
            try:
                self._loop(lambda batch: self._answer(batch, batches.run(batch)))
            finally:
                batches.close()
            return
        try:
            conn = self._connect()
        except BaseException as exc:
            ready.set_exception(exc)
            return
        ready.set_result(None)
        try:
            self._loop(lambda batch: self._run_batch(conn, batch))
        finally:
            conn.close()

    def _loop(self, run_batch: Callable[[list[Any]], None]) -> None:
        stopping = False
        while not stopping:
            batch = [self._jobs.get()]
            while len(batch) < _MAX_BATCH:
                try:
                    batch.append(self._jobs.get_nowait())
                except queue.Empty:
                    break
            if batch[-1] is _STOP or _STOP in batch:
                stopping = True
                batch = [job for job in batch if job is not _STOP]
            if batch:
                run_batch(batch)

    def _run_batch(self, db: Db, batch: list[Any]) -> None:
        outcomes: list[tuple[Any, bool]] = []
        conn = db.raw
        try:
            conn.execute("BEGIN IMMEDIATE")
            for group in job_groups(batch):
                try:
                    outcomes.extend(run_group(db, group))
                except Exception as exc:  # these jobs fail alone; SQLite undid the failing statement
                    if not conn.in_transaction:
                        # SQLite rolled the whole transaction back (disk full, I/O error): nothing of
                        # the batch is stored, and later jobs must not autocommit one by one.
                        raise
                    failure = _as_outbox_error(exc, self._name)
                    outcomes.extend((failure, True) for _ in group)
            conn.execute("COMMIT")
        except Exception as exc:  # the transaction itself failed: nothing of the batch is stored
            if conn.in_transaction:
                try:
                    conn.execute("ROLLBACK")
                except sqlite3.Error:
                    pass  # SQLite rolls back by itself after a failed COMMIT (disk full)
            outcomes = [(_as_outbox_error(exc, self._name), True)] * len(batch)
        self._answer(batch, outcomes)

    def _answer(self, batch: list[Any], outcomes: list[tuple[Any, bool]]) -> None:
        self.batches += 1
        self.jobs_done += len(batch)
        by_loop: dict[asyncio.AbstractEventLoop, list[tuple[asyncio.Future[Any], Any, bool]]] = {}
        for (_, _, loop, future), (value, failed) in zip(batch, outcomes, strict=True):
            if loop is None:
                if failed:
                    future.set_exception(value)
                else:
                    future.set_result(value)
            else:
                by_loop.setdefault(loop, []).append((future, value, failed))
        for loop, pairs in by_loop.items():
            try:
                loop.call_soon_threadsafe(_resolve, pairs)
            except RuntimeError:  # that loop is closed: nobody waits any more
                pass
