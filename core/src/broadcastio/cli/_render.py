"""Rich tables and one-line summaries of results and traces."""

from __future__ import annotations

import collections
import time
from typing import Any

from rich.table import Table

from broadcastio import DeliveryError, DeliveryResult, DeliveryTrace
from broadcastio.cli._common import EXIT_FAILED, EXIT_OK, EXIT_UNKNOWN

__all__ = ["Tally", "describe_error", "result_line", "trace_table"]


def describe_error(error: DeliveryError | None) -> str:
    """``permanent invalid_recipient: the number is not on WhatsApp (wa)``."""
    if error is None:
        return "no error recorded"
    provider = f" ({error.provider})" if error.provider else ""
    return f"{error.error_class.value} {error.code}: {error.message}{provider}"


def result_line(result: DeliveryResult) -> str:
    """One line saying what happened to a message."""
    if result.ok:
        message_id = f" id={result.provider_message_id}" if result.provider_message_id else ""
        return f"delivered via {result.provider} ({result.channel}){message_id}"
    if result.status == "unknown":
        return f"unknown (possibly delivered): {describe_error(result.error)}"
    return f"failed: {describe_error(result.error)}"


def trace_table(trace: DeliveryTrace) -> Table:
    """Every attempt and skipped provider of one delivery, in order."""
    table = Table(title=f"trace {trace.idempotency_key}", title_justify="left")
    for column in ("#", "provider", "channel", "try", "waited ms", "took ms", "outcome"):
        table.add_column(column, justify="right" if column in ("#", "try", "waited ms", "took ms") else "left")
    for index, attempt in enumerate(trace.attempts, start=1):
        if attempt.ok:
            outcome = f"[green]ok[/green] {attempt.provider_message_id or ''}".rstrip()
        else:
            outcome = f"[red]{describe_error(attempt.error)}[/red]"
        table.add_row(
            str(index),
            attempt.provider,
            attempt.channel,
            str(attempt.number),
            f"{attempt.delay_before_ms:.1f}",
            f"{attempt.duration_ms:.1f}",
            outcome,
        )
    for skipped in trace.skipped:
        detail = f": {skipped.detail}" if skipped.detail else ""
        table.add_row("-", skipped.provider, "", "", "", "", f"[yellow]skipped {skipped.reason}{detail}[/yellow]")
    if trace.possibly_delivered:
        table.caption = "possibly delivered: an ambiguous failure may have reached the recipient"
    return table


class Tally:
    """Counts of a broadcast's results, by status and by failure reason.

    In a journalled run (``journalled=True``) a failed result with a
    transient error is *pending*: its row waits in the outbox for its next attempt.
    """

    def __init__(self, *, journalled: bool = False) -> None:
        self.started = time.monotonic()
        self.journalled = journalled
        self.delivered = 0
        self.failed = 0
        self.unknown = 0
        self.pending = 0
        self.already_sent = 0
        self.campaign: dict[str, Any] | None = None
        self.reasons: collections.Counter[tuple[str, str, str]] = collections.Counter()

    @property
    def total(self) -> int:
        return self.delivered + self.failed + self.unknown + self.pending

    def add(self, result: DeliveryResult) -> None:
        if result.ok:
            self.delivered += 1
            return
        error = result.error
        status: str = result.status
        if status == "unknown":
            self.unknown += 1
        elif self.journalled and error is not None and error.error_class.value == "transient":
            status = "pending"
            self.pending += 1
        else:
            self.failed += 1
        key = (status, error.error_class.value, error.code) if error else (status, "", "")
        self.reasons[key] += 1

    @property
    def exit_code(self) -> int:
        """1 when any failed, else 3 when any may have been delivered, else 0."""
        if self.failed:
            return EXIT_FAILED
        if self.unknown:
            return EXIT_UNKNOWN
        return EXIT_OK

    def as_dict(self) -> dict[str, Any]:
        elapsed = time.monotonic() - self.started
        summary: dict[str, Any] = {
            "total": self.total,
            "delivered": self.delivered,
            "failed": self.failed,
            "unknown": self.unknown,
        }
        if self.journalled:
            summary["pending"] = self.pending
            summary["already_sent"] = self.already_sent
        summary["reasons"] = [
            {"status": status, "class": error_class, "code": code, "count": count}
            for (status, error_class, code), count in self.reasons.most_common()
        ]
        summary["seconds"] = round(elapsed, 3)
        summary["per_second"] = round(self.total / elapsed, 1) if elapsed > 0 else None
        if self.campaign is not None:
            summary["campaign"] = self.campaign
        return summary

    def table(self) -> Table:
        summary = self.as_dict()
        table = Table(title="broadcast summary", title_justify="left")
        table.add_column("outcome")
        table.add_column("count", justify="right")
        table.add_row("[green]delivered[/green]", str(self.delivered))
        if self.already_sent:
            table.add_row("[green]  of which already sent before[/green]", str(self.already_sent))
        for reason in summary["reasons"]:
            colour = "red" if reason["status"] == "failed" else "yellow"
            label = f"{reason['status']}: {reason['class']} {reason['code']}".rstrip()
            table.add_row(f"[{colour}]{label}[/{colour}]", str(reason["count"]))
        table.add_row("[bold]total[/bold]", str(self.total))
        rate = f", {summary['per_second']} msg/s" if summary["per_second"] else ""
        table.caption = f"{summary['seconds']} s{rate}"
        return table
