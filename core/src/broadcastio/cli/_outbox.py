"""``broadcastio outbox status|list|resume|watch|relay``: inspect, finish and keep moving a journalled broadcast.

Each command takes the outbox as a SQLite FILE or a PostgreSQL DSN (``postgresql://...``).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click
import msgspec
from rich.table import Table

from broadcastio import BroadcastioError, NoHealthyProviderError
from broadcastio.cli._broadcast import results_option
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
from broadcastio.cli._run import Stopper, deadline_option, grace_option, journal_exit_code, print_left
from broadcastio.cli._target import OutboxTarget, as_target, journal_rows, open_outbox, outbox_target, shown
from broadcastio.logs import mask_address
from broadcastio.outbox._records import STATES

__all__ = ["outbox"]


_FILE = click.argument("outbox_path", metavar="FILE|DSN", callback=outbox_target)


def _open_existing(target: OutboxTarget) -> Any:
    """The outbox a command names: an existing SQLite file, or a PostgreSQL database."""
    return open_outbox(target, must_exist=True)


def _campaign_option(func: Any) -> Any:
    return click.option("--campaign", help="Only this campaign of the outbox.")(func)


def _keep_moving_options(once: str, poll: str) -> Callable[[Any], Any]:
    """The options ``watch`` and ``relay`` share (both keep an outbox moving), with their own help."""

    def apply(func: Any) -> Any:
        for option in reversed(
            (
                config_option,
                via_option,
                concurrency_option,
                _campaign_option,
                grace_option,
                click.option("--once", is_flag=True, help=once),
                click.option("--poll", type=click.FloatRange(min=0.01), default=1.0, show_default=True, help=poll),
            )
        ):
            func = option(func)
        return func

    return apply


@click.group()
def outbox() -> None:
    """Inspect or resume a broadcast journalled with --outbox."""


@outbox.command()
@_FILE
@_campaign_option
@click.option("--json", "as_json", is_flag=True, help="Print the counts as JSON.")
@handle_errors
def status(outbox_path: OutboxTarget, campaign: str | None, as_json: bool) -> None:
    """Count the outbox's messages by state, and each campaign's.

    pending and sending rows are not finished; unknown rows may have been
    delivered. Exit status 0, or 2 when FILE is not an outbox.
    """
    box = _open_existing(outbox_path)
    try:
        counts: Any = box.campaign(campaign) if campaign is not None else box.status()
        campaigns = box.campaigns() if campaign is None else []
    finally:
        box.close()
    fields = msgspec.structs.asdict(counts)
    if as_json:
        if campaign is not None:
            fields = {"name": counts.name, **{key: fields[key] for key in (*STATES, "total")}}
            fields.update(journalled=counts.journalled, done=counts.done, left=counts.left)
        click.echo(json.dumps(fields))
        return
    out, _ = consoles()
    table = Table(title=str(shown(outbox_path)) + (f" campaign {campaign}" if campaign else ""), title_justify="left")
    table.add_column("state")
    table.add_column("count", justify="right")
    for state in (*STATES, "total"):
        table.add_row(state, str(fields[state]))
    out.print(table)
    if campaigns:
        listing = Table(title="campaigns", title_justify="left")
        for column in ("campaign", "total", "done", "left", "sent", "failed", "unknown", "journalled"):
            listing.add_column(column, justify="left" if column == "campaign" else "right")
        for item in campaigns:
            listing.add_row(
                item.name,
                *(str(value) for value in (item.total, item.done, item.left, item.sent, item.failed, item.unknown)),
                "yes" if item.journalled else "no",
            )
        out.print(listing)


@outbox.command(name="list")
@_FILE
@click.option(
    "--status",
    "states",
    multiple=True,
    type=click.Choice(STATES),
    help="Only rows in this state (repeatable); default: unknown, failed and pending.",
)
@_campaign_option
@click.option("--limit", type=click.IntRange(min=1), default=None, help="Show at most this many rows.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per row.")
@click.pass_obj
@handle_errors
def list_rows(
    state: CliState,
    outbox_path: OutboxTarget,
    states: tuple[str, ...],
    campaign: str | None,
    limit: int | None,
    as_json: bool,
) -> None:
    """List rows with their input row number, masked address, state and reason.

    Addresses are masked unless --reveal-addresses is given. Exit status 0,
    or 2 when FILE is not an outbox.
    """
    wanted = states or ("unknown", "failed", "pending")
    box = _open_existing(outbox_path)
    out, _ = consoles()
    table = Table(title=f"{shown(outbox_path)}: {', '.join(wanted)}", title_justify="left")
    for column in ("row", "key", "to", "state", "attempts", "next attempt", "receipt", "reason"):
        table.add_column(column, justify="right" if column in ("row", "attempts") else "left")
    listed = 0
    try:
        for row in box.rows(wanted, messages=True, campaign=campaign):
            if limit is not None and listed >= limit:
                break
            listed += 1
            to = _address(row.message, state.reveal_addresses)
            reason = (
                f"{row.last_error_class} {row.last_error_code}: {row.last_error_message}" if row.last_error_code else ""
            )
            when = row.next_attempt_at.strftime("%Y-%m-%d %H:%M:%S") if row.next_attempt_at else ""
            if as_json:
                record = {
                    "row": row.row_number,
                    "idempotency_key": row.idempotency_key,
                    "to": to,
                    "state": row.state,
                    "attempts": row.attempts,
                    "next_attempt_at": row.next_attempt_at.isoformat() if row.next_attempt_at else None,
                    "error_code": row.last_error_code,
                    "error_class": row.last_error_class,
                    "error_message": row.last_error_message,
                    "provider": row.provider,
                    "campaign": row.campaign,
                    "receipt_level": row.receipt_level.name.lower() if row.receipt_level is not None else None,
                    "receipt_status": row.receipt_status,
                    "receipt_at": row.receipt_at.isoformat() if row.receipt_at else None,
                    "escalate_at": row.escalate_at.isoformat() if row.escalate_at else None,
                    "skip": list(row.skip),
                }
                click.echo(json.dumps(record))
                continue
            receipt = _receipt(row)
            table.add_row(
                str(row.row_number or ""), row.idempotency_key, to, row.state, str(row.attempts), when, receipt, reason
            )
    finally:
        box.close()
    if not as_json:
        table.caption = f"{listed} row(s)"
        out.print(table)


def _receipt(row: Any) -> str:
    """The latest receipt of the row's provider, and its armed escalation."""
    text = ""
    if row.receipt_level is not None:
        text = f"{row.receipt_level.name.lower()} ({row.receipt_status})"
    if row.escalate_at is not None:
        text += (" " if text else "") + f"escalates {row.escalate_at.strftime('%H:%M:%S')}"
    return text


def _address(message: Any, reveal: bool) -> str:
    """The recipient's addresses, masked (a row that cannot be decoded shows none)."""
    if message is None:
        return "?"
    recipient = message.recipient
    if isinstance(recipient, str):
        addresses = [recipient]
    else:
        addresses = [a for a in (recipient.phone, recipient.email, recipient.telegram) if a]
        addresses += [a for a in recipient.addresses.values() if a not in addresses]
    return ", ".join(address if reveal else mask_address(address) for address in addresses)


@outbox.command()
@_FILE
@config_option
@via_option
@concurrency_option
@results_option
@_campaign_option
@deadline_option
@grace_option
@click.option("--trace", is_flag=True, help="Include each message's trace in --results.")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
@click.pass_obj
@handle_errors
def resume(
    state: CliState,
    outbox_path: OutboxTarget,
    config_path: Path,
    via: tuple[str, ...],
    concurrency: int,
    results_path: Path | None,
    campaign: str | None,
    deadline: float | None,
    grace: float,
    trace: bool,
    as_json: bool,
) -> None:
    """Finish what a stopped broadcast left in the outbox (all campaigns, or one).

    Pending messages are sent (those waiting after a transient failure when
    they fall due, within --deadline); rows of a run that was stopped or
    died are taken over (a dead process's leases at once); messages that may
    have been delivered are sent again only through idempotent providers.

    Exit status: 0 only when every message is delivered, 1 any failed, 2
    usage or configuration error, 3 some possibly delivered, 4 messages left
    (waiting for a later attempt or held by another live run: the message
    says how many and until when), 130/143 stopped by SIGINT/SIGTERM.
    """
    route = split_via(via)
    out, err = consoles()
    tally = Tally(journalled=True)
    error: BroadcastioError | None = None

    async def go() -> tuple[Stopper, Any]:
        box = _open_existing(outbox_path)
        rows = journal_rows(outbox_path, box)
        try:
            total = (box.campaign(campaign) if campaign is not None else box.status()).left
            with Stopper(grace, err) as stopper:
                try:
                    async with open_orchestrator(state, config_path) as orchestrator:
                        stream = orchestrator.aresume(
                            box,
                            concurrency=concurrency,
                            trace=trace,
                            via=route,
                            campaign=campaign,
                            deadline=deadline,
                            control=stopper.control,
                        )
                        await consume(stream, total=total, results_path=results_path, rows=rows, err=err, tally=tally)
                except BroadcastioError as exc:
                    if isinstance(exc, NoHealthyProviderError) or tally.total == 0:
                        raise
                    nonlocal error
                    error = exc
            return stopper, box.campaign(campaign) if campaign is not None else box.status()
        finally:
            rows.close()
            box.close()

    stopper, counts = run(go())
    print_summary(tally, as_json=as_json, out=out, results_path=results_path)
    print_left(counts, stopper.control, outbox_path=shown(outbox_path), config_path=config_path, campaign=campaign)
    if error is not None:
        click.echo(f"error: {type(error).__name__}: {error}", err=True)
    code = journal_exit_code(counts, stopper, error)
    if code != EXIT_OK:
        raise click.exceptions.Exit(code)


@outbox.command()
@_FILE
@_keep_moving_options(
    once="Process what is due now, then exit (for cron and tests).",
    poll="Seconds between looks at the outbox when nothing falls due sooner.",
)
@click.pass_obj
@handle_errors
def watch(
    state: CliState,
    outbox_path: OutboxTarget,
    config_path: Path,
    via: tuple[str, ...],
    concurrency: int,
    campaign: str | None,
    grace: float,
    once: bool,
    poll: float,
) -> None:
    """Keep the outbox moving: escalation timers, receipt-driven fallbacks, deferred rows.

    Fires the escalation timers that fall due (a message still not delivered
    in time goes to the next provider of its route), sends the messages a
    failed receipt put back (through the rest of their route) and those
    waiting after a transient failure. Runs until SIGINT or SIGTERM (the
    sends in flight finish within --grace), or one pass with --once. Several
    watchers may share one outbox: each row is claimed by one of them, and
    each escalation fires once. Prints one line per send (masked). Exit
    status 0, 2 on a usage or configuration error, 130/143 after a signal.
    """
    _keep_moving(state, outbox_path, config_path, via, concurrency, campaign, grace, once, poll, "watch")


def _keep_moving(
    state: CliState,
    outbox_path: OutboxTarget,
    config_path: Path,
    via: tuple[str, ...],
    concurrency: int,
    campaign: str | None,
    grace: float,
    once: bool,
    poll: float,
    name: str,
) -> None:
    """The watcher's loop, for ``watch`` and ``relay``: until a signal (or one pass)."""
    route = split_via(via)
    _, err = consoles()

    async def go() -> Stopper:
        box = _open_existing(outbox_path)
        try:
            with Stopper(grace, err) as stopper:
                async with open_orchestrator(state, config_path) as orchestrator:
                    click.echo(f"{name}: {shown(outbox_path)}" + (" (once)" if once else ""), err=True)
                    with _woken_by_commits(box):
                        async for result in orchestrator.awatch(
                            box,
                            concurrency=concurrency,
                            via=route,
                            campaign=campaign,
                            control=stopper.control,
                            once=once,
                            poll=poll,
                        ):
                            reason = f" {result.error.code}" if result.error is not None else ""
                            click.echo(
                                f"sent {result.idempotency_key} via {result.provider or '-'}: {result.status}{reason}"
                            )
            return stopper
        finally:
            box.close()

    stopper = run(go())
    if stopper.exit_code is not None:
        raise click.exceptions.Exit(stopper.exit_code)


def _woken_by_commits(box: Any) -> Any:
    """On PostgreSQL, LISTEN for ``Outbox.add`` commits so the next pass starts at once."""
    import contextlib

    if getattr(box, "dialect", "sqlite") != "postgres":
        return contextlib.nullcontext()
    return box.listening()


@outbox.command()
@click.argument("outbox_path", metavar="[DSN]", required=False, callback=outbox_target)
@_keep_moving_options(
    once="Send what is committed and due now, then exit (cron, Celery beat).",
    poll="Seconds between looks at the outbox when no commit wakes the relay sooner.",
)
@click.pass_obj
@handle_errors
def relay(
    state: CliState,
    outbox_path: OutboxTarget | None,
    config_path: Path,
    via: tuple[str, ...],
    concurrency: int,
    campaign: str | None,
    grace: float,
    once: bool,
    poll: float,
) -> None:
    """Send what applications committed with Outbox.add(connection=...): the transactional outbox's relay.

    DSN is the PostgreSQL outbox (postgresql://...); without it, the url of
    the configuration's [outbox] table (keep a password out of the command
    line: url = "${OUTBOX_URL}"). The relay is the outbox
    watcher over that database: every committed row is sent with every
    outbox guarantee (claimed with a lease, so several relays may run;
    journalled before and after each attempt; a relay killed mid-send
    leaves its row unknown, resent only through idempotent providers). An
    Outbox.add commit wakes it at once (LISTEN/NOTIFY); --poll is the
    fallback. Runs until SIGINT or SIGTERM (the sends in flight finish
    within --grace), or one pass with --once. Exit status 0, 2 on a usage
    or configuration error, 130/143 after a signal.
    """
    target = outbox_path if outbox_path is not None else _configured_outbox(state, config_path)
    _keep_moving(state, target, config_path, via, concurrency, campaign, grace, once, poll, "relay")


def _configured_outbox(state: CliState, config_path: Path) -> OutboxTarget:
    """The ``[outbox] url`` of the configuration file."""
    from broadcastio.config import load_config

    settings = load_config(config_path, env=state.env).outbox
    if settings is None:
        raise click.UsageError(f"give the outbox DSN, or an [outbox] url in {config_path}")
    return as_target(settings.url)
