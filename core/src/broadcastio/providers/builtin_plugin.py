"""The default plugin that registers core's own provider types."""

from __future__ import annotations

from collections.abc import Iterable

from broadcastio._provider import ProviderType
from broadcastio.hookspecs import hookimpl


@hookimpl
def broadcastio_provider_types() -> Iterable[ProviderType]:
    from broadcastio.providers.file import FileProvider
    from broadcastio.providers.memory import MemoryProvider

    return [
        ProviderType(name="memory", factory=MemoryProvider, description="records messages in memory (tests, demos)"),
        ProviderType(name="file", factory=FileProvider, description="appends messages as JSON lines to a folder"),
    ]
