"""What every command shares: state, exit codes, error reporting, options."""

from __future__ import annotations

import asyncio
import functools
import os
from collections.abc import Callable, Coroutine, Iterable, Mapping
from pathlib import Path
from typing import Any, TypeVar

import click
from rich.console import Console

from broadcastio import (
    BroadcastioError,
    ConfigurationError,
    InvalidMessageError,
    NoHealthyProviderError,
    Orchestrator,
    UsageError,
)
from broadcastio._scrub import scrub
from broadcastio.config import DEFAULT_CONFIG_FILE, build_orchestrator
from broadcastio.logs import LoggingHooks
from broadcastio.plugins import PluginManager, make_plugin_manager

__all__ = [
    "EXIT_FAILED",
    "EXIT_OK",
    "EXIT_UNKNOWN",
    "EXIT_USAGE",
    "CliState",
    "config_given",
    "config_option",
    "consoles",
    "fail",
    "handle_errors",
    "open_orchestrator",
    "run",
    "split_via",
]

EXIT_OK = 0
"""Everything was delivered (or the command succeeded)."""
EXIT_FAILED = 1
"""At least one message was not delivered."""
EXIT_USAGE = 2
"""Configuration or usage error: nothing was sent."""
EXIT_UNKNOWN = 3
"""Nothing failed for sure, but at least one message may or may not have been delivered."""

CONFIG_ENV = "BROADCASTIO_CONFIG"
T = TypeVar("T")


class CliState:
    """What the command group hands to its commands; tests build their own.

    :param plugin_manager_factory: builds the plugin manager (tests pass
        ``broadcastio.testing.isolated_plugin_manager``).
    :param env: where ``${VAR}`` in configuration files come from.
    """

    def __init__(
        self,
        *,
        plugin_manager_factory: Callable[[], PluginManager] = make_plugin_manager,
        env: Mapping[str, str] | None = None,
    ) -> None:
        self.plugin_manager_factory = plugin_manager_factory
        self.env = env
        self.reveal_addresses = False
        self.config_path: Path | None = None
        """``-c FILE`` given before the subcommand (one after it wins)."""


def consoles() -> tuple[Console, Console]:
    """(stdout, stderr) consoles, bound to the streams of this invocation."""
    return Console(), Console(stderr=True)


def fail(message: str, code: int = EXIT_USAGE) -> click.exceptions.Exit:
    """Print ``message`` on stderr and return the exit to raise."""
    click.echo(message, err=True)
    return click.exceptions.Exit(code)


def handle_errors(func: Callable[..., T]) -> Callable[..., T]:
    """Turn broadcastio's exceptions into a one-line message and an exit status."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> T:
        try:
            return func(*args, **kwargs)
        except NoHealthyProviderError as exc:
            raise fail(f"failed: {type(exc).__name__}: {scrub(str(exc))}", EXIT_FAILED) from None
        except (ConfigurationError, InvalidMessageError, UsageError) as exc:
            raise fail(f"error: {type(exc).__name__}: {scrub(str(exc))}", EXIT_USAGE) from None
        except BroadcastioError as exc:
            raise fail(f"error: {type(exc).__name__}: {scrub(str(exc))}", EXIT_USAGE) from None

    return wrapper


def run(coroutine: Coroutine[Any, Any, T]) -> T:
    """Run a command's async body on a fresh event loop."""
    return asyncio.run(coroutine)


_EXPLICIT = "broadcastio.config_explicit"


def _config_path(ctx: click.Context, param: click.Parameter, value: Path) -> Path:
    """``-c`` after the subcommand, else ``-c`` before it, else $BROADCASTIO_CONFIG, else the default."""
    source = ctx.get_parameter_source(param.name or "config_path")
    state = ctx.find_object(CliState)
    if source is not click.core.ParameterSource.COMMANDLINE and state is not None and state.config_path is not None:
        value, source = state.config_path, click.core.ParameterSource.COMMANDLINE
    ctx.meta[_EXPLICIT] = source is not click.core.ParameterSource.DEFAULT
    return value


def config_given(ctx: click.Context) -> bool:
    """Whether the configuration file was named (``-c`` before or after the subcommand, or the environment)."""
    return bool(ctx.meta.get(_EXPLICIT))


def config_option(func: Callable[..., Any]) -> Callable[..., Any]:
    """``--config FILE`` (default ``./broadcastio.toml`` or ``$BROADCASTIO_CONFIG``); the
    group's ``-c FILE``, given before the subcommand, counts too."""
    return click.option(
        "--config",
        "-c",
        "config_path",
        type=click.Path(dir_okay=False, path_type=Path),
        default=DEFAULT_CONFIG_FILE,
        envvar=CONFIG_ENV,
        show_default=True,
        callback=_config_path,
        help="Configuration file.",
    )(func)


DEFAULT_CONCURRENCY = 16
"""The command line's default: gentler on real services than the library's 64."""


def via_option(func: Callable[..., Any]) -> Callable[..., Any]:
    """``--via NAME`` (repeatable or comma-separated): providers to use, in order."""
    return click.option("--via", multiple=True, help="Providers to use, in order (repeatable or comma-separated).")(
        func
    )


def concurrency_option(func: Callable[..., Any]) -> Callable[..., Any]:
    """``--concurrency N``: messages in flight at once."""
    return click.option(
        "--concurrency",
        type=click.IntRange(min=1),
        default=DEFAULT_CONCURRENCY,
        show_default=True,
        help="Messages in flight at once.",
    )(func)


def split_via(values: Iterable[str]) -> list[str] | None:
    """``--via a --via b,c`` as ``["a", "b", "c"]``; None when not given."""
    names = [name.strip() for value in values for name in value.split(",") if name.strip()]
    return names or None


def open_orchestrator(state: CliState, config_path: Path) -> Orchestrator:
    """The orchestrator of a configuration file, with the logging hooks registered."""
    return build_orchestrator(
        os.fspath(config_path),
        plugin_manager=state.plugin_manager_factory(),
        hooks=[LoggingHooks(reveal_addresses=state.reveal_addresses)],
        env=state.env,
    )
