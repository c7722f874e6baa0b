"""``broadcastio outbox status|resume``: inspect and finish a journalled broadcast."""

from __future__ import annotations

import json
from pathlib import Path

import click
import msgspec
from rich.table import Table

from broadcastio.cli._broadcast import open_outbox, results_option
from broadcastio.cli._common import (
    EXIT_OK,
    CliState,
    concurrency_option,
    config_option,
    consoles,
    handle_errors,
    open_orchestrator,
    run,
    split_via,
    via_option,
)
from broadcastio.cli._render import Tally
from broadcastio.cli._results import consume, print_summary

__all__ = ["outbox"]

_FILE = click.argument("outbox_path", metavar="FILE", type=click.Path(dir_okay=False, path_type=Path))


@click.group()
def outbox() -> None:
    """Inspect or resume a broadcast journalled with --outbox."""


@outbox.command()
@_FILE
@click.option("--json", "as_json", is_flag=True, help="Print the counts as JSON.")
@handle_errors
def status(outbox_path: Path, as_json: bool) -> None:
    """Count the outbox's messages by state.

    pending and sending rows are not finished; unknown rows may have been
    delivered. Exit status 0, or 2 when FILE is not an outbox.
    """
    box = open_outbox(outbox_path, must_exist=True)
    try:
        counts = box.status()
    finally:
        box.close()
    fields = msgspec.structs.asdict(counts)
    if as_json:
        click.echo(json.dumps(fields))
        return
    out, _ = consoles()
    table = Table(title=str(outbox_path), title_justify="left")
    table.add_column("state")
    table.add_column("count", justify="right")
    for state in ("pending", "sending", "sent", "failed", "unknown", "total"):
        table.add_row(state, str(fields[state]))
    out.print(table)


@outbox.command()
@_FILE
@config_option
@via_option
@concurrency_option
@results_option
@click.option("--trace", is_flag=True, help="Include each message's trace in --results.")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
@click.pass_obj
@handle_errors
def resume(
    state: CliState,
    outbox_path: Path,
    config_path: Path,
    via: tuple[str, ...],
    concurrency: int,
    results_path: Path | None,
    trace: bool,
    as_json: bool,
) -> None:
    """Finish what a stopped broadcast left in the outbox.

    Pending messages are sent; messages that may have been delivered are
    sent again only through idempotent providers. Exit status as for
    broadcast: 0, 1 any failed, 2 usage error, 3 some possibly delivered.
    """
    route = split_via(via)
    out, err = consoles()

    async def go() -> Tally:
        box = open_outbox(outbox_path, must_exist=True)
        try:
            total = box.status().open
            async with open_orchestrator(state, config_path) as orchestrator:
                stream = orchestrator.aresume(box, concurrency=concurrency, trace=trace, via=route)
                return await consume(stream, total=total, results_path=results_path, rows=None, err=err)
        finally:
            box.close()

    tally = run(go())
    print_summary(tally, as_json=as_json, out=out, results_path=results_path)
    if tally.exit_code != EXIT_OK:
        raise click.exceptions.Exit(tally.exit_code)
