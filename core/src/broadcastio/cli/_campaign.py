"""``broadcastio campaign start|status|pause|resume|cancel``: operate a journalled campaign.

``start`` journals the whole recipient file as one campaign, then runs it in
this process (``--workers local``: exactly ``broadcast --outbox --campaign``,
which this command invokes) or hands it to the campaign workers a plugin
registered (``--workers celery``) and, with ``--wait``, follows it until
nothing is left to send. The other commands act on the journal's rows and
flags (``Outbox.pause_campaign`` ...), so they work on any runner.
``--outbox`` is passed to :class:`~broadcastio.outbox.Outbox` as given (a
SQLite path; a ``postgresql://`` DSN where the outbox supports it).
"""

from __future__ import annotations

import json
import shlex
import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from types import FrameType
from typing import Any

import click
import msgspec
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn
from rich.table import Table

from broadcastio import Attachment, Message
from broadcastio._workers import LOCAL_WORKERS, CampaignWorkers, campaign_workers
from broadcastio.cli._broadcast import broadcast
from broadcastio.cli._common import (
    EXIT_FAILED,
    EXIT_OK,
    EXIT_UNKNOWN,
    EXIT_USAGE,
    CliState,
    config_given,
    consoles,
    handle_errors,
    split_via,
)
from broadcastio.cli._outbox import resume as outbox_resume
from broadcastio.cli._recipients import RecipientFile, Template, detect_format
from broadcastio.cli._render import Tally
from broadcastio.cli._run import EXIT_SIGINT, EXIT_SIGTERM, Stopper, escalation, journal_exit_code, print_left
from broadcastio.cli._target import as_target, shown
from broadcastio.outbox import CampaignChange, CampaignReport, Outbox, RunControl
from broadcastio.outbox._records import STATES

__all__ = ["campaign"]

OUTBOX_ENV = "BROADCASTIO_OUTBOX"
DEFAULT_CHUNK = 300
_START_OPTIONS = (
    "config_path",
    "recipients_path",
    "fmt",
    "text",
    "subject",
    "html",
    "attach",
    "via",
    "concurrency",
    "results_path",
    "deadline",
    "escalate_after",
    "unless",
    "grace",
    "trace",
    "as_json",
)
_RUN_OPTIONS = ("config_path", "via", "concurrency", "results_path", "deadline", "grace", "trace", "as_json")

_NAME = click.argument("name", metavar="ID")
_OUTBOX = click.option(
    "--outbox",
    "outbox_url",
    required=True,
    envvar=OUTBOX_ENV,
    metavar="URL",
    help=f"The outbox: a SQLite file (or a postgresql:// DSN where supported); default ${OUTBOX_ENV}.",
)
_JSON = click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")


def _share(command: click.Command, names: tuple[str, ...], into: click.Command) -> None:
    """Give ``into`` the options of ``command`` named ``names``: the same options, declared once."""
    into.params[:0] = [param for param in command.params if param.name in names]


def open_target(url: str, *, must_exist: bool) -> Outbox:
    """The outbox ``url`` names; a missing SQLite file is an error unless the command creates it."""
    target = as_target(url)
    if must_exist and isinstance(target, Path) and not target.is_file():
        raise click.BadParameter(f"no outbox at {url}", param_hint="--outbox")
    return Outbox(target)


def _finish_hint(name: str, url: str) -> str:
    return shlex.join(["broadcastio", "campaign", "status", name, "--outbox", shown(as_target(url))])


@click.group()
def campaign() -> None:
    """Start, follow, pause, resume or cancel a campaign journalled in an outbox."""


# --- status ------------------------------------------------------------------------------


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "unknown"
    whole = round(seconds)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}h{minutes:02d}m{secs:02d}s" if hours else f"{minutes}m{secs:02d}s" if minutes else f"{secs}s"


def _standing(report: CampaignReport) -> str:
    if report.cancelled_at is not None:
        return f"cancelled at {report.cancelled_at:%Y-%m-%d %H:%M:%S} UTC"
    if report.paused_at is not None:
        return f"paused since {report.paused_at:%Y-%m-%d %H:%M:%S} UTC"
    return "finished" if report.finished else "running"


def report_fields(report: CampaignReport) -> dict[str, Any]:
    """The report as JSON-ready fields, with the derived flags spelt out."""
    fields: dict[str, Any] = msgspec.to_builtins(report)
    status = report.status
    fields.update(
        paused=report.paused,
        cancelled=report.cancelled,
        journalled=report.journalled,
        finished=report.finished,
        to_send=report.to_send,
        done=status.done,
        left=status.left,
    )
    return fields


@campaign.command()
@_NAME
@_OUTBOX
@_JSON
@handle_errors
def status(name: str, outbox_url: str, as_json: bool) -> None:
    """Counts per state, rate, ETA, per-provider counts and flags of campaign ID.

    The rate counts messages attempted to an end in the last minute. Exit
    status 0, or 2 when the outbox or the campaign does not exist (the
    message names the campaigns it has).
    """
    box = open_target(outbox_url, must_exist=True)
    try:
        report = box.campaign_report(name)
    finally:
        box.close()
    if as_json:
        click.echo(json.dumps(report_fields(report)))
        return
    out, _ = consoles()
    counts = report.status
    rate = "unknown" if report.rate is None else f"{report.rate:.1f} msg/s"
    out.print(f"campaign {name}: {_standing(report)}", highlight=False)
    out.print(
        f"journalled: {'yes' if report.journalled else 'no'}; rate over the last minute: {rate}; "
        f"ETA: {_duration(report.eta_seconds)}",
        highlight=False,
    )
    table = Table(title="by state", title_justify="left")
    table.add_column("state")
    table.add_column("count", justify="right")
    for state in STATES:
        table.add_row(state, str(getattr(counts, state)))
    table.add_row("[bold]total[/bold]", str(counts.total))
    out.print(table)
    if report.providers:
        providers = Table(title="by provider", title_justify="left")
        providers.add_column("provider")
        for column in (*STATES, "total"):
            providers.add_column(column, justify="right")
        for item in report.providers:
            providers.add_row(item.provider, *(str(getattr(item, column)) for column in (*STATES, "total")))
        out.print(providers)
    if report.reasons:
        reasons = Table(title="why not sent", title_justify="left")
        for column in ("state", "class", "code", "count"):
            reasons.add_column(column, justify="right" if column == "count" else "left")
        for reason in report.reasons:
            reasons.add_row(reason.state, reason.error_class, reason.code, str(reason.count))
        out.print(reasons)


# --- pause, resume, cancel --------------------------------------------------------------


def _change(outbox_url: str, name: str, action: str) -> CampaignChange:
    box = open_target(outbox_url, must_exist=True)
    try:
        change: CampaignChange = getattr(box, f"{action}_campaign")(name)
    finally:
        box.close()
    return change


def _show(change: CampaignChange, as_json: bool) -> None:
    if as_json:
        click.echo(json.dumps(msgspec.to_builtins(change)))
    else:
        click.echo(change.detail, err=True)


@campaign.command()
@_NAME
@_OUTBOX
@_JSON
@handle_errors
def pause(name: str, outbox_url: str, as_json: bool) -> None:
    """Stop every runner from taking messages of campaign ID; those in flight finish.

    Its messages stay pending until `campaign resume`. A run of the campaign
    (broadcast, outbox resume, a worker) finishes its in-flight sends, gives
    back the rest and ends with exit status 4. Pausing a paused, finished or
    cancelled campaign changes nothing and says so. Exit status 0, or 2 when
    the campaign does not exist.
    """
    _show(_change(outbox_url, name, "pause"), as_json)


@campaign.command()
@_NAME
@_OUTBOX
@click.option("--run", "run_here", is_flag=True, help="Then send what is left in this process (`outbox resume`).")
@click.pass_context
@handle_errors
def resume(ctx: click.Context, name: str, outbox_url: str, run_here: bool, **options: Any) -> None:
    """Let runners take the messages of paused campaign ID again; with --run, send them here.

    Without --run, whoever runs the campaign continues (workers, `outbox
    resume`). With --run, this command then runs `outbox resume FILE
    --campaign ID` with the options given, and ends with its summary and
    exit status. Exit status 0, 1 when the campaign was cancelled (it cannot
    be resumed), 2 when it does not exist.
    """
    change = _change(outbox_url, name, "resume")
    _show(change, options["as_json"] and not run_here)
    if change.standing == "cancelled":
        raise click.exceptions.Exit(EXIT_FAILED)
    if run_here:
        ctx.invoke(outbox_resume, outbox_path=as_target(outbox_url), campaign=name, **options)


@campaign.command()
@_NAME
@_OUTBOX
@_JSON
@handle_errors
def cancel(name: str, outbox_url: str, as_json: bool) -> None:
    """Cancel campaign ID: every message not yet sent becomes `cancelled`, never sent.

    Messages being sent right now finish and keep their outcome; `unknown`
    ones stay unknown. Running campaign runs stop taking its messages and
    end. Cancelling again changes nothing (and settles what a stopped run
    left behind). Exit status 0, or 2 when the campaign does not exist.
    """
    _show(_change(outbox_url, name, "cancel"), as_json)


# --- start -------------------------------------------------------------------------------


def _worker_options(values: tuple[str, ...]) -> dict[str, str]:
    found = {}
    for value in values:
        key, sep, setting = value.partition("=")
        if not sep or not key.strip():
            raise click.BadParameter(f"{value!r} is not KEY=VALUE", param_hint="--worker-option")
        found[key.strip()] = setting
    return found


def _select_workers(state: CliState, name: str) -> CampaignWorkers | None:
    """None for ``local``; the registered workers of that name; a usage error listing the installed ones."""
    if name == LOCAL_WORKERS:
        return None
    registered = campaign_workers(state.plugin_manager_factory())
    if name not in registered:
        installed = ", ".join([LOCAL_WORKERS, *sorted(registered)])
        raise click.UsageError(f"unknown --workers {name!r}; installed: {installed}")
    return registered[name]


@campaign.command()
@_OUTBOX
@click.option("--campaign", "name", required=True, help="The campaign's name (ID); a rerun with it joins it.")
@click.option(
    "--workers",
    default=LOCAL_WORKERS,
    show_default=True,
    help="Where it runs: local (this process) or installed campaign workers (e.g. celery).",
)
@click.option(
    "--chunk-size",
    type=click.IntRange(min=1),
    default=DEFAULT_CHUNK,
    show_default=True,
    help="Rows per chunk handed to the workers.",
)
@click.option("--worker-option", "worker_options", multiple=True, metavar="KEY=VALUE", help="Passed to the workers.")
@click.option("--wait", is_flag=True, help="Follow the campaign until nothing is left to send (workers only).")
@click.option(
    "--poll", type=click.FloatRange(min=0.05), default=1.0, show_default=True, help="Seconds between looks (--wait)."
)
@click.pass_context
@handle_errors
def start(
    ctx: click.Context,
    outbox_url: str,
    name: str,
    workers: str,
    chunk_size: int,
    worker_options: tuple[str, ...],
    wait: bool,
    poll: float,
    **options: Any,
) -> None:
    """Journal the recipient file as campaign --campaign in --outbox, then run it.

    The whole file is journalled before the first send. --workers local
    runs it here, exactly as `broadcast --outbox --campaign` (progress bar,
    summary, signals). Other --workers hand the chunks to installed workers;
    --wait then follows the campaign (a progress bar on a terminal, a line
    per change otherwise) and prints the summary. SIGINT/SIGTERM while
    waiting stops waiting, not the workers: `campaign pause` or `cancel`
    stops them.

    Exit status as `broadcast`: 0 all delivered, 1 any failed or cancelled,
    2 usage or configuration error, 3 some possibly delivered, 4 messages
    left pending (a paused campaign too), 130/143 stopped by SIGINT/SIGTERM.
    """
    state: CliState = ctx.obj
    if options["text"] is None and options["html"] is None and not options["attach"]:
        raise click.UsageError("give --text, --html or --attach")
    chosen = _select_workers(state, workers)
    extra = _worker_options(worker_options)
    if chosen is None and (extra or wait):
        raise click.UsageError("--worker-option and --wait need --workers other than local (local always waits)")
    if chosen is not None and (options["results_path"] is not None or options["trace"]):
        raise click.UsageError("--results and --trace need --workers local: results stay with the workers")
    _refuse_cancelled(outbox_url, name)
    if chosen is None:
        _start_local(ctx, outbox_url, name, options)
        return
    _start_workers(ctx, chosen, outbox_url, name, chunk_size=chunk_size, extra=extra, wait=wait, poll=poll, **options)


def _refuse_cancelled(outbox_url: str, name: str) -> None:
    if isinstance(as_target(outbox_url), Path) and not Path(outbox_url).is_file():
        return
    box = Outbox(outbox_url)
    try:
        known = {item.name for item in box.campaigns()}
        report = box.campaign_report(name) if name in known else None
    finally:
        box.close()
    if report is not None and report.cancelled:
        raise click.UsageError(f"campaign {name} was cancelled; start it under another --campaign name")


def _after(outbox_url: str, name: str, code: int) -> int:
    """A cancelled campaign is not "all delivered"; a paused one says how to go on."""
    box = Outbox(outbox_url)
    try:
        report = box.campaign_report(name)
    finally:
        box.close()
    if report.cancelled:
        click.echo(f"campaign {name} was cancelled: {report.status.cancelled} message(s) not sent", err=True)
        if code in (EXIT_OK, EXIT_UNKNOWN):
            return EXIT_FAILED
    elif report.paused and report.to_send:
        command = shlex.join(["broadcastio", "campaign", "resume", name, "--outbox", shown(as_target(outbox_url))])
        click.echo(f"campaign {name} is paused; to go on: {command} (add --run to send here)", err=True)
    return code


def _start_local(ctx: click.Context, outbox_url: str, name: str, options: dict[str, Any]) -> None:
    code = EXIT_OK
    try:
        ctx.invoke(broadcast, outbox_path=as_target(outbox_url), campaign=name, dry_run=False, **options)
    except click.exceptions.Exit as exc:
        code = exc.exit_code
    if code in (EXIT_SIGINT, EXIT_SIGTERM, EXIT_USAGE):
        raise click.exceptions.Exit(code)
    code = _after(outbox_url, name, code)
    if code != EXIT_OK:
        raise click.exceptions.Exit(code)


def _messages(options: dict[str, Any]) -> tuple[RecipientFile, int]:
    """The recipient file as ``broadcast --outbox`` reads it (keys derived from the rows)."""
    path: Path = options["recipients_path"]
    recipients = RecipientFile(
        path,
        detect_format(path, options["fmt"]),
        text=Template("--text", options["text"]) if options["text"] is not None else None,
        subject=Template("--subject", options["subject"]) if options["subject"] is not None else None,
        html=Template("--html", options["html"]) if options["html"] is not None else None,
        attachments=tuple(Attachment.from_path(item) for item in options["attach"]),
        derive_keys=True,
    )
    return recipients, recipients.validate()


def _start_workers(
    ctx: click.Context,
    workers: CampaignWorkers,
    outbox_url: str,
    name: str,
    *,
    chunk_size: int,
    extra: dict[str, str],
    wait: bool,
    poll: float,
    **options: Any,
) -> None:
    started = time.monotonic()
    recipients, total = _messages(options)
    config_path: Path = options["config_path"]
    if config_given(ctx) and not config_path.is_file():
        raise click.BadParameter(f"no configuration file at {config_path}", param_hint="--config")
    route = split_via(options["via"])
    handed: dict[str, str] = {"concurrency": str(options["concurrency"])}
    if route:
        handed["via"] = ",".join(route)
    if options["deadline"] is not None:
        handed["deadline"] = str(options["deadline"])
    handed.update(extra)

    def messages() -> Iterator[Message]:
        for _, message in recipients.messages():
            yield message

    box = open_target(outbox_url, must_exist=False)
    try:
        added = box.add(messages(), campaign=name, escalate=escalation(options["escalate_after"], options["unless"]))
        chunks = workers.start(
            outbox_url,
            name,
            total_rows=total,
            chunk_size=chunk_size,
            config_path=str(config_path.resolve()) if config_path.is_file() else None,
            options=handed,
        )
        click.echo(
            f"campaign {name}: {total} messages journalled ({added} new); "
            f"{chunks} chunk(s) of up to {chunk_size} rows handed to {workers.name} workers",
            err=True,
        )
        if not wait:
            click.echo(f"follow it: {_finish_hint(name, outbox_url)}", err=True)
            return
        report, signalled = _follow(box, name, poll)
    finally:
        box.close()
    _summary(report, outbox_url, config_path, signalled=signalled, as_json=options["as_json"], started=started)


_share(outbox_resume, _RUN_OPTIONS, resume)
_share(broadcast, _START_OPTIONS, start)


class _Signals:
    """SIGINT/SIGTERM while following: stop waiting (the workers are not ours to stop)."""

    def __init__(self) -> None:
        self.received: int | None = None
        self.event = threading.Event()
        self._previous: dict[int, Any] = {}

    def _handle(self, sig: int, frame: FrameType | None) -> None:
        self.received = sig
        self.event.set()

    def __enter__(self) -> _Signals:
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM):
                self._previous[sig] = signal.signal(sig, self._handle)
        return self

    def __exit__(self, *exc_info: object) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)


def _line(report: CampaignReport) -> str:
    counts = report.status
    rate = "?" if report.rate is None else f"{report.rate:.1f}/s"
    return (
        f"campaign {report.name}: {counts.done + counts.unknown}/{counts.total} done, {counts.sent} sent, "
        f"{counts.failed} failed, {counts.unknown} unknown, {counts.cancelled} cancelled, {report.to_send} left; "
        f"{rate}, ETA {_duration(report.eta_seconds)}"
    )


def _follow(box: Outbox, name: str, poll: float) -> tuple[CampaignReport, int | None]:
    """Poll the campaign's report until nothing is left to send (or paused, or a signal)."""
    _, err = consoles()
    progress = Progress(
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[detail]}"),
        console=err,
        disable=not err.is_terminal,
    )
    last = ""
    with _Signals() as signals, progress:
        task = progress.add_task(f"campaign {name}", total=None, detail="")
        while True:
            report = box.campaign_report(name)
            counts = report.status
            progress.update(
                task,
                total=counts.total,
                completed=counts.done + counts.unknown,
                detail=f"{counts.sent} sent, {counts.failed} failed, {counts.unknown} unknown, "
                f"ETA {_duration(report.eta_seconds)}",
            )
            line = _line(report)
            if not err.is_terminal and line.split(";")[0] != last.split(";")[0]:
                click.echo(line, err=True)
            last = line
            if report.finished or (report.cancelled and not counts.sending):
                return report, None
            if report.paused and not counts.sending:
                return report, None
            if signals.event.wait(poll):
                return box.campaign_report(name), signals.received


def _summary(
    report: CampaignReport,
    outbox_url: str,
    config_path: Path,
    *,
    signalled: int | None,
    as_json: bool,
    started: float,
) -> None:
    """The same summary, standing and exit status as ``broadcast --outbox``, from the journal's counts."""
    out, err = consoles()
    counts = report.status
    tally = Tally(journalled=True)
    tally.started = started  # the summary's speed counts from the start of the command
    tally.delivered, tally.failed, tally.unknown, tally.pending = (
        counts.sent,
        counts.failed,
        counts.unknown,
        counts.pending + counts.sending,
    )
    for reason in report.reasons:
        tally.reasons[(reason.state, reason.error_class, reason.code)] += reason.count
    tally.campaign = {
        "name": report.name,
        "total": counts.total,
        "sent": counts.sent,
        "failed": counts.failed,
        "unknown": counts.unknown,
        "cancelled": counts.cancelled,
        "left": counts.pending + counts.sending,
    }
    stopper = Stopper(0.0, err)
    if signalled is not None:
        stopper.signal = signalled
        click.echo(
            f"{signal.Signals(signalled).name}: stopped waiting; the workers go on with campaign {report.name} "
            f"(follow: {_finish_hint(report.name, outbox_url)}; stop them: broadcastio campaign pause|cancel)",
            err=True,
        )
    if as_json:
        click.echo(json.dumps(tally.as_dict()))
    else:
        out.print(tally.table())
    print_left(
        counts, RunControl(), outbox_path=shown(as_target(outbox_url)), config_path=config_path, campaign=report.name
    )
    code = journal_exit_code(counts, stopper, None)
    if signalled is None:
        code = _after(outbox_url, report.name, code)
    if code != EXIT_OK:
        raise click.exceptions.Exit(code)
