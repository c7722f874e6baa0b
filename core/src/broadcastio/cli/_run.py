"""What the long-running commands share: signals, the campaign's summary, its exit status.

``broadcast`` and ``outbox resume`` install handlers for SIGINT and SIGTERM
while they deliver: the first signal stops taking new messages and lets the
attempts in flight finish within the grace period; a second one stops at
once. The summary is printed on every ending, with the exact command that
finishes the campaign when something is left.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import shlex
import signal
from pathlib import Path
from typing import Any

import click
from rich.console import Console

from broadcastio.cli._common import EXIT_FAILED, EXIT_OK, EXIT_UNKNOWN
from broadcastio.outbox import CampaignStatus, OutboxStatus, RunControl

__all__ = [
    "DEFAULT_GRACE",
    "EXIT_PENDING",
    "EXIT_SIGINT",
    "EXIT_SIGTERM",
    "Stopper",
    "deadline_option",
    "escalation_options",
    "grace_option",
    "journal_exit_code",
    "print_left",
]

EXIT_PENDING = 4
"""The campaign is not finished: some messages wait for a later attempt (or for another run)."""
EXIT_SIGINT = 130
"""Stopped by SIGINT (Ctrl-C): 128 + 2."""
EXIT_SIGTERM = 143
"""Stopped by SIGTERM (docker stop, systemd): 128 + 15."""
DEFAULT_GRACE = 10.0


def grace_option(func: Any) -> Any:
    return click.option(
        "--grace",
        type=click.FloatRange(min=0),
        default=DEFAULT_GRACE,
        show_default=True,
        help="Seconds the messages in flight may take to finish after SIGINT or SIGTERM.",
    )(func)


def deadline_option(func: Any) -> Any:
    return click.option(
        "--deadline",
        type=click.FloatRange(min=0),
        default=None,
        help="Seconds to keep retrying messages that failed transiently, within this run (default 900).",
    )(func)


_UNITS = {"s": 1, "m": 60, "h": 3600}


def _duration(ctx: click.Context, param: click.Parameter, value: str | None) -> dt.timedelta | None:
    """``10m``, ``90s``, ``2h`` or plain seconds."""
    if value is None:
        return None
    text = value.strip().lower()
    factor = _UNITS.get(text[-1:], 0)
    number = text[:-1] if factor else text
    try:
        seconds = float(number) * (factor or 1)
    except ValueError:
        raise click.BadParameter(f"{value!r} is not a duration such as 10m, 90s or 2h") from None
    if seconds <= 0:
        raise click.BadParameter(f"{value!r} must be more than 0")
    return dt.timedelta(seconds=seconds)


def escalation_options(func: Any) -> Any:
    """--escalate-after and --unless: send through the next provider when no receipt came in time."""
    func = click.option(
        "--unless",
        type=click.Choice(["delivered", "read"]),
        default="delivered",
        show_default=True,
        help="The receipt that cancels --escalate-after.",
    )(func)
    return click.option(
        "--escalate-after",
        "escalate_after",
        callback=_duration,
        default=None,
        metavar="DURATION",
        help="With --outbox: send through the next provider of the route when no --unless receipt "
        "arrived within this time (10m, 90s, 2h); needs `receipts serve --outbox` and a runner.",
    )(func)


def escalation(after: dt.timedelta | None, unless: str) -> Any:
    """The Escalation the options ask for, or None."""
    if after is None:
        return None
    from broadcastio import Escalation

    return Escalation(after=after, unless=unless)  # type: ignore[arg-type]


class Stopper:
    """SIGINT/SIGTERM handlers for one run: first signal stops gracefully, the second at once."""

    def __init__(self, grace: float, err: Console) -> None:
        self.control = RunControl()
        self.grace = grace
        self.err = err
        self.signal: int | None = None
        self._installed: list[int] = []

    def __enter__(self) -> Stopper:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            try:
                loop.add_signal_handler(sig, self._received, sig)
            except (NotImplementedError, RuntimeError, ValueError):  # not the main thread, or no signals here
                continue
            self._installed.append(sig)
        return self

    def __exit__(self, *exc_info: object) -> None:
        loop = asyncio.get_running_loop()
        for sig in self._installed:
            with contextlib.suppress(Exception):
                loop.remove_signal_handler(sig)

    def _received(self, sig: int) -> None:
        name = signal.Signals(sig).name
        if self.signal is None:
            self.signal = sig
            self.err.print(
                f"{name}: stopping; messages in flight may take up to {self.grace:g} s to finish "
                "(signal again to stop at once)",
                highlight=False,
            )
            self.control.stop(self.grace)
        else:
            self.err.print(f"{name}: stopping now", highlight=False)
            self.control.abort()

    @property
    def exit_code(self) -> int | None:
        if self.signal is None:
            return None
        return EXIT_SIGINT if self.signal == signal.SIGINT else EXIT_SIGTERM


def _when(epoch: float | None) -> str:
    if epoch is None:
        return "later"
    return dt.datetime.fromtimestamp(epoch, dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def resume_command(outbox_path: Path | str, config_path: Path | None, campaign: str | None) -> str:
    parts = ["broadcastio", "outbox", "resume", str(outbox_path)]
    if config_path is not None and str(config_path) != "broadcastio.toml":
        parts += ["--config", str(config_path)]
    if campaign is not None:
        parts += ["--campaign", campaign]
    return shlex.join(parts)


def print_left(
    counts: CampaignStatus | OutboxStatus,
    control: RunControl,
    *,
    outbox_path: Path | str,
    config_path: Path | None,
    campaign: str | None,
) -> None:
    """The campaign's standing on stderr, and how to finish it when something is left."""
    label = f"campaign {campaign}" if campaign else f"outbox {outbox_path}"
    left = counts.pending + counts.sending
    line = (
        f"{label}: {counts.total} messages, {counts.sent} sent, {counts.failed} failed, "
        f"{counts.unknown} unknown, {left} left"
    )
    if control.already_done:
        line += f" ({control.already_sent} already sent before this run)"
    click.echo(line, err=True)
    if isinstance(counts, CampaignStatus) and not counts.journalled:
        click.echo("the input was not fully journalled: run the same broadcast again to add the rest", err=True)
    if control.deferred:
        click.echo(
            f"{control.deferred} message(s) wait for their next attempt, the first at {_when(control.deferred_until)}",
            err=True,
        )
    if control.leased:
        click.echo(
            f"{control.leased} message(s) are held by another live run until {_when(control.leased_until)}",
            err=True,
        )
    if left:
        click.echo(f"to finish: {resume_command(outbox_path, config_path, campaign)}", err=True)
    if counts.unknown:
        click.echo(
            f"{counts.unknown} message(s) may have been delivered: "
            f"broadcastio outbox list {shlex.quote(str(outbox_path))} --status unknown",
            err=True,
        )


def journal_exit_code(counts: CampaignStatus | OutboxStatus, stopper: Stopper, error: BaseException | None) -> int:
    """130/143 after a signal, 2 after a configuration error, 4 while messages are
    left, 1 when any failed or was cancelled, 3 when any may have been delivered, else 0."""
    if stopper.exit_code is not None:
        return stopper.exit_code
    if error is not None:
        from broadcastio.cli._common import EXIT_USAGE

        return EXIT_USAGE
    if counts.pending or counts.sending:
        return EXIT_PENDING
    if counts.failed or counts.cancelled:  # a cancelled message was not delivered either
        return EXIT_FAILED
    if counts.unknown:
        return EXIT_UNKNOWN
    return EXIT_OK
