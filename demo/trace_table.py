"""A delivery trace as a rich table: every attempt, every skipped provider, and the outcome."""

from __future__ import annotations

from broadcastio import DeliveryResult
from rich.console import Group
from rich.table import Table
from rich.text import Text

__all__ = ["render_trace"]


def _outcome(ok: bool, code: str | None, error_class: str | None, message: str | None) -> Text:
    if ok:
        return Text("delivered", style="bold green")
    return Text(f"{code} ({error_class}): {message}", style="yellow" if error_class == "transient" else "red")


def render_trace(title: str, result: DeliveryResult) -> Group:
    """The table of ``result.trace`` (``send(..., trace=True)``) and a one-line verdict under it."""
    table = Table(title=f"{title}: trace (idempotency key {result.idempotency_key})", title_justify="left")
    table.add_column("#", justify="right")
    table.add_column("provider")
    table.add_column("attempt", justify="right")
    table.add_column("wait before", justify="right")
    table.add_column("duration", justify="right")
    table.add_column("outcome", overflow="fold")
    trace = result.trace
    if trace is not None:
        for index, attempt in enumerate(trace.attempts, 1):
            error = attempt.error
            table.add_row(
                str(index),
                f"{attempt.provider} ({attempt.channel})",
                str(attempt.number),
                f"{attempt.delay_before_ms:,.0f} ms",
                f"{attempt.duration_ms:,.1f} ms",
                _outcome(
                    attempt.ok,
                    error.code if error else None,
                    error.error_class.value if error else None,
                    error.message if error else None,
                ),
            )
        if trace.skipped:
            table.add_section()
        for skipped in trace.skipped:
            detail = f"skipped, {skipped.reason}" + (f": {skipped.detail}" if skipped.detail else "")
            table.add_row("", skipped.provider, "-", "-", "-", Text(detail, style="magenta"))
    if result.ok:
        verdict = Text.assemble(
            ("=> delivered by ", "bold"),
            (str(result.provider), "bold green"),
            f"  (channel {result.channel}, provider message id {result.provider_message_id})",
        )
    else:
        error = result.error
        verdict = Text.assemble((f"=> {result.status}", "bold red"), f": {error.code} {error.message}" if error else "")
    if trace is not None and trace.possibly_delivered:
        verdict.append("  (possibly delivered: an ambiguous failure happened)", style="yellow")
    return Group(table, verdict)
