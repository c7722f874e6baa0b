"""``broadcastio receipts serve``: the receipts app on its own, under uvicorn.

Needs the ``receipts`` extra (starlette and uvicorn). Binds 127.0.0.1 by
default: put a TLS-terminating proxy in front and give its address as
``--public-url`` (Twilio signs the URL it called). Each verified receipt is
printed on stdout as one line: provider, message id, status, outcome. With
``--outbox`` receipts are recorded in the outbox (matched to their rows,
driving fallback and cancelling escalations); without it, in memory.
"""

from __future__ import annotations

import os
import signal
from pathlib import Path
from types import FrameType
from typing import Any

import click

from broadcastio import ConfigurationError, load_config
from broadcastio.cli._common import CliState, config_option, handle_errors
from broadcastio.receipts import DEFAULT_MAX_BODY_BYTES, MemoryReceiptSink, Receipt, ReceiptSink, RecordOutcome

__all__ = ["receipts"]

DEFAULT_PORT = 8787


class _EchoingSink:
    """Records in ``inner`` and prints one line per receipt (ids and statuses only, no addresses)."""

    def __init__(self, inner: ReceiptSink) -> None:
        self.inner = inner

    async def record(self, receipt: Receipt) -> RecordOutcome:
        outcome = await self.inner.record(receipt)
        message = receipt.provider_message_id or receipt.idempotency_key or "-"
        click.echo(f"receipt {receipt.provider or receipt.provider_type} {message} {receipt.status} {outcome}")
        return outcome


@click.group()
def receipts() -> None:
    """Receive delivery receipts (status callbacks) from the providers."""


@receipts.command()
@config_option
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to bind.")
@click.option("--port", type=click.IntRange(1, 65535), default=DEFAULT_PORT, show_default=True, help="Port to bind.")
@click.option(
    "--public-url",
    default=None,
    help="The URL providers call (the proxy in front), e.g. https://hooks.example.com; Twilio signs it.",
)
@click.option(
    "--outbox",
    "outbox_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Record receipts in this outbox (default: in memory, for trying the endpoints out).",
)
@click.option(
    "--max-body-bytes",
    type=click.IntRange(min=1),
    default=DEFAULT_MAX_BODY_BYTES,
    show_default=True,
    help="Larger callbacks are refused with 413.",
)
@click.pass_obj
@handle_errors
def serve(
    state: CliState | None,
    config_path: Path,
    host: str,
    port: int,
    public_url: str | None,
    outbox_path: Path | None,
    max_body_bytes: int,
) -> None:
    """Serve the receipt endpoints of the configured providers.

    Each provider whose type has receipts gets /<name>/<path>: sms
    /NAME/status (Twilio), whatsapp-cloud /NAME/webhook (Meta), whatsapp
    /NAME/ack (node-whatsapp). Secrets come from the providers' settings.
    Stops on Ctrl-C or SIGTERM.
    """
    state = state or CliState()
    try:
        import uvicorn

        from broadcastio.receipts import receipts_app
        from broadcastio.receipts._app import receipt_endpoints
    except ImportError as exc:
        raise ConfigurationError(
            f"receipts serve needs the receipts extra: pip install 'broadcastio[receipts]' ({exc})"
        ) from None
    config = load_config(os.fspath(config_path), env=state.env)
    manager = state.plugin_manager_factory()
    endpoints: dict[str, dict[str, Any]] = {
        provider.name: {"type": provider.type, **provider.settings} for provider in config.providers if provider.enabled
    }
    sink: ReceiptSink = MemoryReceiptSink()
    box = None
    if outbox_path is not None:
        from broadcastio.cli._target import open_outbox

        box = open_outbox(outbox_path, must_exist=True)
        sink = box.receipt_sink()
    app = receipts_app(
        _EchoingSink(sink),
        endpoints,
        max_body_bytes=max_body_bytes,
        plugin_manager=manager,
        public_base_url=public_url,
    )
    registered = receipt_endpoints(manager)
    paths = [
        f"/{name}{endpoint.path}"
        for name, settings in endpoints.items()
        for endpoint in registered.get(settings["type"], ())
    ]
    if not paths:
        if box is not None:
            box.close()
        raise ConfigurationError(f"{config_path}: no configured provider has a receipt endpoint")
    base = (public_url or f"http://{host}:{port}").rstrip("/")
    click.echo(f"receipts: listening on http://{host}:{port} (public URL {base})", err=True)
    click.echo(f"receipts: recording in {outbox_path if box is not None else 'memory'}", err=True)
    for path in paths:
        click.echo(f"receipts: {base}{path}", err=True)
    server = uvicorn.Server(
        uvicorn.Config(app, host=host, port=port, log_level="warning", access_log=False, server_header=False)
    )
    # uvicorn stops gracefully on SIGINT/SIGTERM, then raises the signal again
    # for the handler that was there before: a no-op one makes that a clean exit 0.
    for stop in (signal.SIGINT, signal.SIGTERM):
        signal.signal(stop, _stopped)
    try:
        server.run()
    finally:
        if box is not None:
            box.close()


def _stopped(signum: int, frame: FrameType | None) -> None:
    """Nothing to do: the server has already shut down when this runs."""
