"""OpenTelemetry for broadcastio: a span per send, a child span per attempt, metrics.

Installing the package is enough: its entry point registers this module,
whose hooks forward to :data:`default_hooks`, an :class:`OpenTelemetryHooks`
on the global tracer and meter providers. To send to providers of your own
instead, pass ``Orchestrator(hooks=[OpenTelemetryHooks(tracer_provider=...,
meter_provider=...)])`` and disable the entry point
(``BROADCASTIO_DISABLE_PLUGINS=otel``) so sends are not reported twice.
"""

from __future__ import annotations

import importlib.metadata

__version__ = importlib.metadata.version("broadcastio-otel")

from broadcastio import hookimpl
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

from broadcastio_otel._hooks import DEFAULT_MAX_PENDING, INSTRUMENTATION_NAME, OpenTelemetryHooks

__all__ = ["DEFAULT_MAX_PENDING", "INSTRUMENTATION_NAME", "OpenTelemetryHooks", "__version__", "default_hooks"]

default_hooks: OpenTelemetryHooks = OpenTelemetryHooks()
"""The instance the entry point uses: global providers, resolved when first used
(OpenTelemetry's proxies follow a provider set after import)."""


# Module-level hooks, so the entry point can register this module itself.
# They look ``default_hooks`` up at call time, so it can be replaced.


@hookimpl
def broadcastio_send_started(event: SendStartedEvent) -> None:
    default_hooks.broadcastio_send_started(event)


@hookimpl
def broadcastio_attempt(event: AttemptEvent) -> None:
    default_hooks.broadcastio_attempt(event)


@hookimpl
def broadcastio_fallback(event: FallbackEvent) -> None:
    default_hooks.broadcastio_fallback(event)


@hookimpl
def broadcastio_provider_skipped(event: SkipEvent) -> None:
    default_hooks.broadcastio_provider_skipped(event)


@hookimpl
def broadcastio_result(event: ResultEvent) -> None:
    default_hooks.broadcastio_result(event)


@hookimpl
def broadcastio_send_aborted(event: SendAbortedEvent) -> None:
    default_hooks.broadcastio_send_aborted(event)


@hookimpl
def broadcastio_breaker_changed(event: BreakerChangeEvent) -> None:
    default_hooks.broadcastio_breaker_changed(event)


@hookimpl
def broadcastio_health_changed(event: HealthChangeEvent) -> None:
    default_hooks.broadcastio_health_changed(event)
