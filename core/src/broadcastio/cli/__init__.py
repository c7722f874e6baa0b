"""The ``broadcastio`` command: send, broadcast, outbox, providers, config.

Needs the ``cli`` extra (``pip install 'broadcastio[cli]'``: click and rich).
Exit status of the sending commands: 0 delivered, 1 failed, 2 configuration
or usage error (nothing sent), 3 unknown (possibly delivered).
"""

from __future__ import annotations

import click

from broadcastio import __version__
from broadcastio.cli._broadcast import broadcast
from broadcastio.cli._common import EXIT_FAILED, EXIT_OK, EXIT_UNKNOWN, EXIT_USAGE, CliState
from broadcastio.cli._config import config
from broadcastio.cli._outbox import outbox
from broadcastio.cli._providers import providers
from broadcastio.cli._receipts import receipts
from broadcastio.cli._send import send
from broadcastio.logging import configure_logging

__all__ = ["EXIT_FAILED", "EXIT_OK", "EXIT_UNKNOWN", "EXIT_USAGE", "CliState", "cli", "main"]

_LEVELS = ("error", "info", "debug")


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="broadcastio")
@click.option("-v", "--verbose", count=True, help="Log deliveries (-v) and every attempt (-vv) on stderr.")
@click.option("--log-json/--log-console", default=None, help="Log format (default: console on a terminal, else JSON).")
@click.option("--reveal-addresses", is_flag=True, help="Log full phone numbers and email addresses.")
@click.pass_context
def cli(ctx: click.Context, verbose: int, log_json: bool | None, reveal_addresses: bool) -> None:
    """Deliver messages through the providers of broadcastio.toml."""
    state = ctx.ensure_object(CliState)
    state.reveal_addresses = reveal_addresses
    configure_logging(json=log_json, level=_LEVELS[min(verbose, 2)], reveal_addresses=reveal_addresses)


cli.add_command(send)
cli.add_command(broadcast)
cli.add_command(outbox)
cli.add_command(providers)
cli.add_command(config)
cli.add_command(receipts)


def main() -> None:
    """Entry point of the ``broadcastio`` script and ``python -m broadcastio``."""
    cli.main(prog_name="broadcastio")
