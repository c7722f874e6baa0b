"""In-memory OpenTelemetry pipelines and an orchestrator builder for the tests."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from broadcastio import Orchestrator
from broadcastio.testing import FakeClock, isolated_plugin_manager
from broadcastio_otel import OpenTelemetryHooks
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter


class Telemetry:
    """An SDK tracer and meter provider that keep everything in memory."""

    def __init__(self) -> None:
        self.exporter = InMemorySpanExporter()
        self.tracer_provider = TracerProvider()
        self.tracer_provider.add_span_processor(SimpleSpanProcessor(self.exporter))
        self.reader = InMemoryMetricReader()
        self.meter_provider = MeterProvider(metric_readers=[self.reader])

    def spans(self, name: str | None = None) -> list[ReadableSpan]:
        found = self.exporter.get_finished_spans()
        return [span for span in found if name is None or span.name == name]

    def points(self, metric: str) -> list[tuple[dict[str, Any], Any]]:
        """(attributes, data point) pairs of one metric."""
        data = self.reader.get_metrics_data()
        found = []
        for resource_metrics in data.resource_metrics if data else ():
            for scope_metrics in resource_metrics.scope_metrics:
                for item in scope_metrics.metrics:
                    if item.name == metric:
                        found.extend((dict(point.attributes), point) for point in item.data.data_points)
        return found

    def shutdown(self) -> None:
        self.tracer_provider.shutdown()
        self.meter_provider.shutdown()


@pytest.fixture
def telemetry() -> Iterator[Telemetry]:
    found = Telemetry()
    yield found
    found.shutdown()


@pytest.fixture
def hooks(telemetry: Telemetry) -> OpenTelemetryHooks:
    return OpenTelemetryHooks(tracer_provider=telemetry.tracer_provider, meter_provider=telemetry.meter_provider)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(start=1.234567)


@pytest.fixture
def orchestrator(hooks: OpenTelemetryHooks, clock: FakeClock) -> Callable[..., Orchestrator]:
    """Build an orchestrator with the hooks registered, a fake clock and no installed plugins."""

    def build(providers: list[Any], **options: Any) -> Orchestrator:
        options.setdefault("clock", clock)
        return Orchestrator(providers, hooks=[hooks], plugin_manager=isolated_plugin_manager(), **options)

    return build
