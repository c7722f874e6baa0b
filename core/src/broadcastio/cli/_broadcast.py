"""``broadcastio broadcast``: one templated message per row of a recipient file."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import click
from rich.console import Console

from broadcastio import Attachment, BroadcastioError, Message, NoHealthyProviderError
from broadcastio._scrub import scrub
from broadcastio.cli._common import (
    EXIT_FAILED,
    EXIT_OK,
    EXIT_USAGE,
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
from broadcastio.cli._recipients import RecipientFile, Template, detect_format
from broadcastio.cli._render import Tally
from broadcastio.cli._results import RowMap, consume, print_summary
from broadcastio.cli._run import (
    Stopper,
    deadline_option,
    escalation,
    escalation_options,
    grace_option,
    journal_exit_code,
    print_left,
)
from broadcastio.cli._target import OutboxTarget, journal_rows, open_outbox, outbox_target, shown

__all__ = ["broadcast", "results_option"]


def results_option(func: Any) -> Any:
    return click.option(
        "--results",
        "results_path",
        type=click.Path(dir_okay=False, writable=True, path_type=Path),
        help="Write every result as one JSON line to this file.",
    )(func)


@click.command()
@config_option
@click.option(
    "--recipients",
    "-r",
    "recipients_path",
    required=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="CSV or JSON lines file, one recipient per row.",
)
@click.option("--format", "fmt", type=click.Choice(["csv", "jsonl"]), help="File format (default: from the extension).")
@click.option("--text", "-t", help="Text template, e.g. 'Hi {name}, your code is {code}'.")
@click.option("--subject", help="Subject template (email).")
@click.option("--html", help="HTML template (email).")
@click.option(
    "--attach",
    multiple=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="File attached to every message (repeatable).",
)
@via_option
@concurrency_option
@results_option
@click.option(
    "--outbox",
    "outbox_path",
    metavar="FILE|DSN",
    callback=outbox_target,
    help="Journal every message in this outbox (a SQLite file or a postgresql:// DSN) first, "
    "so a stopped run can be resumed without duplicates.",
)
@click.option(
    "--campaign",
    help="Name of the campaign in the outbox (default: the recipient file's name); a rerun joins it.",
)
@deadline_option
@escalation_options
@grace_option
@click.option("--trace", is_flag=True, help="Include each message's trace in --results.")
@click.option("--dry-run", is_flag=True, help="Check every row and template, send nothing.")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
@click.pass_obj
@handle_errors
def broadcast(
    state: CliState,
    config_path: Path,
    recipients_path: Path,
    fmt: str | None,
    text: str | None,
    subject: str | None,
    html: str | None,
    attach: tuple[Path, ...],
    via: tuple[str, ...],
    concurrency: int,
    results_path: Path | None,
    outbox_path: OutboxTarget | None,
    campaign: str | None,
    deadline: float | None,
    escalate_after: Any,
    unless: str,
    grace: float,
    trace: bool,
    dry_run: bool,
    as_json: bool,
) -> None:
    """Send one message per recipient row.

    Columns phone, email, telegram and name make the recipient;
    address.<channel> columns add other channels; reference_id and
    idempotency_key columns go to the message metadata; every column is a
    template field. With --outbox, rows without an idempotency_key get one
    derived from the row, so running the same broadcast again sends nothing
    twice.

    With --outbox the whole file is journalled before the first send, as
    one campaign; messages that fail transiently are retried within the run
    (up to --deadline) and what is left stays pending for `outbox resume`.
    --escalate-after sends a message through the next provider of the route
    when no --unless receipt arrived in time (see `outbox watch`).
    SIGINT or SIGTERM stops taking new messages, lets those in flight finish
    (up to --grace seconds; a second signal stops at once), prints the
    summary and the command that finishes the campaign.

    Exit status: 0 all delivered, 1 any failed, 2 configuration, usage or
    recipient-file error (with --outbox, unsent messages stay pending), 3
    none failed but some possibly delivered (ambiguous), 4 messages left
    pending in the outbox, 130 stopped by SIGINT, 143 stopped by SIGTERM.
    """
    if text is None and html is None and not attach:
        raise click.UsageError("give --text, --html or --attach")
    if outbox_path is None and (campaign is not None or deadline is not None or escalate_after is not None):
        raise click.UsageError("--campaign, --deadline and --escalate-after need --outbox")
    recipients = RecipientFile(
        recipients_path,
        detect_format(recipients_path, fmt),
        text=Template("--text", text) if text is not None else None,
        subject=Template("--subject", subject) if subject is not None else None,
        html=Template("--html", html) if html is not None else None,
        attachments=tuple(Attachment.from_path(path) for path in attach),
        derive_keys=outbox_path is not None,
    )
    total = recipients.validate()
    out, err = consoles()
    route = split_via(via)
    if dry_run:
        _dry_run(state, config_path, recipients, total=total, route=route, err=err)
        return
    if outbox_path is not None:
        _journalled(
            state,
            config_path,
            recipients,
            outbox_path,
            campaign or recipients_path.name,
            total=total,
            route=route,
            options={
                "concurrency": concurrency,
                "trace": trace,
                "deadline": deadline,
                "escalate": escalation(escalate_after, unless),
            },
            grace=grace,
            results_path=results_path,
            as_json=as_json,
        )
        return
    rows = RowMap()

    def messages() -> Iterator[Message]:
        for number, message in recipients.messages():
            rows.add(message.metadata.idempotency_key, number)
            yield message

    tally = Tally()
    error: BroadcastioError | None = None

    async def go() -> Stopper:
        with Stopper(grace, err) as stopper:
            try:
                async with open_orchestrator(state, config_path) as orchestrator:
                    stream = orchestrator.abroadcast(
                        messages(), concurrency=concurrency, trace=trace, via=route, control=stopper.control
                    )
                    await consume(stream, total=total, results_path=results_path, rows=rows, err=err, tally=tally)
            except BroadcastioError as exc:
                if isinstance(exc, NoHealthyProviderError) or tally.total == 0:
                    raise
                nonlocal error
                error = exc
        return stopper

    stopper = run(go())
    print_summary(tally, as_json=as_json, out=out, results_path=results_path)
    code = stopper.exit_code or tally.exit_code
    if error is not None:
        click.echo(f"error: {type(error).__name__}: {error}", err=True)
        code = stopper.exit_code or EXIT_USAGE
    if code != EXIT_OK:
        raise click.exceptions.Exit(code)


def _journalled(
    state: CliState,
    config_path: Path,
    recipients: RecipientFile,
    outbox_path: OutboxTarget,
    campaign: str,
    *,
    total: int,
    route: list[str] | None,
    options: dict[str, Any],
    grace: float,
    results_path: Path | None,
    as_json: bool,
) -> None:
    """A broadcast through the outbox: journal the file as one campaign, deliver it, report what is left."""
    out, err = consoles()
    tally = Tally(journalled=True)
    error: BroadcastioError | None = None

    def messages() -> Iterator[Message]:
        for _, message in recipients.messages():
            yield message

    async def go() -> tuple[Stopper, Any]:
        box = open_outbox(outbox_path, must_exist=False)
        rows = journal_rows(outbox_path, box)
        try:
            with Stopper(grace, err) as stopper:
                try:
                    async with open_orchestrator(state, config_path) as orchestrator:
                        stream = orchestrator.abroadcast(
                            messages(), via=route, outbox=box, campaign=campaign, control=stopper.control, **options
                        )
                        await consume(stream, total=total, results_path=results_path, rows=rows, err=err, tally=tally)
                except BroadcastioError as exc:
                    if isinstance(exc, NoHealthyProviderError):
                        raise
                    nonlocal error
                    error = exc
            try:
                counts = box.campaign(campaign)
            except BroadcastioError:
                counts = box.status()
            return stopper, counts
        finally:
            rows.close()
            box.close()

    stopper, counts = run(go())
    control = stopper.control
    tally.already_sent = control.already_sent
    tally.campaign = {
        "name": campaign,
        "total": counts.total,
        "sent": counts.sent,
        "failed": counts.failed,
        "unknown": counts.unknown,
        "left": counts.pending + counts.sending,
    }
    print_summary(tally, as_json=as_json, out=out, results_path=results_path)
    print_left(counts, control, outbox_path=shown(outbox_path), config_path=config_path, campaign=campaign)
    if error is not None:
        click.echo(f"error: {type(error).__name__}: {error}", err=True)
    code = journal_exit_code(counts, stopper, error)
    if code != EXIT_OK:
        raise click.exceptions.Exit(code)


def _dry_run(
    state: CliState,
    config_path: Path,
    recipients: RecipientFile,
    *,
    total: int,
    route: list[str] | None,
    err: Console,
) -> None:
    """Run every provider's own checks on every row (``Orchestrator.preflight``); send nothing.

    A row some provider refuses is reported with its line and the (scrubbed)
    reason; a row no provider on the route would take exits 1, since the
    real broadcast would fail it.
    """

    async def check() -> tuple[int, int]:
        refused_rows = unsendable = 0
        async with open_orchestrator(state, config_path) as orchestrator:
            route_names = route or tuple(provider.name for provider in orchestrator.providers)
            for number, where, row in recipients.rows():
                message = recipients.message(number, where, row)
                refusals = orchestrator.preflight(message, via=route)
                if not refusals:
                    continue
                refused_rows += 1
                for error in refusals:
                    err.print(f"{where}: {error.provider} refuses it: {scrub(error.message)}", markup=False)
                reachable = {
                    provider.name
                    for provider in orchestrator.providers
                    if provider.name in route_names and message.address_for(provider.channel) is not None
                }
                if reachable <= {error.provider for error in refusals}:
                    unsendable += 1
        return refused_rows, unsendable

    refused_rows, unsendable = run(check())
    click.echo(
        f"{total} messages ready from {recipients.path}; {refused_rows} refused by a provider's checks, "
        f"{unsendable} by every provider that could take them; nothing sent (--dry-run)"
    )
    if unsendable:
        raise click.exceptions.Exit(EXIT_FAILED)
