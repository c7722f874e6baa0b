"""``broadcastio config check|show``: validate and inspect configuration files."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click
import msgspec

from broadcastio.cli._common import CliState, handle_errors, open_orchestrator, run
from broadcastio.config import DEFAULT_CONFIG_FILE, Config, load_config

__all__ = ["config", "describe"]


CONFIG_FILE = click.argument(
    "config_file", metavar="FILE", type=click.Path(dir_okay=False, path_type=Path), default=DEFAULT_CONFIG_FILE
)


@click.group()
def config() -> None:
    """Work with configuration files."""


@config.command()
@CONFIG_FILE
@click.pass_obj
@handle_errors
def check(state: CliState, config_file: Path) -> None:
    """Validate a configuration file and build its providers (nothing is sent).

    Says which line is wrong. Exit status 0 when valid, 2 when not.
    """
    loaded = load_config(config_file, env=state.env)

    async def build() -> None:
        async with open_orchestrator(state, config_file):
            pass

    run(build())
    enabled = [f"{p.name} ({p.type})" for p in loaded.providers if p.enabled]
    disabled = [p.name for p in loaded.providers if not p.enabled]
    note = f"; disabled: {', '.join(disabled)}" if disabled else ""
    click.echo(f"{config_file}: OK, {len(enabled)} provider(s) in fallback order: {', '.join(enabled)}{note}")


def describe(loaded: Config) -> dict[str, Any]:
    """The configuration as plain data, defaults filled in, environment values masked."""

    def policy(value: Any) -> Any:
        return None if value is None else msgspec.to_builtins(value)

    return {
        "source": loaded.source,
        "orchestrator": {"fallback_on_ambiguous": loaded.fallback_on_ambiguous},
        "retry": policy(loaded.retry),
        "breaker": policy(loaded.breaker),
        "health": policy(loaded.health),
        "providers": [
            {
                "name": p.name,
                "type": p.type,
                "enabled": p.enabled,
                "retry": policy(p.retry),
                "rate_limit": policy(p.rate_limit),
                "settings": p.masked_settings(),
            }
            for p in loaded.providers
        ],
    }


@config.command()
@CONFIG_FILE
@click.pass_obj
@handle_errors
def show(state: CliState, config_file: Path) -> None:
    """Print the configuration as broadcastio reads it, as JSON.

    Policies show every field (defaults filled in); values taken from the
    environment are masked. A section left out shows as null: the
    Orchestrator's default applies.
    """
    click.echo(json.dumps(describe(load_config(config_file, env=state.env)), indent=2, default=str))
