"""A plugin that records every hook call, for assertions in tests."""

from __future__ import annotations

from typing import Any

from broadcastio.events import (
    AttemptEvent,
    BreakerChangeEvent,
    FallbackEvent,
    HealthChangeEvent,
    ResultEvent,
    SendAbortedEvent,
    SendStartedEvent,
    SkipEvent,
)
from broadcastio.hookspecs import hookimpl

__all__ = ["HookRecorder"]


class HookRecorder:
    """Register it (``Orchestrator(hooks=[recorder])``) and read :attr:`calls`."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, Any]] = []

    def of(self, hook: str) -> list[Any]:
        """The events passed to ``hook`` (name with or without the prefix)."""
        name = hook if hook.startswith("broadcastio_") else f"broadcastio_{hook}"
        return [event for called, event in self.calls if called == name]

    @hookimpl
    def broadcastio_send_started(self, event: SendStartedEvent) -> None:
        self.calls.append(("broadcastio_send_started", event))

    @hookimpl
    def broadcastio_attempt(self, event: AttemptEvent) -> None:
        self.calls.append(("broadcastio_attempt", event))

    @hookimpl
    def broadcastio_provider_skipped(self, event: SkipEvent) -> None:
        self.calls.append(("broadcastio_provider_skipped", event))

    @hookimpl
    def broadcastio_fallback(self, event: FallbackEvent) -> None:
        self.calls.append(("broadcastio_fallback", event))

    @hookimpl
    def broadcastio_result(self, event: ResultEvent) -> None:
        self.calls.append(("broadcastio_result", event))

    @hookimpl
    def broadcastio_send_aborted(self, event: SendAbortedEvent) -> None:
        self.calls.append(("broadcastio_send_aborted", event))

    @hookimpl
    def broadcastio_health_changed(self, event: HealthChangeEvent) -> None:
        self.calls.append(("broadcastio_health_changed", event))

    @hookimpl
    def broadcastio_breaker_changed(self, event: BreakerChangeEvent) -> None:
        self.calls.append(("broadcastio_breaker_changed", event))
