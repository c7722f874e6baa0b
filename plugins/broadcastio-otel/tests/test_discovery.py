"""The entry point: installing the package is enough to get spans on the global providers."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from typing import Any

import broadcastio_otel
import pytest
from broadcastio import Message, Orchestrator
from broadcastio.plugins import make_plugin_manager
from broadcastio_otel import OpenTelemetryHooks

HOOKS = (
    "broadcastio_attempt",
    "broadcastio_breaker_changed",
    "broadcastio_fallback",
    "broadcastio_health_changed",
    "broadcastio_provider_skipped",
    "broadcastio_result",
    "broadcastio_send_aborted",
    "broadcastio_send_started",
)


def test_entry_point_registers_the_module_with_its_hooks() -> None:
    """BROADCASTIO_PLUGINS=otel loads the plugin: seven observation hooks and no provider types."""
    manager = make_plugin_manager(env={"BROADCASTIO_PLUGINS": "otel"})
    assert manager.failures == []
    [info] = [info for info in manager.list_plugins() if info.name == "otel"]
    assert info.hooks == HOOKS
    assert info.provider_types == ()
    assert info.version == broadcastio_otel.__version__
    assert set(manager.provider_types()) == {"memory", "file"}


def test_disable_switch_keeps_it_out() -> None:
    """BROADCASTIO_DISABLE_PLUGINS=otel skips the plugin (for users registering their own instance)."""
    manager = make_plugin_manager(env={"BROADCASTIO_DISABLE_PLUGINS": "otel", "BROADCASTIO_PLUGINS": "otel"})
    assert not manager.has_plugin("otel")


def test_module_hooks_forward_to_the_default_instance(telemetry: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """A send through an entry-point-loaded manager reaches default_hooks, looked up at call time."""
    hooks = OpenTelemetryHooks(telemetry.tracer_provider, telemetry.meter_provider)
    monkeypatch.setattr(broadcastio_otel, "default_hooks", hooks)
    manager = make_plugin_manager(env={"BROADCASTIO_PLUGINS": "otel"})
    memory = manager.create_provider("memory", channel="sms")
    with Orchestrator([memory], plugin_manager=manager) as orch:
        assert orch.send(Message(recipient="+15550001234", text="hi")).ok
    assert [span.name for span in telemetry.spans()] == ["broadcastio.attempt", "broadcastio.send"]
    assert hooks.pending == 0


def test_default_instance_uses_the_global_providers() -> None:
    """In a fresh process, global SDK providers set after import receive the default instance's spans and metrics."""
    script = textwrap.dedent(
        """
        import broadcastio_otel  # imported before the SDK is configured on purpose
        from opentelemetry import metrics, trace
        from opentelemetry.sdk.metrics import MeterProvider
        from opentelemetry.sdk.metrics.export import InMemoryMetricReader
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import SimpleSpanProcessor
        from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
        from broadcastio import DeliveryError, MemoryProvider, Message, Orchestrator, make_plugin_manager

        exporter = InMemorySpanExporter()
        tracer_provider = TracerProvider()
        tracer_provider.add_span_processor(SimpleSpanProcessor(exporter))
        trace.set_tracer_provider(tracer_provider)
        reader = InMemoryMetricReader()
        metrics.set_meter_provider(MeterProvider(metric_readers=[reader]))

        primary, backup = MemoryProvider("primary", "sms"), MemoryProvider("backup", "sms")
        primary.script(DeliveryError.transient("timeout", "t/o"))
        manager = make_plugin_manager(env={"BROADCASTIO_PLUGINS": "otel"})
        with Orchestrator([primary, backup], plugin_manager=manager) as orch:
            orch.send(Message(recipient="+15550001234", text="hi"))
        names = sorted(span.name for span in exporter.get_finished_spans())
        found = sorted(
            m.name for rm in reader.get_metrics_data().resource_metrics for sm in rm.scope_metrics for m in sm.metrics
        )
        print(",".join(names))
        print(",".join(found))
        """
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    spans, found = done.stdout.strip().splitlines()
    assert spans == "broadcastio.attempt,broadcastio.attempt,broadcastio.send"
    assert found.split(",") == [
        "broadcastio.attempt.duration",
        "broadcastio.attempts",
        "broadcastio.deliveries",
        "broadcastio.health.changes",
    ]
