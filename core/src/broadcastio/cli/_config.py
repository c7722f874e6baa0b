"""``broadcastio config check|show``: validate and inspect configuration files."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import click
import msgspec

from broadcastio._scrub import MASK
from broadcastio.cli._common import CONFIG_ENV, CliState, handle_errors, open_orchestrator, run
from broadcastio.config import DEFAULT_CONFIG_FILE, Config, load_config
from broadcastio.plugins import PluginManager

__all__ = ["config", "describe"]


CONFIG_FILE = click.argument(
    "config_file", metavar="[FILE]", type=click.Path(dir_okay=False, path_type=Path), default=None
)


def _file(state: CliState, config_file: Path | None) -> Path:
    """FILE when given, else the group's ``-c FILE`` (given before ``config``), else ``$BROADCASTIO_CONFIG``
    or ``./broadcastio.toml``."""
    if config_file is not None:
        return config_file
    if state.config_path is not None:
        return state.config_path
    from_env = (state.env or {}).get(CONFIG_ENV) or os.environ.get(CONFIG_ENV)
    return Path(from_env) if from_env else Path(DEFAULT_CONFIG_FILE)


@click.group()
def config() -> None:
    """Work with configuration files."""


@config.command()
@CONFIG_FILE
@click.pass_obj
@handle_errors
def check(state: CliState, config_file: Path | None) -> None:
    """Validate a configuration file and build its providers (nothing is sent).

    Says which line is wrong. Exit status 0 when valid, 2 when not.
    """
    config_file = _file(state, config_file)
    loaded = load_config(config_file, env=state.env)

    async def build() -> None:
        async with open_orchestrator(state, config_file):
            pass

    run(build())
    enabled = [f"{p.name} ({p.type})" for p in loaded.providers if p.enabled]
    disabled = [p.name for p in loaded.providers if not p.enabled]
    note = f"; disabled: {', '.join(disabled)}" if disabled else ""
    click.echo(f"{config_file}: OK, {len(enabled)} provider(s) in fallback order: {', '.join(enabled)}{note}")


_SECRET_NAME = re.compile(r"(authorization|token|secret|password|passwd|api[_-]?key|apikey|credential)", re.IGNORECASE)


def secret_fields_by_type(manager: PluginManager) -> dict[str, tuple[str, ...]]:
    """Each registered provider type's declared ``secret_fields`` (read off its factory, the class)."""
    found: dict[str, tuple[str, ...]] = {}
    for name, record in manager.provider_types().items():
        fields = getattr(record.factory, "secret_fields", ())
        found[name] = (
            tuple(field for field in fields if isinstance(field, str)) if isinstance(fields, tuple | list) else ()
        )
    return found


def _mask_secrets(value: Any, declared: tuple[str, ...], top: bool = True) -> Any:
    """Mask declared secret settings, and any key named like a secret (an Authorization header), at any depth."""
    if isinstance(value, dict):
        return {
            key: MASK
            if (top and key in declared) or (_SECRET_NAME.search(str(key)) and item not in (None, "", MASK))
            else _mask_secrets(item, declared, top=False)
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [_mask_secrets(item, declared, top=False) for item in value]
    return value


def describe(loaded: Config, secret_fields: Mapping[str, tuple[str, ...]] | None = None) -> dict[str, Any]:
    """The configuration as plain data, defaults filled in, secrets masked.

    Values taken from the environment, the settings each provider type
    declares secret (``secret_fields``, whether written literally or as
    ``${VAR}``) and keys named like secrets are shown as ``***``.
    """
    declared = secret_fields or {}

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
                "settings": _mask_secrets(p.masked_settings(), declared.get(p.type, ())),
            }
            for p in loaded.providers
        ],
    }


@config.command()
@CONFIG_FILE
@click.pass_obj
@handle_errors
def show(state: CliState, config_file: Path | None) -> None:
    """Print the configuration as broadcastio reads it, as JSON.

    Policies show every field (defaults filled in); values taken from the
    environment and every setting a provider declares secret are masked. A
    section left out shows as null: the Orchestrator's default applies.
    """
    config_file = _file(state, config_file)
    loaded = load_config(config_file, env=state.env)
    secrets = secret_fields_by_type(state.plugin_manager_factory())
    click.echo(json.dumps(describe(loaded, secrets), indent=2, default=str))
