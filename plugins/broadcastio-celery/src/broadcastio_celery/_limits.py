"""Limits shared by every worker of a campaign (a Coordinator through Redis).

The one place that knows where a worker's coordinator comes from: the
``redis`` coordinator type that broadcastio-redis registers, built through
the plugin manager like any plugin's type (plugins never import one
another). Asking for shared limits without it installed is a configuration
error, never a silent per-process limit.
"""

from __future__ import annotations

from typing import Any

from broadcastio.plugins import PluginManager

__all__ = ["coordinator_arguments"]

_TYPE = "redis"
"""The coordinator type broadcastio-redis registers."""


def coordinator_arguments(limits_url: str | None, namespace: str, manager: PluginManager) -> dict[str, Any]:
    """Keyword arguments for ``build_orchestrator``: none without ``limits_url``,
    else a ``coordinator`` that shares rate limits, ``max_in_flight`` and
    breakers with every process using ``namespace`` (one campaign)."""
    if limits_url is None:
        return {}
    return {"coordinator": manager.create_coordinator(_TYPE, url=limits_url, namespace=namespace)}
