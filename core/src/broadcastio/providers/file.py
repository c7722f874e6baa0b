"""``file``: appends each message as one JSON line to a file in a folder.

The embedded default for trying broadcastio with no service at all; the
file is ``<directory>/<provider name>.jsonl``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import IO, Any

import msgspec

from broadcastio._clock import Clock, SystemClock
from broadcastio._errors import ConfigurationError, ErrorCode
from broadcastio._models import DeliveryError, DeliveryResult, Message, ProviderHealth
from broadcastio._provider import Provider
from broadcastio._retry import RetryPolicy

__all__ = ["FileProvider"]

_encoder = msgspec.json.Encoder()


class FileProvider(Provider):
    """Writes messages to ``<directory>/<name>.jsonl``, one JSON object a line.

    Attachments are recorded by name, type and size, not content. Each line
    is flushed before ``send`` returns, so an accepted message is on disk.
    """

    def __init__(
        self,
        name: str = "file",
        channel: str = "file",
        *,
        directory: str | os.PathLike[str] = "broadcastio-outbox",
        retry_policy: RetryPolicy | None = None,
        clock: Clock | None = None,
    ) -> None:
        if not name or "/" in name or "\\" in name:
            raise ConfigurationError(f"file provider name must be usable as a file name, got {name!r}")
        self.name = name
        self.channel = channel
        self.retry_policy = retry_policy
        self.directory = Path(directory)
        self.path = self.directory / f"{name}.jsonl"
        self._clock = clock or SystemClock()
        self._handle: IO[bytes] | None = None
        self._count = 0

    async def send(self, message: Message, address: str) -> DeliveryResult:
        record: dict[str, Any] = {
            "at": self._clock.now().isoformat(),
            "provider": self.name,
            "channel": self.channel,
            "to": address,
            "subject": message.subject,
            "text": message.text,
            "html": message.html,
            "attachments": [
                {"filename": a.filename, "mime_type": a.mime_type, "size": len(a.content)} for a in message.attachments
            ],
            "idempotency_key": message.metadata.idempotency_key,
            "reference_id": message.metadata.reference_id,
            "tags": list(message.metadata.tags),
        }
        try:
            handle = self._open()
            handle.write(_encoder.encode(record) + b"\n")
            handle.flush()
        except OSError as exc:
            self._close_handle()
            return DeliveryResult.failure(
                DeliveryError.transient(
                    ErrorCode.SERVICE_UNAVAILABLE, f"cannot write {self.path}: {exc.strerror or exc}"
                )
            )
        self._count += 1
        return DeliveryResult.success(f"{self.name}-{self._count}")

    async def health(self) -> ProviderHealth:
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            return ProviderHealth(healthy=False, detail=f"cannot create {self.directory}: {exc.strerror or exc}")
        if not os.access(self.directory, os.W_OK):
            return ProviderHealth(healthy=False, detail=f"{self.directory} is not writable")
        return ProviderHealth(healthy=True, detail=str(self.path))

    async def aclose(self) -> None:
        self._close_handle()

    def _open(self) -> IO[bytes]:
        if self._handle is None:
            self.directory.mkdir(parents=True, exist_ok=True)
            self._handle = self.path.open("ab")
        return self._handle

    def _close_handle(self) -> None:
        if self._handle is not None:
            try:
                self._handle.close()
            finally:
                self._handle = None
