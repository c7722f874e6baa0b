"""Switches tests flip: no waiting, no installed plugins."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from broadcastio._clock import is_testing, set_testing
from broadcastio.plugins import PluginManager, make_plugin_manager

__all__ = ["isolated_plugin_manager", "no_wait"]


@contextlib.contextmanager
def no_wait() -> Iterator[None]:
    """Within the block, :class:`~broadcastio.SystemClock` never sleeps."""
    before = is_testing()
    set_testing(True)
    try:
        yield
    finally:
        set_testing(before)


def isolated_plugin_manager() -> PluginManager:
    """A plugin manager with only the built-in providers: tests never load
    installed entry points by accident."""
    return make_plugin_manager(entrypoints=False)
