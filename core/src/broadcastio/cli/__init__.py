"""The ``broadcastio`` command: send, broadcast, outbox, campaign, providers, config.

Needs the ``cli`` extra (click and rich; from the checkout: ``pip install
"./core[cli]"``). The ``broadcastio`` script enters through
:func:`broadcastio.__main__.main`, which says so when the extra is missing.
Exit status of the sending commands: 0 delivered, 1 failed, 2 configuration
or usage error, 3 unknown (possibly delivered), 4 messages left pending in
the outbox, 130/143 stopped by SIGINT/SIGTERM.
"""

from __future__ import annotations

from pathlib import Path

import click

from broadcastio.cli._broadcast import broadcast
from broadcastio.cli._campaign import campaign
from broadcastio.cli._common import EXIT_FAILED, EXIT_OK, EXIT_UNKNOWN, EXIT_USAGE, CliState
from broadcastio.cli._config import config
from broadcastio.cli._outbox import outbox
from broadcastio.cli._providers import providers
from broadcastio.cli._receipts import receipts
from broadcastio.cli._run import EXIT_PENDING, EXIT_SIGINT, EXIT_SIGTERM
from broadcastio.cli._send import send
from broadcastio.logs import configure

__all__ = [
    "EXIT_FAILED",
    "EXIT_OK",
    "EXIT_PENDING",
    "EXIT_SIGINT",
    "EXIT_SIGTERM",
    "EXIT_UNKNOWN",
    "EXIT_USAGE",
    "CliState",
    "cli",
    "main",
]

_LEVELS = ("error", "info", "debug")


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="broadcastio", prog_name="broadcastio")
@click.option(
    "-c",
    "--config",
    "config_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Configuration file, for every subcommand (also accepted after the subcommand).",
)
@click.option("-v", "--verbose", count=True, help="Log deliveries (-v) and every attempt (-vv) on stderr.")
@click.option("--log-json/--log-console", default=None, help="Log format (default: console on a terminal, else JSON).")
@click.option("--reveal-addresses", is_flag=True, help="Log full phone numbers and email addresses.")
@click.pass_context
def cli(
    ctx: click.Context, config_path: Path | None, verbose: int, log_json: bool | None, reveal_addresses: bool
) -> None:
    """Deliver messages through the providers of broadcastio.toml."""
    state = ctx.ensure_object(CliState)
    state.reveal_addresses = reveal_addresses
    state.config_path = config_path
    configure(json=log_json, level=_LEVELS[min(verbose, 2)], reveal_addresses=reveal_addresses)


cli.add_command(send)
cli.add_command(broadcast)
cli.add_command(outbox)
cli.add_command(campaign)
cli.add_command(providers)
cli.add_command(config)
cli.add_command(receipts)


def main() -> None:
    """Entry point of the ``broadcastio`` script and ``python -m broadcastio``."""
    cli.main(prog_name="broadcastio")
