"""Metrics through a real Orchestrator: counters and the attempt duration histogram."""

from __future__ import annotations

from typing import Any

from broadcastio import DeliveryError, MemoryProvider, Message, RetryPolicy

PHONE = "+15550001234"


def _values(points: list[tuple[dict[str, Any], Any]]) -> dict[tuple[tuple[str, Any], ...], Any]:
    return {tuple(sorted(attributes.items())): point for attributes, point in points}


async def test_attempts_counted_by_provider_and_outcome(telemetry: Any, orchestrator: Any) -> None:
    """broadcastio.attempts counts every attempt with provider, channel, ok and the error's code and class."""
    primary, backup = MemoryProvider("primary", "sms"), MemoryProvider("backup", "sms")
    primary.script(DeliveryError.transient("rate_limited", "slow"), DeliveryError.transient("rate_limited", "slow"))
    async with orchestrator([primary, backup], retry=RetryPolicy(max_attempts=2, backoff="none")) as orch:
        await orch.asend(Message(recipient=PHONE, text="hi"))
    points = _values(telemetry.points("broadcastio.attempts"))
    failed = (
        ("broadcastio.attempt.ok", False),
        ("broadcastio.channel", "sms"),
        ("broadcastio.error.class", "transient"),
        ("broadcastio.error.code", "rate_limited"),
        ("broadcastio.provider", "primary"),
    )
    ok = (("broadcastio.attempt.ok", True), ("broadcastio.channel", "sms"), ("broadcastio.provider", "backup"))
    assert set(points) == {failed, ok}
    assert points[failed].value == 2
    assert points[ok].value == 1


async def test_deliveries_and_failures_counted_per_message(telemetry: Any, orchestrator: Any) -> None:
    """Each message adds one to broadcastio.deliveries or to broadcastio.failures (with provider, class, code)."""
    provider = MemoryProvider("m", "sms")
    provider.script(
        None, DeliveryError.permanent("invalid_recipient", "bad"), None, DeliveryError.transient("timeout", "t")
    )
    async with orchestrator([provider]) as orch:
        for _ in range(4):
            await orch.asend(Message(recipient=PHONE, text="hi"))
    deliveries = _values(telemetry.points("broadcastio.deliveries"))
    assert {key: point.value for key, point in deliveries.items()} == {
        (("broadcastio.channel", "sms"), ("broadcastio.provider", "m")): 2
    }
    failures = {key: point.value for key, point in _values(telemetry.points("broadcastio.failures")).items()}
    assert failures == {
        (
            ("broadcastio.error.class", "permanent"),
            ("broadcastio.error.code", "invalid_recipient"),
            ("broadcastio.provider", "m"),
            ("broadcastio.result.status", "failed"),
        ): 1,
        (
            ("broadcastio.error.class", "transient"),
            ("broadcastio.error.code", "timeout"),
            ("broadcastio.provider", "m"),
            ("broadcastio.result.status", "failed"),
        ): 1,
    }


async def test_attempt_duration_histogram_in_milliseconds(telemetry: Any, orchestrator: Any, clock: Any) -> None:
    """broadcastio.attempt.duration records each attempt's duration in ms, by provider."""

    class Slow(MemoryProvider):
        async def send(self, message: Message, address: str) -> Any:
            clock.advance(0.040)
            return await super().send(message, address)

    async with orchestrator([Slow("slow", "sms")]) as orch:
        for _ in range(3):
            await orch.asend(Message(recipient=PHONE, text="hi"))
    data = telemetry.reader.get_metrics_data()
    [metric] = [
        m
        for rm in data.resource_metrics
        for sm in rm.scope_metrics
        for m in sm.metrics
        if m.name == "broadcastio.attempt.duration"
    ]
    assert metric.unit == "ms"
    [point] = metric.data.data_points
    assert dict(point.attributes) == {"broadcastio.provider": "slow", "broadcastio.attempt.ok": True}
    assert point.count == 3
    assert abs(point.sum - 120.0) < 1e-6


async def test_no_private_data_in_metric_attributes(telemetry: Any, orchestrator: Any) -> None:
    """Metric attributes hold names, codes and classes only."""
    provider = MemoryProvider("m", "sms")
    provider.script(DeliveryError.permanent("rejected", f"{PHONE} refused"))
    async with orchestrator([provider]) as orch:
        await orch.asend(Message(recipient=PHONE, text="secret text"))
    for name in ("broadcastio.attempts", "broadcastio.failures", "broadcastio.attempt.duration"):
        for attributes, _ in telemetry.points(name):
            assert PHONE not in str(attributes)
            assert "secret text" not in str(attributes)


async def test_breaker_transitions_are_counted(telemetry: Any, orchestrator: Any) -> None:
    """broadcastio.breaker.transitions counts each state change by provider and new state."""
    from broadcastio import BreakerPolicy

    flaky, backup = MemoryProvider("flaky", "sms"), MemoryProvider("backup", "sms")
    flaky.script(*[DeliveryError.transient("server_error", "502")] * 2)
    async with orchestrator([flaky, backup], breaker=BreakerPolicy(failure_threshold=2, cooldown=60.0)) as orch:
        for _ in range(3):
            await orch.asend(Message(recipient=PHONE, text="hi"))
    points = {tuple(sorted(a.items())): p.value for a, p in telemetry.points("broadcastio.breaker.transitions")}
    assert points == {(("broadcastio.breaker.state", "open"), ("broadcastio.provider", "flaky")): 1}


async def test_health_changes_are_counted(telemetry: Any, orchestrator: Any) -> None:
    """broadcastio.health.changes counts each first or changed health answer by provider and verdict."""
    down, up = MemoryProvider("down", "sms"), MemoryProvider("up", "sms")
    down.set_health(False, "gateway down")
    async with orchestrator([down, up]) as orch:
        await orch.asend(Message(recipient=PHONE, text="hi"))
    points = {tuple(sorted(a.items())): p.value for a, p in telemetry.points("broadcastio.health.changes")}
    assert points == {
        (("broadcastio.healthy", False), ("broadcastio.provider", "down")): 1,
        (("broadcastio.healthy", True), ("broadcastio.provider", "up")): 1,
    }
