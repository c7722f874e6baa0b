"""Limits shared by every worker of a campaign (contract 4: a Coordinator through Redis).

The one place that knows where a coordinator comes from: broadcastio-redis's
``RedisCoordinator``, found through the ``broadcastio`` entry point group
like any plugin (plugins never import one another directly). While core's
``build_orchestrator`` has no ``coordinator=`` yet, asking for shared limits
is a configuration error rather than a silent per-process limit.
"""

from __future__ import annotations

import importlib.metadata
import inspect
from typing import Any

from broadcastio import ConfigurationError, build_orchestrator

__all__ = ["coordinator_arguments"]

_PLUGIN = "redis"
"""The entry point name of broadcastio-redis in the ``broadcastio`` group."""


def coordinator_arguments(limits_url: str | None, namespace: str) -> dict[str, Any]:
    """Keyword arguments for ``build_orchestrator``: none without ``limits_url``,
    else a ``coordinator`` that shares rate limits, ``max_in_flight`` and
    breakers with every process using ``namespace`` (one campaign)."""
    if limits_url is None:
        return {}
    if "coordinator" not in inspect.signature(build_orchestrator).parameters:
        raise ConfigurationError(
            "BROADCASTIO_LIMITS_URL is set but this broadcastio cannot share limits (no coordinator support); "
            "upgrade broadcastio or unset it"
        )
    found = [point for point in importlib.metadata.entry_points(group="broadcastio") if point.name == _PLUGIN]
    if not found:
        raise ConfigurationError(
            "BROADCASTIO_LIMITS_URL is set but broadcastio-redis is not installed (pip install broadcastio-redis)"
        )
    module = found[0].load()
    return {"coordinator": module.RedisCoordinator(limits_url, namespace=namespace)}
