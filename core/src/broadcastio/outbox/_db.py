"""One connection surface for the journal's two databases, so its SQL is written once.

The store's statements use ``?`` positional placeholders and SQL that both
SQLite (3.40+) and PostgreSQL (15+) accept. :class:`Db` wraps a ``sqlite3``
connection or a psycopg (3) connection: ``execute`` and ``executemany``
return a cursor (``fetchone``, ``fetchall``, iteration, ``rowcount``), and
``dialect`` names the database for the few statements that must differ
(DDL, ``FOR UPDATE SKIP LOCKED`` claims, bulk ingest). For psycopg each
statement's ``?`` marks become ``%s`` once (cached), and a literal ``%``
is escaped.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Iterator, Sequence
from typing import Any, Literal, Protocol

__all__ = ["Cursor", "Db", "Dialect", "is_postgres", "to_pyformat"]

Dialect = Literal["sqlite", "postgres"]


class Cursor(Protocol):
    """What the store reads from a statement's result, on either database."""

    rowcount: int

    def fetchone(self) -> Any: ...

    def fetchall(self) -> list[Any]: ...

    def __iter__(self) -> Iterator[Any]: ...


@functools.lru_cache(maxsize=1024)
def to_pyformat(sql: str) -> str:
    """``?`` placeholders as psycopg's ``%s`` (the store's SQL has no ``?`` inside string literals)."""
    return sql.replace("%", "%%").replace("?", "%s")


def is_postgres(conn: object) -> bool:
    """Whether a job runs on PostgreSQL; a plain ``sqlite3.Connection`` (older callers, tests) counts as SQLite."""
    return getattr(conn, "dialect", "sqlite") == "postgres"


class Db:
    """A connection of either database, with the store's surface.

    ``raw`` is the wrapped ``sqlite3.Connection`` or ``psycopg.Connection``;
    transactions are the caller's business (the writer thread, or the
    application's own transaction for ``Outbox.add(connection=...)``).
    """

    __slots__ = ("dialect", "raw")

    def __init__(self, raw: Any, dialect: Dialect) -> None:
        self.raw = raw
        self.dialect: Dialect = dialect

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Cursor:
        if self.dialect == "postgres":
            cursor: Cursor = self.raw.execute(to_pyformat(sql), tuple(params))
            return cursor
        result: Cursor = self.raw.execute(sql, params)
        return result

    def executemany(self, sql: str, seq: Iterable[Sequence[Any]]) -> Cursor:
        """Run ``sql`` once per parameter tuple; ``rowcount`` is the total of rows changed."""
        if self.dialect == "postgres":
            params = list(seq)
            cursor = self.raw.cursor()
            if not params:  # psycopg would leave rowcount at -1
                return _Many(cursor, 0)
            cursor.executemany(to_pyformat(sql), params)
            return _Many(cursor, cursor.rowcount)
        result: Cursor = self.raw.executemany(sql, seq)
        return result

    def close(self) -> None:
        self.raw.close()


class _Many:
    """A psycopg cursor after ``executemany``: rowcount summed over every run."""

    def __init__(self, cursor: Any, rowcount: int) -> None:
        self._cursor = cursor
        self.rowcount = rowcount

    def fetchone(self) -> Any:
        return self._cursor.fetchone()

    def fetchall(self) -> list[Any]:
        rows: list[Any] = self._cursor.fetchall()
        return rows

    def __iter__(self) -> Iterator[Any]:
        return iter(self._cursor)
