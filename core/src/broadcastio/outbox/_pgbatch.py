"""The writer thread's batches on PostgreSQL: one transaction each, through outages.

A batch first runs as one plain transaction (the fast path). When a job
raises, the transaction is rolled back (PostgreSQL aborts it anyway) and
the batch runs again with a savepoint around each job, so that job fails
alone, as on SQLite. A deadlock or serialization failure (two processes
touching the same rows) runs the batch again a few times.

A lost connection (server restarted, network cut) is not a failure of the
batch: the connection is opened again with bounded backoff and the whole
batch runs again, until ``reconnect_for`` seconds have passed; only then
does every job of the batch fail with :class:`~broadcastio.OutboxError`.
When the connection died during COMMIT, the batch may already be stored;
running it again is still right because every job is re-runnable: inserts
are ``ON CONFLICT DO NOTHING``, state changes are guarded by the row's
owner or state, a claim sees its own committed claim as its own (not as
another run's), and a receipt already stored reads as a duplicate.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from broadcastio._errors import OutboxError
from broadcastio.outbox._db import Db
from broadcastio.outbox._writer import job_groups, run_group

__all__ = ["PgBatches"]

_FIRST_DELAY_S = 0.05
_MAX_DELAY_S = 2.0
_CONFLICT_RETRIES = 5


class _JobFailed(Exception):
    """A job raised on the fast path: run the batch again, one savepoint per job."""


class PgBatches:
    """Runs the writer's batches on one dedicated connection, reconnecting as needed."""

    def __init__(
        self,
        connect: Callable[[], Db],
        name: str,
        reconnect_for: float,
        as_error: Callable[[BaseException, str], BaseException],
    ) -> None:
        import psycopg
        import psycopg.errors

        self._psycopg = psycopg
        self._conflicts = (psycopg.errors.DeadlockDetected, psycopg.errors.SerializationFailure)
        self._connect = connect
        self._name = name
        self._reconnect_for = reconnect_for
        self._as_error = as_error
        self._conn: Db | None = None
        self.reconnects = 0

    def close(self) -> None:
        if self._conn is not None:
            try:
                self._conn.close()
            finally:
                self._conn = None

    def _lost(self, exc: BaseException) -> bool:
        if not isinstance(exc, (self._psycopg.OperationalError, self._psycopg.InterfaceError)):
            return False
        raw = None if self._conn is None else self._conn.raw
        return raw is None or bool(raw.broken) or bool(raw.closed)

    def _drop(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            try:
                conn.close()
            except Exception:  # already broken: nothing to close cleanly
                pass

    def _rollback(self) -> None:
        if self._conn is not None:
            try:
                self._conn.raw.rollback()
            except Exception:  # the connection is gone: the server rolled it back
                self._drop()

    def run(self, batch: list[Any]) -> list[tuple[Any, bool]]:
        """Each job's (value, failed), the batch committed once (or failed as a whole)."""
        isolate = False
        conflicts = 0
        deadline = time.monotonic() + self._reconnect_for
        delay = _FIRST_DELAY_S
        while True:
            try:
                if self._conn is None:
                    self._conn = self._connect()
                return self._attempt(self._conn, batch, isolate)
            except _JobFailed:
                self._rollback()
                isolate = True
            except Exception as exc:
                if self._lost(exc) or self._conn is None:
                    self._drop()
                    if time.monotonic() + delay > deadline:
                        error = OutboxError(
                            f"{self._name}: the database stayed unreachable for {self._reconnect_for:.0f} s "
                            f"({type(exc).__name__}: {exc}); messages already journalled stay in the database"
                        )
                        error.__cause__ = exc
                        return [(error, True)] * len(batch)
                    time.sleep(delay)
                    delay = min(delay * 2, _MAX_DELAY_S)
                    self.reconnects += 1
                    continue
                self._rollback()
                if isinstance(exc, self._conflicts) and conflicts < _CONFLICT_RETRIES:
                    conflicts += 1
                    continue
                return [(self._as_error(exc, self._name), True)] * len(batch)

    def _attempt(self, db: Db, batch: list[Any], isolate: bool) -> list[tuple[Any, bool]]:
        raw = db.raw
        outcomes: list[tuple[Any, bool]] = []
        for group in job_groups(batch):
            if isolate:
                raw.execute("SAVEPOINT broadcastio_job")
            try:
                outcomes.extend(run_group(db, group))
                if isolate:
                    raw.execute("RELEASE SAVEPOINT broadcastio_job")
            except Exception as exc:
                if self._lost(exc) or isinstance(exc, self._conflicts):
                    raise
                if not isolate:
                    raise _JobFailed from exc
                raw.execute("ROLLBACK TO SAVEPOINT broadcastio_job")
                failure = self._as_error(exc, self._name)
                outcomes.extend((failure, True) for _ in group)
        raw.commit()
        return outcomes
