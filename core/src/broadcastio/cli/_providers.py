"""``broadcastio providers``: installed plugins and configured providers with health."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click
from rich.table import Table

from broadcastio import BroadcastioError, PluginError, ProviderHealth
from broadcastio.cli._common import (
    EXIT_USAGE,
    CliState,
    config_given,
    config_option,
    consoles,
    handle_errors,
    open_orchestrator,
    run,
)
from broadcastio.config import load_config

__all__ = ["providers"]


def _error(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"


def _plugins_report(state: CliState) -> dict[str, Any]:
    manager = state.plugin_manager_factory()
    plugin_error = None
    try:
        types = manager.provider_types()
    except PluginError as exc:  # two plugins claim a type: still list what is installed
        types, plugin_error = {}, _error(exc)
    return {
        "plugins": [
            {"name": p.name, "version": p.version, "hooks": list(p.hooks), "provider_types": list(p.provider_types)}
            for p in manager.list_plugins()
        ],
        "failures": [{"name": f.name, "error": f.error} for f in manager.failures],
        "provider_types": [
            {"name": t.name, "channel": t.channel, "description": t.description} for t in types.values()
        ],
        "plugin_error": plugin_error,  # moved to the end by the command
    }


async def _configured(state: CliState, config_path: Path) -> list[dict[str, Any]]:
    config = load_config(config_path, env=state.env)
    async with open_orchestrator(state, config_path) as orchestrator:
        health: dict[str, ProviderHealth] = await orchestrator.ahealth()
        channels = {p.name: p.channel for p in orchestrator.providers}
    rows = []
    for provider in config.providers:
        found = health.get(provider.name)
        rows.append(
            {
                "name": provider.name,
                "type": provider.type,
                "channel": channels.get(provider.name),
                "enabled": provider.enabled,
                "healthy": None if found is None else found.healthy,
                "detail": None if found is None else found.detail,
                "latency_ms": None if found is None or found.latency_ms is None else round(found.latency_ms, 1),
            }
        )
    return rows


def _table(title: str, columns: list[str], rows: list[list[str]]) -> Table:
    table = Table(title=title, title_justify="left")
    for column in columns:
        table.add_column(column)
    for row in rows:
        table.add_row(*row)
    return table


@click.command(short_help="List plugins, provider types and configured providers with health.")
@config_option
@click.option("--json", "as_json", is_flag=True, help="Print everything as one JSON object.")
@click.pass_context
@handle_errors
def providers(ctx: click.Context, config_path: Path, as_json: bool) -> None:
    """List installed plugins and provider types, and the configured providers with live health.

    The configured providers are shown when the configuration file exists
    (it must, when --config is given explicitly). A configuration that cannot
    be loaded is reported (``config_error`` in JSON) after the plugin list,
    and the exit status is 2.
    """
    state: CliState = ctx.obj
    report = _plugins_report(state)
    report["configured"] = None
    config_error = None
    if config_given(ctx) or config_path.is_file():
        try:
            report["configured"] = run(_configured(state, config_path))
        except BroadcastioError as exc:  # the plugin list is what helps most now
            config_error = _error(exc)
        report["config"] = str(config_path)
    report["plugin_error"] = report.pop("plugin_error")
    report["config_error"] = config_error
    broken = report["config_error"] is not None or report["plugin_error"] is not None
    if as_json:
        click.echo(json.dumps(report))
        if broken:
            raise click.exceptions.Exit(EXIT_USAGE)
        return
    out, _ = consoles()
    out.print(
        _table(
            "installed plugins",
            ["plugin", "version", "provider types", "hooks"],
            [
                [
                    p["name"],
                    p["version"] or "-",
                    ", ".join(p["provider_types"]) or "-",
                    ", ".join(h.removeprefix("broadcastio_") for h in p["hooks"]),
                ]
                for p in report["plugins"]
            ],
        )
    )
    out.print(
        _table(
            "provider types",
            ["type", "channel", "description"],
            [[t["name"], t["channel"] or "-", t["description"]] for t in report["provider_types"]],
        )
    )
    if report["failures"]:
        out.print(
            _table(
                "plugins that failed to load",
                ["plugin", "error"],
                [[f["name"], f["error"]] for f in report["failures"]],
            )
        )
    for key in ("plugin_error", "config_error"):
        if report[key] is not None:
            click.echo(f"error: {report[key]}", err=True)
    if broken:
        raise click.exceptions.Exit(EXIT_USAGE)
    if report["configured"] is not None:
        rows = []
        for p in report["configured"]:
            if not p["enabled"]:
                status = "[dim]disabled[/dim]"
            else:
                status = "[green]healthy[/green]" if p["healthy"] else "[red]unhealthy[/red]"
            latency = "-" if p["latency_ms"] is None else f"{p['latency_ms']} ms"
            rows.append([p["name"], p["type"], p["channel"] or "-", status, latency, p["detail"] or ""])
        out.print(
            _table(
                f"configured providers ({config_path})",
                ["name", "type", "channel", "health", "latency", "detail"],
                rows,
            )
        )
