"""``broadcastio send``: one message, with its result and optionally its trace."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import cast

import click

from broadcastio import Attachment, DeliveryResult, Message, Metadata, Priority, Recipient, encode_result
from broadcastio.cli._common import (
    EXIT_FAILED,
    EXIT_OK,
    EXIT_UNKNOWN,
    CliState,
    config_option,
    consoles,
    handle_errors,
    open_orchestrator,
    run,
    split_via,
    via_option,
)
from broadcastio.cli._render import result_line, trace_table

__all__ = ["send"]


def _recipient(
    to: str | None,
    phone: str | None,
    email: str | None,
    telegram: str | None,
    address: tuple[str, ...],
    name: str | None,
) -> Recipient | str:
    extra: dict[str, str] = {}
    for item in address:
        channel, sep, value = item.partition("=")
        if not sep or not channel.strip() or not value.strip():
            raise click.BadParameter(f"expected CHANNEL=ADDRESS, got {item!r}", param_hint="--address")
        extra[channel.strip()] = value.strip()
    if to is not None:
        if phone or email or telegram or extra:
            raise click.UsageError("--to cannot be combined with --phone, --email, --telegram or --address")
        return to
    if not (phone or email or telegram or extra):
        raise click.UsageError("give an address: --phone, --email, --telegram, --address CHANNEL=ADDR or --to")
    return Recipient(phone=phone, email=email, telegram=telegram, addresses=extra, name=name)


def _exit_code(result: DeliveryResult) -> int:
    if result.ok:
        return EXIT_OK
    return EXIT_UNKNOWN if result.status == "unknown" else EXIT_FAILED


@click.command()
@config_option
@click.option("--to", help="A bare address used whatever the provider's channel.")
@click.option("--phone", help="Phone number (whatsapp and sms channels).")
@click.option("--email", help="Email address.")
@click.option("--telegram", help="Telegram chat id.")
@click.option("--address", multiple=True, metavar="CHANNEL=ADDR", help="Address for any channel (repeatable).")
@click.option("--name", help="Recipient's name.")
@click.option("--text", "-t", help="Message text; '-' reads it from standard input.")
@click.option("--subject", help="Subject (email).")
@click.option("--html", help="HTML body (email).")
@click.option(
    "--attach",
    multiple=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="File to attach (repeatable).",
)
@via_option
@click.option("--reference-id", help="Your own id for the message, echoed in the result.")
@click.option("--idempotency-key", help="Key that stops the message being delivered twice.")
@click.option("--priority", type=click.Choice(["low", "normal", "high"]), default="normal", show_default=True)
@click.option("--trace", is_flag=True, help="Show every attempt and skipped provider.")
@click.option("--json", "as_json", is_flag=True, help="Print the result (and trace) as JSON.")
@click.pass_obj
@handle_errors
def send(
    state: CliState,
    config_path: Path,
    to: str | None,
    phone: str | None,
    email: str | None,
    telegram: str | None,
    address: tuple[str, ...],
    name: str | None,
    text: str | None,
    subject: str | None,
    html: str | None,
    attach: tuple[Path, ...],
    via: tuple[str, ...],
    reference_id: str | None,
    idempotency_key: str | None,
    priority: str,
    trace: bool,
    as_json: bool,
) -> None:
    """Send one message through the configured providers.

    Exit status: 0 delivered, 1 failed, 2 configuration or usage error
    (nothing sent), 3 unknown (possibly delivered: an ambiguous failure).
    """
    recipient = _recipient(to, phone, email, telegram, address, name)
    if text == "-":
        text = sys.stdin.read()
    if text is None and html is None and not attach:
        raise click.UsageError("give --text, --html or --attach")
    level = cast(Priority, priority)
    if idempotency_key:
        metadata = Metadata(priority=level, reference_id=reference_id, idempotency_key=idempotency_key)
    else:
        metadata = Metadata(priority=level, reference_id=reference_id)
    message = Message(
        recipient=recipient,
        text=text or "",
        subject=subject,
        html=html,
        attachments=tuple(Attachment.from_path(path) for path in attach),
        metadata=metadata,
    )
    route = split_via(via)

    async def deliver() -> DeliveryResult:
        async with open_orchestrator(state, config_path) as orchestrator:
            return await orchestrator.asend(message, trace=trace, via=route)

    result = run(deliver())
    out, _ = consoles()
    if as_json:
        click.echo(encode_result(result).decode())
    elif result.ok:
        click.echo(result_line(result))
    if trace and not as_json and result.trace is not None:
        out.print(trace_table(result.trace))
    code = _exit_code(result)
    if code != EXIT_OK:
        if not as_json:
            click.echo(result_line(result), err=True)
        raise click.exceptions.Exit(code)
