"""Test kit for users and plugin authors.

- :class:`FakeClock`: time that moves only when the orchestrator sleeps.
- :class:`FakeProvider`: a scriptable provider (sync or async) that counts calls.
- :class:`HookRecorder`: a plugin recording every hook call.
- :func:`no_wait`: switch off every real sleep of :class:`~broadcastio.SystemClock`.
- :func:`isolated_plugin_manager`: a plugin manager that ignores installed plugins.
- :class:`MemoryCoordinator`: shared limits in memory (orchestrators sharing one act like processes).
- ``broadcastio.testing.strategies``: hypothesis strategies for the models.
- ``broadcastio.testing.contract``: the provider contract suite to subclass.
- ``broadcastio.testing.servers``: real local HTTP servers, and ``ScriptedReplies`` for fake provider APIs.
"""

from __future__ import annotations

from broadcastio.testing._clock import FakeClock
from broadcastio.testing._coordinator import MemoryCoordinator
from broadcastio.testing._fakes import FakeProvider, SyncFakeProvider
from broadcastio.testing._hooks import HookRecorder
from broadcastio.testing._switches import isolated_plugin_manager, no_wait

__all__ = [
    "FakeClock",
    "FakeProvider",
    "HookRecorder",
    "MemoryCoordinator",
    "SyncFakeProvider",
    "isolated_plugin_manager",
    "no_wait",
]
