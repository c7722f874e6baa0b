"""Built-in providers that need no dependency: ``memory`` and ``file``.

They are registered through the same plugin hook as third-party providers.
"""

from __future__ import annotations

from broadcastio.providers import builtin_plugin
from broadcastio.providers.file import FileProvider
from broadcastio.providers.memory import DeliveredWithError, MemoryProvider, Outcome, SentMessage

__all__ = ["DeliveredWithError", "FileProvider", "MemoryProvider", "Outcome", "SentMessage", "builtin_plugin"]
