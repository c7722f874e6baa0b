"""A durable journal for broadcasts: a crash loses nothing, a rerun sends nothing twice.

Pass an :class:`Outbox` to :meth:`Orchestrator.abroadcast
<broadcastio.Orchestrator.abroadcast>` (or ``broadcast``) and every message
is written to a SQLite file with its idempotency key before its first
attempt; :meth:`Orchestrator.aresume <broadcastio.Orchestrator.aresume>`
finishes what a stopped run left behind. Row states::

    pending ──► sending ──► sent      (delivered)
                   │   ├──► failed    (definitely not delivered)
                   │   └──► unknown   (may have been delivered)
                   └──(run died)──► unknown

An ``unknown`` row is sent again only when every provider that could have
been called for it declares idempotent sends. See ``docs/outbox.md``.
"""

from __future__ import annotations

import datetime as dt
import os
import socket
import sqlite3
import time
import uuid
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Literal

from msgspec import Struct

from broadcastio._errors import ConfigurationError, ErrorClass, UsageError
from broadcastio._models import DeliveryError, Message
from broadcastio._outbox_store import OPEN_STATES, create_schema, decode_message, journal_chunk
from broadcastio._outbox_writer import Writer

__all__ = ["Outbox", "OutboxRow", "OutboxState", "OutboxStatus"]

OutboxState = Literal["pending", "sending", "sent", "failed", "unknown"]
_STATES: tuple[OutboxState, ...] = ("pending", "sending", "sent", "failed", "unknown")
_SYNCHRONOUS = ("OFF", "NORMAL", "FULL", "EXTRA")
_BUSY_TIMEOUT_S = 60.0


class OutboxStatus(Struct, frozen=True, kw_only=True):
    """How many rows the outbox holds in each state."""

    pending: int = 0
    sending: int = 0
    sent: int = 0
    failed: int = 0
    unknown: int = 0
    total: int = 0

    @property
    def open(self) -> int:
        """Rows that are not final: pending, sending and unknown."""
        return self.pending + self.sending + self.unknown


class OutboxRow(Struct, frozen=True, kw_only=True):
    """One journalled message as the outbox records it.

    ``attempts`` counts delivery runs started for the row (each may make
    several provider attempts). ``next_attempt_at`` is when a row that is not
    final may be taken over by another run (its lease expiry), None for a row
    free now or final. ``message`` is decoded only when asked for.
    """

    idempotency_key: str
    state: OutboxState
    attempts: int = 0
    last_error: DeliveryError | None = None
    provider: str | None = None
    provider_message_id: str | None = None
    reference_id: str | None = None
    route: tuple[str, ...] = ()
    owner: str | None = None
    created_at: dt.datetime | None = None
    updated_at: dt.datetime | None = None
    next_attempt_at: dt.datetime | None = None
    message: Message | None = None

    @property
    def last_error_code(self) -> str | None:
        return None if self.last_error is None else self.last_error.code

    @property
    def last_error_class(self) -> str | None:
        return None if self.last_error is None else self.last_error.error_class.value

    @property
    def last_error_message(self) -> str | None:
        return None if self.last_error is None else self.last_error.message


def _default_owner() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def _when(epoch: float | None) -> dt.datetime | None:
    return None if epoch is None else dt.datetime.fromtimestamp(epoch, dt.UTC)


class Outbox:
    """A SQLite journal of broadcast messages, shared safely between processes.

    :param path: the database file (created if missing; WAL mode).
    :param synchronous: SQLite's ``synchronous`` setting. ``"FULL"`` (the
        default) makes every committed state survive a power loss;
        ``"NORMAL"`` survives a process crash but may lose the last commits
        on power loss, and is faster.
    :param lease_seconds: how long a row stays reserved for the run that
        claimed it without being renewed. A running broadcast renews its
        leases, so this only bounds how soon another process may take over
        the rows of a dead one.
    :param owner: this process's id in leases (default: host, pid, random).
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        synchronous: str = "FULL",
        lease_seconds: float = 60.0,
        owner: str | None = None,
    ) -> None:
        mode = str(synchronous).upper()
        if mode not in _SYNCHRONOUS:
            raise ConfigurationError(
                f"Outbox(synchronous=...) must be one of {', '.join(_SYNCHRONOUS)}, got {synchronous!r}"
            )
        if not isinstance(lease_seconds, (int, float)) or lease_seconds <= 0:
            raise ConfigurationError(f"Outbox(lease_seconds=...) must be > 0, got {lease_seconds!r}")
        if owner is not None and (not isinstance(owner, str) or not owner):
            raise ConfigurationError("Outbox(owner=...) must be a non-empty string")
        self.path = Path(path)
        self.synchronous = mode
        self.lease_seconds = float(lease_seconds)
        self.owner = owner or _default_owner()
        self._closed = False
        self._runs = 0
        try:
            conn = self._connect()
        except sqlite3.Error as exc:
            raise ConfigurationError(f"cannot open outbox {str(self.path)!r}: {exc}") from exc
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("BEGIN IMMEDIATE")
            create_schema(conn)
            conn.execute("COMMIT")
        except sqlite3.Error as exc:
            raise ConfigurationError(f"cannot open outbox {str(self.path)!r}: {exc}") from exc
        finally:
            conn.close()
        self._writer = Writer(self._connect)

    def run_owner(self) -> str:
        """A fresh lease id for one run: this outbox's owner plus a run number."""
        self._runs += 1
        return f"{self.owner}/{self._runs}"

    def now(self) -> float:
        """Wall-clock epoch seconds used for leases (shared between processes)."""
        return time.time()

    # --- reading ---------------------------------------------------------------

    def status(self) -> OutboxStatus:
        """Row counts by state, as committed."""
        counts = dict.fromkeys(_STATES, 0)
        with self._reader() as conn:
            for state, count in conn.execute("SELECT state, count(*) FROM outbox GROUP BY state"):
                counts[state] = count
        return OutboxStatus(**counts, total=sum(counts.values()))

    def rows(
        self, state: OutboxState | Iterable[OutboxState] | None = None, *, messages: bool = False
    ) -> Iterator[OutboxRow]:
        """Rows in journal order, optionally only those in ``state`` (one or several).

        Streams from the database, so memory stays flat; with ``messages=True``
        each row carries its decoded :class:`~broadcastio.Message`.
        """
        states: tuple[str, ...] | None
        if state is None:
            states = None
        elif isinstance(state, str):
            states = (state,)
        else:
            states = tuple(state)
        for item in states or ():
            if item not in _STATES:
                raise UsageError(f"Outbox.rows(state=...) got {item!r}; states are {', '.join(_STATES)}")
        columns = (
            "id, idempotency_key, state, attempts, error_code, error_class, error_message, provider, "
            "provider_message_id, reference_id, route, owner, created_at, updated_at, next_attempt_at"
        ) + (", message" if messages else "")
        where = f" AND state IN ({','.join('?' * len(states))})" if states else ""
        last_id = 0
        with self._reader() as conn:
            while True:
                page = conn.execute(
                    f"SELECT {columns} FROM outbox WHERE id > ?{where} ORDER BY id LIMIT 500",
                    (last_id, *(states or ())),
                ).fetchall()
                if not page:
                    return
                for row in page:
                    yield self._row(row, messages)
                last_id = page[-1][0]

    @staticmethod
    def _row(row: tuple[object, ...], with_message: bool) -> OutboxRow:
        (_, key, state, attempts, code, error_class, error_message, provider, message_id, reference_id, route) = row[
            :11
        ]
        owner, created, updated, next_at = row[11:15]
        error = None
        if code is not None:
            error = DeliveryError(
                code=str(code),
                message=str(error_message or ""),
                error_class=ErrorClass(str(error_class or ErrorClass.AMBIGUOUS.value)),
                provider=provider,  # type: ignore[arg-type]
            )
        return OutboxRow(
            idempotency_key=str(key),
            state=state,  # type: ignore[arg-type]
            attempts=int(attempts),  # type: ignore[call-overload]
            last_error=error,
            provider=provider,  # type: ignore[arg-type]
            provider_message_id=message_id,  # type: ignore[arg-type]
            reference_id=reference_id,  # type: ignore[arg-type]
            route=tuple(str(route).split(",")) if route else (),
            owner=owner,  # type: ignore[arg-type]
            created_at=_when(created),  # type: ignore[arg-type]
            updated_at=_when(updated),  # type: ignore[arg-type]
            next_attempt_at=_when(next_at) if state in OPEN_STATES else None,  # type: ignore[arg-type]
            message=decode_message(row[15]) if with_message else None,  # type: ignore[arg-type]
        )

    # --- writing -----------------------------------------------------------------

    def add(self, messages: Iterable[Message], *, chunk_size: int = 500) -> int:
        """Journal ``messages`` as ``pending`` without sending them; returns how
        many were new. A later :meth:`Orchestrator.resume` sends them."""
        added = 0
        chunk: list[Message] = []

        def flush() -> int:
            now = self.now()
            decisions = self._writer.call(journal_chunk, chunk, None, now, None, frozenset())
            return sum(1 for kind, _, message in decisions if kind == "send" and message is None)

        for message in messages:
            if not isinstance(message, Message):
                raise UsageError(f"Outbox.add takes Message objects, got {type(message).__name__}")
            chunk.append(message)
            if len(chunk) >= chunk_size:
                added += flush()
                chunk = []
        if chunk:
            added += flush()
        return added

    # --- lifecycle -----------------------------------------------------------------

    def close(self) -> None:
        """Finish pending writes and close the database; idempotent."""
        self._closed = True
        self._writer.close()

    @property
    def closed(self) -> bool:
        return self._closed

    def __enter__(self) -> Outbox:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    async def __aenter__(self) -> Outbox:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Outbox(path={str(self.path)!r}, synchronous={self.synchronous!r}, owner={self.owner!r})"

    # --- internals -------------------------------------------------------------------

    @property
    def writer(self) -> Writer:
        """The writer thread (private API for the orchestrator)."""
        if self._closed:
            raise UsageError("this Outbox is closed")
        return self._writer

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, timeout=_BUSY_TIMEOUT_S, isolation_level=None, check_same_thread=False)
        conn.execute(f"PRAGMA synchronous={self.synchronous}")
        return conn

    def _reader(self) -> _Reader:
        if self._closed:
            raise UsageError("this Outbox is closed")
        return _Reader(self)


class _Reader:
    """A short-lived read connection (WAL lets it read while the writer writes)."""

    def __init__(self, outbox: Outbox) -> None:
        self._outbox = outbox
        self._conn: sqlite3.Connection | None = None

    def __enter__(self) -> sqlite3.Connection:
        self._conn = sqlite3.connect(
            self._outbox.path, timeout=_BUSY_TIMEOUT_S, isolation_level=None, check_same_thread=False
        )
        return self._conn

    def __exit__(self, *exc_info: object) -> None:
        if self._conn is not None:
            self._conn.close()
