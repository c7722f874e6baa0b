"""The Outbox object: opening the journal, reading its rows and campaigns, journalling without sending.

The journal is a SQLite file or a PostgreSQL database (a ``postgresql://``
DSN); everything above the connections (``_db.Db``) is the same for both.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import datetime as dt
import os
import socket
import sqlite3
import time
import uuid
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import msgspec

from broadcastio._clock import Clock
from broadcastio._errors import ConfigurationError, ErrorClass, OutboxError, UsageError
from broadcastio._escalation import Escalation
from broadcastio._models import DeliveryError, Message
from broadcastio.outbox import _postgres
from broadcastio.outbox._db import Db
from broadcastio.outbox._receipts import arrival_order, record_receipt
from broadcastio.outbox._records import STATES, CampaignStatus, HistoryEntry, OutboxRow, OutboxState, OutboxStatus
from broadcastio.outbox._rows import decode_message
from broadcastio.outbox._schema import create_schema
from broadcastio.outbox._store import (
    OPEN_STATES,
    campaign_journalled,
    ingest_chunk,
    open_campaign,
)
from broadcastio.outbox._writer import Writer
from broadcastio.receipts._model import Receipt, ReceiptLevel, RecordOutcome

if TYPE_CHECKING:
    from broadcastio.outbox._campaigns import CampaignChange, CampaignReport

__all__ = ["Outbox"]

_SYNCHRONOUS = ("OFF", "NORMAL", "FULL", "EXTRA")
_BUSY_TIMEOUT_S = 60.0


class _OutboxSink:
    """The outbox as a :class:`~broadcastio.receipts.ReceiptSink`."""

    def __init__(self, outbox: Outbox) -> None:
        self.outbox = outbox

    async def record(self, receipt: Receipt) -> RecordOutcome:
        return await self.outbox.arecord(receipt)


def _default_owner() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def _when(epoch: float | None) -> dt.datetime | None:
    return None if epoch is None else dt.datetime.fromtimestamp(epoch, dt.UTC)


class Outbox:
    """A journal of broadcast messages (SQLite or PostgreSQL), shared safely between processes.

    :param path: the SQLite database file (created if missing; WAL mode), or a
        ``postgresql://`` DSN (the ``postgres`` extra): the schema is created
        or upgraded on opening, rows are claimed with ``FOR UPDATE SKIP LOCKED``,
        so processes on several machines can share it.
    :param synchronous: SQLite's ``synchronous`` setting (ignored on PostgreSQL). ``"FULL"`` (the
        default) makes every committed state survive a power loss;
        ``"NORMAL"`` survives a process crash but may lose the last commits
        on power loss, and is faster.
    :param lease_seconds: how long a row stays reserved for the run that
        claimed it without being renewed. A running broadcast renews its
        leases, so this only bounds how soon another process may take over
        the rows of a dead one.
    :param owner: this process's id in leases (default: host, pid, random).
        A lease whose owner is a dead process of this host is taken over at once.
    :param retry_delay: how long a row whose delivery failed transiently (or
        could not be tried: breaker open, no healthy provider) waits before
        the next try, when the error gives no ``retry_after``; doubled per
        delivery run of the row, up to ``max_retry_delay``.
    :param clock: where leases, deferrals and escalation timers take the
        wall-clock time from (its ``now()``); default the system clock. Tests
        pass a :class:`~broadcastio.testing.FakeClock`.
    :param reconnect_for: PostgreSQL only: how long the writer keeps
        reconnecting after the server went away before a write fails with
        :class:`~broadcastio.OutboxError` (a restart does not stop a campaign).

    The outbox is also a receipt sink (:meth:`record`, :meth:`receipt_sink`):
    receipts update the row they are about, drive fallback and cancel escalations.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        synchronous: str = "FULL",
        lease_seconds: float = 60.0,
        owner: str | None = None,
        retry_delay: float = 1.0,
        max_retry_delay: float = 60.0,
        clock: Clock | None = None,
        reconnect_for: float = 60.0,
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
        for label, value in (("retry_delay", retry_delay), ("max_retry_delay", max_retry_delay)):
            if not isinstance(value, (int, float)) or value < 0:
                raise ConfigurationError(f"Outbox({label}=...) must be a number >= 0, got {value!r}")
        if clock is not None and not isinstance(clock, Clock):
            raise ConfigurationError(f"Outbox(clock=...) must be a Clock, got {type(clock).__name__}")
        self._clock = clock
        self.retry_delay = float(retry_delay)
        self.max_retry_delay = max(float(max_retry_delay), self.retry_delay)
        if not isinstance(reconnect_for, (int, float)) or reconnect_for < 0:
            raise ConfigurationError(f"Outbox(reconnect_for=...) must be a number >= 0, got {reconnect_for!r}")
        self.synchronous = mode
        self.lease_seconds = float(lease_seconds)
        self.owner = owner or _default_owner()
        self._closed = False
        self._runs = 0
        self._pool: Any = None
        self.news: asyncio.Event | None = None  # set by a LISTENing relay when rows are committed
        if _postgres.is_dsn(path):
            self.url = str(path)
            self.dialect = "postgres"
            self.path = Path(_postgres.describe(self.url))  # never a file, never the password: see ``url``
            self._open_postgres(float(reconnect_for))
            return
        self.dialect = "sqlite"
        self.path = Path(path)
        self.url = str(self.path)
        try:
            conn = self._connect()
        except sqlite3.Error as exc:
            raise ConfigurationError(f"cannot open outbox {str(self.path)!r}: {exc}") from exc
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("BEGIN IMMEDIATE")
            create_schema(Db(conn, "sqlite"))
            conn.execute("COMMIT")
        except sqlite3.Error as exc:
            raise ConfigurationError(f"cannot open outbox {str(self.path)!r}: {exc}") from exc
        finally:
            conn.close()
        self._writer = Writer(self._connect_db, name=f"outbox {str(self.path)!r}")

    def _open_postgres(self, reconnect_for: float) -> None:
        where = _postgres.describe(self.url)
        _postgres.prepare_database(self.url)
        self._pool = _postgres.open_pool(self.url)
        self._writer = Writer(
            lambda: _postgres.connect(self.url), name=f"outbox {where}", dialect="postgres", reconnect_for=reconnect_for
        )

    @property
    def description(self) -> str:
        """Where the journal is, safe to show (a DSN without its password)."""
        return _postgres.describe(self.url) if self.dialect == "postgres" else str(self.path)

    def run_owner(self) -> str:
        """A fresh lease id for one run: this outbox's owner plus a run number."""
        self._runs += 1
        return f"{self.owner}/{self._runs}"

    def now(self) -> float:
        """Wall-clock epoch seconds used for leases and timers (shared between processes)."""
        if self._clock is not None:
            return self._clock.now().timestamp()
        return time.time()

    # --- receipts ------------------------------------------------------------------

    async def arecord(self, receipt: Receipt) -> RecordOutcome:
        """Record a verified receipt (see :class:`~broadcastio.receipts.ReceiptSink`):
        ``recorded``, ``duplicate`` (same ``receipt_id`` seen), ``orphaned`` (no
        row matches; kept) or ``stale`` (changes nothing: a lower level, after
        ``failed``, or about an earlier provider of the row)."""
        if not isinstance(receipt, Receipt):
            raise UsageError(f"Outbox.record takes a Receipt, got {type(receipt).__name__}")
        return await self.writer.submit(record_receipt, receipt, self.now())

    record = arecord

    def record_sync(self, receipt: Receipt) -> RecordOutcome:
        """:meth:`arecord` for callers without an event loop."""
        if not isinstance(receipt, Receipt):
            raise UsageError(f"Outbox.record_sync takes a Receipt, got {type(receipt).__name__}")
        return self.writer.call(record_receipt, receipt, self.now())

    def receipt_sink(self) -> _OutboxSink:
        """This outbox as a receipt sink, for :func:`~broadcastio.receipts.receipts_app`."""
        return _OutboxSink(self)

    def history(self, idempotency_key: str) -> list[HistoryEntry]:
        """The receipts and escalations of one row, oldest first."""
        with self._reader() as conn:
            found = conn.execute("SELECT id FROM outbox WHERE idempotency_key = ?", (idempotency_key,)).fetchone()
            if found is None:
                raise UsageError("no row with this idempotency key in the outbox")
            entries = [
                HistoryEntry(
                    at=_when(received),  # type: ignore[arg-type]
                    kind="receipt",
                    provider=provider,
                    detail=f"{status} ({outcome})",
                    level=ReceiptLevel(level),
                    error_code=code,
                )
                for received, provider, status, outcome, level, code in conn.execute(
                    "SELECT received_at, provider, status, outcome, level, error_code FROM receipts "
                    f"WHERE outbox_id = ? ORDER BY received_at, {arrival_order(conn)}",
                    (found[0],),
                )
            ]
            entries += [
                HistoryEntry(at=_when(at), kind="escalation", provider=provider, detail=reason)  # type: ignore[arg-type]
                for at, provider, reason in conn.execute(
                    "SELECT at, from_provider, reason FROM escalations WHERE outbox_id = ? ORDER BY at", (found[0],)
                )
            ]
        entries.sort(key=lambda entry: entry.at)
        return entries

    # --- reading ---------------------------------------------------------------

    def status(self) -> OutboxStatus:
        """Row counts by state, as committed."""
        counts = dict.fromkeys(STATES, 0)
        with self._reader() as conn:
            for state, count in conn.execute("SELECT state, count(*) FROM outbox GROUP BY state"):
                counts[state] = count
        return OutboxStatus(**counts, total=sum(counts.values()))

    def campaign(self, name: str) -> CampaignStatus:
        """The counts of campaign ``name``; ``UsageError`` when the outbox has none of that name."""
        with self._reader() as conn:
            found = conn.execute(
                "SELECT id, created_at, journalled_at FROM campaigns WHERE name = ?", (name,)
            ).fetchone()
            if found is None:
                known = [row[0] for row in conn.execute("SELECT name FROM campaigns ORDER BY id")]
                raise UsageError(f"no campaign named {name!r} in this outbox; campaigns: {', '.join(known) or 'none'}")
            counts = dict.fromkeys(STATES, 0)
            for state, count in conn.execute(
                "SELECT state, count(*) FROM outbox WHERE campaign = ? GROUP BY state", (found[0],)
            ):
                counts[state] = count
        return CampaignStatus(
            name=name,
            created_at=_when(found[1]),  # type: ignore[arg-type]
            journalled=found[2] is not None,
            **counts,
            total=sum(counts.values()),
        )

    def campaigns(self) -> list[CampaignStatus]:
        """Every campaign of the outbox, oldest first."""
        with self._reader() as conn:
            names = [row[0] for row in conn.execute("SELECT name FROM campaigns ORDER BY id")]
        return [self.campaign(name) for name in names]

    def rows(
        self,
        state: OutboxState | Iterable[OutboxState] | None = None,
        *,
        messages: bool = False,
        campaign: str | None = None,
    ) -> Iterator[OutboxRow]:
        """Rows in journal order, optionally only those in ``state`` (one or
        several) or of one ``campaign``.

        Streams from the database, so memory stays flat; with ``messages=True``
        each row carries its decoded :class:`~broadcastio.Message` (None for a
        row whose stored message cannot be decoded: one bad row never stops the listing).
        """
        states: tuple[str, ...] | None
        if state is None:
            states = None
        elif isinstance(state, str):
            states = (state,)
        else:
            states = tuple(state)
        for item in states or ():
            if item not in STATES:
                raise UsageError(f"Outbox.rows(state=...) got {item!r}; states are {', '.join(STATES)}")
        columns = (
            "id, idempotency_key, state, attempts, error_code, error_class, error_message, provider, "
            "provider_message_id, reference_id, route, owner, created_at, updated_at, next_attempt_at, "
            "row_number, campaign, receipt_level, receipt_status, receipt_at, escalate_at, skip"
        ) + (", message" if messages else "")
        where = f" AND state IN ({','.join('?' * len(states))})" if states else ""
        params: tuple[object, ...] = states or ()
        with self._reader() as conn:
            names = dict(conn.execute("SELECT id, name FROM campaigns").fetchall())
        if campaign is not None:
            ids = [key for key, value in names.items() if value == campaign]
            if not ids:
                raise UsageError(f"no campaign named {campaign!r} in this outbox")
            where += " AND campaign = ?"
            params = (*params, ids[0])
        last_id = 0
        with self._reader() as conn:
            while True:
                page = conn.execute(
                    f"SELECT {columns} FROM outbox WHERE id > ?{where} ORDER BY id LIMIT 500",
                    (last_id, *params),
                ).fetchall()
                if not page:
                    return
                for row in page:
                    yield self._row(row, messages, names)
                last_id = page[-1][0]

    @staticmethod
    def _row(row: tuple[object, ...], with_message: bool, campaigns: dict[object, str]) -> OutboxRow:
        (_, key, state, attempts, code, error_class, error_message, provider, message_id, reference_id, route) = row[
            :11
        ]
        owner, created, updated, next_at, number, campaign = row[11:17]
        level, receipt_status, receipt_at, escalate_at, skip = row[17:22]
        error = None
        if code is not None:
            error = DeliveryError(
                code=str(code),
                message=str(error_message or ""),
                error_class=ErrorClass(str(error_class or ErrorClass.AMBIGUOUS.value)),
                provider=provider,  # type: ignore[arg-type]
            )
        message = None
        if with_message:
            try:
                message = decode_message(row[22])  # type: ignore[arg-type]
            except (msgspec.DecodeError, msgspec.ValidationError):
                message = None
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
            row_number=number,  # type: ignore[arg-type]
            campaign=campaigns.get(campaign),
            message=message,
            receipt_level=None if level is None else ReceiptLevel(level),  # type: ignore[arg-type]
            receipt_status=receipt_status,  # type: ignore[arg-type]
            receipt_at=_when(receipt_at),  # type: ignore[arg-type]
            escalate_at=_when(escalate_at) if state == "sent" else None,  # type: ignore[arg-type]
            skip=tuple(str(skip).split(",")) if skip else (),
        )

    def row_numbers(self, keys: Iterable[str]) -> dict[str, int]:
        """The input row number of each journalled key among ``keys`` (for reports)."""
        wanted = list(keys)
        found: dict[str, int] = {}
        with self._reader() as conn:
            for start in range(0, len(wanted), 500):
                part = wanted[start : start + 500]
                marks = ",".join("?" * len(part))
                query = f"SELECT idempotency_key, row_number FROM outbox WHERE idempotency_key IN ({marks})"
                found.update((key, number) for key, number in conn.execute(query, part) if number is not None)
        return found

    # --- writing -----------------------------------------------------------------

    def add(
        self,
        messages: Iterable[Message],
        *,
        chunk_size: int | None = None,
        campaign: str | None = None,
        escalate: Escalation | None = None,
        connection: Any = None,
    ) -> int:
        """Journal ``messages`` as ``pending`` without sending them; returns how
        many were new. A later :meth:`Orchestrator.resume` sends them. With
        ``campaign``, the rows join that campaign (created if new, and marked
        journalled once every message is in); with ``escalate``, each new row escalates on silence once accepted.
        ``chunk_size``: messages per transaction (default 2,000 on SQLite,
        10,000 on PostgreSQL, where a commit costs a round trip and a flush);
        the next chunk is read while the writer stores the last one.

        ``connection`` (PostgreSQL outbox only): the caller's own psycopg
        connection to the outbox's database. The rows are written in the
        caller's open transaction and nothing is committed here: committed,
        a relay (``broadcastio outbox relay``, :meth:`Orchestrator.awatch`)
        sends them; rolled back, nothing was journalled (the transactional outbox).
        """
        if escalate is not None and not isinstance(escalate, Escalation):
            raise ConfigurationError(f"Outbox.add(escalate=...) must be an Escalation, got {type(escalate).__name__}")
        timer = None if escalate is None else (escalate.seconds, escalate.level)
        if chunk_size is None:
            chunk_size = 10_000 if self.dialect == "postgres" else 2000
        if isinstance(chunk_size, bool) or not isinstance(chunk_size, int) or chunk_size < 1:
            raise ConfigurationError(f"Outbox.add(chunk_size=...) must be an int >= 1, got {chunk_size!r}")
        added = 0
        run: Any = self.writer.call
        if connection is not None:
            run = self._in_transaction_of(connection)
        campaign_id = run(open_campaign, campaign, self.now()) if campaign is not None else None
        chunk: list[tuple[int, Message]] = []
        stored: concurrent.futures.Future[tuple[int, list[Any]]] | None = None

        def flush() -> int:
            """Hand ``chunk`` to the writer; the count of the chunk before it (the writer keeps their order)."""
            nonlocal stored
            if connection is not None:
                return int(run(ingest_chunk, chunk, campaign_id, self.now(), timer)[0])
            previous, stored = stored, self.writer.post(ingest_chunk, chunk, campaign_id, self.now(), timer)
            return 0 if previous is None else previous.result()[0]

        for number, message in enumerate(messages, start=1):
            if not isinstance(message, Message):
                raise UsageError(f"Outbox.add takes Message objects, got {type(message).__name__}")
            chunk.append((number, message))
            if len(chunk) >= chunk_size:
                added += flush()
                chunk = []
        if chunk:
            added += flush()
        if stored is not None:
            added += stored.result()[0]
        if campaign_id is not None:  # the whole input is in: any runner can finish the campaign
            run(campaign_journalled, campaign_id, self.now())
        if added and self.dialect == "postgres":
            run(_postgres.notify)  # relays LISTENing wake up when the caller commits
        return added

    def _in_transaction_of(self, connection: Any) -> Any:
        """Run store jobs on the caller's psycopg connection, in its transaction (never committed here)."""
        if self.dialect != "postgres":
            raise ConfigurationError(
                "Outbox.add(connection=...) needs a PostgreSQL outbox (a postgresql:// DSN): "
                "a SQLite outbox journals through its own writer"
            )
        return _postgres.in_caller_transaction(connection, self.description)

    @contextlib.contextmanager
    def listening(self) -> Iterator[None]:
        """While inside (in a running event loop), a PostgreSQL commit of :meth:`add`
        wakes :meth:`Orchestrator.awatch` over this outbox at once (LISTEN/NOTIFY);
        without it the watcher sees new rows at its next poll. No-op on SQLite."""
        if self.dialect != "postgres":
            yield
            return
        self.news = asyncio.Event()
        listener = _postgres.Listener(self.url, self.news, asyncio.get_running_loop())
        listener.start()
        try:
            yield
        finally:
            listener.stop()
            self.news = None

    # --- operating a campaign (broadcastio.outbox._campaigns) ---------------------------

    def pause_campaign(self, name: str) -> CampaignChange:
        """Stop runs from claiming the rows of campaign ``name``; sends in flight finish. See ``_campaigns``."""
        from broadcastio.outbox import _campaigns

        return _campaigns.pause(self, name)

    def resume_campaign(self, name: str) -> CampaignChange:
        """Let runs claim the rows of a paused campaign again (it does not send them itself)."""
        from broadcastio.outbox import _campaigns

        return _campaigns.resume(self, name)

    def cancel_campaign(self, name: str) -> CampaignChange:
        """Make every unsent row of campaign ``name`` ``cancelled``; sends in flight keep their outcome."""
        from broadcastio.outbox import _campaigns

        return _campaigns.cancel(self, name)

    def campaign_report(self, name: str) -> CampaignReport:
        """Counts, rate, ETA, per-provider counts and flags of campaign ``name``."""
        from broadcastio.outbox import _campaigns

        return _campaigns.report(self, name)

    # --- lifecycle -----------------------------------------------------------------

    def close(self) -> None:
        """Finish pending writes and close the database; idempotent."""
        self._closed = True
        self._writer.close()
        if self._pool is not None:
            self._pool.close()
            self._pool = None

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
        if self.dialect == "postgres":
            return f"Outbox({self.description!r}, owner={self.owner!r})"
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

    def _connect_db(self) -> Db:
        return Db(self._connect(), "sqlite")

    def _reader(self) -> _Reader:
        if self._closed:
            raise UsageError("this Outbox is closed")
        return _Reader(self)


class _Reader:
    """A short-lived read connection: a new SQLite one (WAL lets it read while the
    writer writes), or one of the PostgreSQL pool's (autocommit: each query sees what is committed)."""

    def __init__(self, outbox: Outbox) -> None:
        self._outbox = outbox
        self._conn: Db | None = None
        self._lease: Any = None

    def __enter__(self) -> Db:
        pool = self._outbox._pool
        if pool is not None:
            lease = pool.connection(timeout=_postgres.READ_TIMEOUT_S)
            try:
                self._conn = Db(lease.__enter__(), "postgres")
            except Exception as exc:  # no connection within the timeout: the server is away
                raise self._failed(exc) from exc
            self._lease = lease
            return self._conn
        raw = sqlite3.connect(self._outbox.path, timeout=_BUSY_TIMEOUT_S, isolation_level=None, check_same_thread=False)
        self._conn = Db(raw, "sqlite")
        return self._conn

    def __exit__(self, *exc_info: Any) -> None:
        if self._lease is not None:
            self._lease.__exit__(*exc_info)
            error = exc_info[1]
            if error is not None and type(error).__module__.startswith("psycopg"):
                raise self._failed(error) from error
        elif self._conn is not None:
            self._conn.close()

    def _failed(self, exc: BaseException) -> OutboxError:
        return OutboxError(f"outbox {self._outbox.description}: cannot read: {type(exc).__name__}: {exc}")
