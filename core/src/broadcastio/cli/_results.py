"""Consuming a stream of results: progress bar, JSON lines file, tally, summary."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import IO, TYPE_CHECKING

import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from broadcastio import DeliveryResult, encode_result
from broadcastio._scrub import scrub_result
from broadcastio.cli._common import EXIT_USAGE, fail
from broadcastio.cli._render import Tally

if TYPE_CHECKING:
    from broadcastio.cli._target import JournalRows

__all__ = ["RowMap", "consume", "print_summary"]


class RowMap:
    """Which recipient row each in-flight idempotency key came from.

    Entries are removed as results arrive, so the map holds only messages in
    flight (or read ahead), never the whole broadcast.
    """

    def __init__(self) -> None:
        self._rows: dict[str, list[int]] = {}

    def add(self, key: str, row: int) -> None:
        self._rows.setdefault(key, []).append(row)

    def pop(self, key: str | None) -> int | None:
        if key is None or key not in self._rows:
            return None
        rows = self._rows[key]
        row = rows.pop(0)
        if not rows:
            del self._rows[key]
        return row


def _line(result: DeliveryResult, row: int | None) -> bytes:
    encoded = encode_result(scrub_result(result))  # results files get passed around: no secrets, no addresses
    if row is None:
        return encoded + b"\n"
    return b'{"row":' + str(row).encode() + b"," + encoded[1:] + b"\n"


async def consume(
    results: AsyncIterator[DeliveryResult],
    *,
    total: int | None,
    results_path: Path | None,
    rows: RowMap | JournalRows | None,
    err: Console,
    tally: Tally | None = None,
) -> Tally:
    """Drain ``results``: update the tally and progress, write each result line.

    Pass ``tally`` to keep the counts when the stream raises part way.
    """
    tally = tally if tally is not None else Tally()
    handle: IO[bytes] | None = None
    if results_path is not None:
        try:
            handle = results_path.open("wb")
        except OSError as exc:
            raise fail(f"error: cannot write results to {results_path}: {exc.strerror or exc}", EXIT_USAGE) from None
    progress = Progress(
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("[green]{task.fields[delivered]} ok[/green] [red]{task.fields[failed]} failed[/red]"),
        TimeRemainingColumn(),
        console=err,
        disable=not err.is_terminal,
    )
    try:
        with progress:
            task = progress.add_task("sending", total=total, delivered=0, failed=0)
            async for result in results:
                tally.add(result)
                row = rows.pop(result.idempotency_key) if rows is not None else None
                if handle is not None:
                    handle.write(_line(result, row))
                progress.update(task, advance=1, delivered=tally.delivered, failed=tally.failed + tally.unknown)
    finally:
        if handle is not None:
            handle.close()
    return tally


def print_summary(tally: Tally, *, as_json: bool, out: Console, results_path: Path | None) -> None:
    """The summary table on stdout (or one JSON object with ``--json``)."""
    if as_json:
        click.echo(json.dumps(tally.as_dict()))
    else:
        out.print(tally.table())
    undelivered = tally.failed + tally.unknown + tally.pending
    if undelivered and results_path is None:
        click.echo(f"{undelivered} message(s) not delivered; pass --results FILE to see which and why", err=True)
