"""An outbox named on the command line: a SQLite file (a Path) or a PostgreSQL DSN (kept as the string).

One home for reading the name, opening it, showing it (a DSN without its
password) and reading row numbers back, so ``broadcast``, ``outbox ...``,
``receipts serve`` and ``campaign ...`` treat both stores alike.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import click

from broadcastio.outbox._postgres import describe, is_dsn

__all__ = ["JournalRows", "OutboxTarget", "as_target", "journal_rows", "open_outbox", "outbox_target", "shown"]

OutboxTarget = Path | str
"""A SQLite file, or a PostgreSQL DSN."""


def as_target(value: str | Path) -> OutboxTarget:
    """``value`` as a target: a DSN stays a string (a Path would fold its ``//``)."""
    text = str(value)
    return text if is_dsn(text) else Path(text)


def outbox_target(ctx: click.Context | None, param: click.Parameter | None, value: str | None) -> OutboxTarget | None:
    """A click callback: the ``--outbox`` or ``FILE|DSN`` value as a target."""
    return None if value is None else as_target(value)


def open_outbox(target: OutboxTarget, *, must_exist: bool) -> Any:
    """The outbox ``target`` names; a missing SQLite file is an error unless the command creates it."""
    from broadcastio.outbox import Outbox

    if isinstance(target, str):
        return Outbox(target)
    if must_exist and not target.is_file():
        raise click.BadParameter(f"no outbox at {target}", param_hint="FILE")
    return Outbox(target)


def shown(target: OutboxTarget) -> str:
    """The target as output shows it: a DSN without its password."""
    return describe(target) if isinstance(target, str) else str(target)


class JournalRows:
    """Row numbers from a SQLite journal itself (a journalled run holds no map in memory)."""

    def __init__(self, path: Path) -> None:
        self._conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30, check_same_thread=False)

    def pop(self, key: str | None) -> int | None:
        if key is None:
            return None
        found = self._conn.execute("SELECT row_number FROM outbox WHERE idempotency_key = ?", (key,)).fetchone()
        return None if found is None or found[0] is None else int(found[0])

    def close(self) -> None:
        self._conn.close()


class _OutboxRows(JournalRows):
    """Row numbers read through the outbox itself (any database)."""

    def __init__(self, box: Any) -> None:  # no SQLite connection of its own
        self._box = box

    def pop(self, key: str | None) -> int | None:
        if key is None:
            return None
        return self._box.row_numbers([key]).get(key)  # type: ignore[no-any-return]

    def close(self) -> None:
        pass


def journal_rows(target: OutboxTarget, box: Any) -> JournalRows:
    """The row-number reader for ``target``: SQLite's own read connection, or the outbox's readers."""
    return JournalRows(target) if isinstance(target, Path) else _OutboxRows(box)
