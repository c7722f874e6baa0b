"""Calls observation hooks so that none of them can change the flow.

pluggy stops at the first exception; here every implementation is called on
its own, an exception is logged and swallowed, and the rest still run.
"""

from __future__ import annotations

import os
from typing import Any

import pluggy

from broadcastio._log import get_logger

__all__ = ["HookDispatcher"]

TRACE_ENV = "BROADCASTIO_TRACE_PLUGINS"
_log = get_logger("broadcastio.hooks")


class HookDispatcher:
    """Fires one observation hook with one event for every implementation."""

    __slots__ = ("_manager", "_trace")

    def __init__(self, manager: pluggy.PluginManager) -> None:
        self._manager = manager
        self._trace = bool(os.environ.get(TRACE_ENV))

    def wants(self, hook_name: str) -> bool:
        """Whether any plugin implements ``hook_name`` (so the event is worth building)."""
        caller: pluggy.HookCaller = getattr(self._manager.hook, hook_name)
        return bool(caller.get_hookimpls())

    def fire(self, hook_name: str, event: Any) -> None:
        """Call every implementation of ``hook_name`` with ``event``."""
        caller: pluggy.HookCaller = getattr(self._manager.hook, hook_name)
        for impl in reversed(caller.get_hookimpls()):
            if impl.hookwrapper or impl.wrapper:
                continue
            if self._trace:
                _log.info("broadcastio.hook_call", hook=hook_name, plugin=impl.plugin_name)
            try:
                if impl.argnames:
                    impl.function(event)
                else:
                    impl.function()
            except Exception as exc:  # hooks observe; they never change the outcome
                _log.warning(
                    "broadcastio.hook_failed",
                    hook=hook_name,
                    plugin=impl.plugin_name,
                    error=f"{type(exc).__name__}: {exc}",
                )
