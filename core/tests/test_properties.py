"""Property tests: invariants of orchestration over generated scenarios.

Every scenario runs on a fake clock, so nothing really sleeps.
"""

from __future__ import annotations

import asyncio
import itertools
import random
from typing import Any

from broadcastio import (
    BreakerPolicy,
    DeliveryError,
    ErrorClass,
    HealthPolicy,
    Message,
    Orchestrator,
    Recipient,
    RetryPolicy,
    hookimpl,
)
from broadcastio._breaker import CircuitBreaker
from broadcastio.providers import DeliveredWithError
from broadcastio.testing import FakeClock, FakeProvider, HookRecorder, isolated_plugin_manager
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

RECIPIENT = Recipient(phone="+15550100", addresses={"fake": "somewhere"})
OUTCOMES = {
    "ok": lambda: None,
    "transient": lambda: DeliveryError.transient("busy", "busy"),
    "transient_retry_after": lambda: DeliveryError.transient("slow_down", "429", retry_after=3.0),
    "permanent": lambda: DeliveryError.permanent("bad", "refused"),
    "ambiguous": lambda: DeliveryError.ambiguous("timeout", "timed out"),
    "delivered_ambiguous": lambda: DeliveredWithError(DeliveryError.ambiguous("timeout", "late")),
    "raises": lambda: RuntimeError("bug"),
    "raises_timeout": lambda: TimeoutError(),
}

provider_specs = st.fixed_dictionaries(
    {
        "channel": st.sampled_from(["fake", "fake", "fake", "nochannel"]),
        "outcomes": st.lists(st.sampled_from(sorted(OUTCOMES)), max_size=5),
        "healthy": st.booleans() | st.just(True),
        "idempotent": st.booleans(),
        "max_attempts": st.integers(min_value=1, max_value=4),
        "retry_ambiguous": st.booleans(),
        "backoff": st.sampled_from(["none", "fixed", "exponential"]),
    }
)
scenarios = st.fixed_dictionaries(
    {
        "providers": st.lists(provider_specs, min_size=1, max_size=4),
        "fallback_on_ambiguous": st.booleans(),
        "seed": st.integers(min_value=0, max_value=2**16),
    }
)


def build(scenario: dict[str, Any], hooks: list[object] | None = None) -> tuple[Orchestrator, list[FakeProvider]]:
    clock = FakeClock()
    providers = []
    for index, spec in enumerate(scenario["providers"]):
        provider = FakeProvider(
            f"p{index}",
            spec["channel"],
            outcomes=tuple(OUTCOMES[name]() for name in spec["outcomes"]),
            idempotent=spec["idempotent"],
            retry_policy=RetryPolicy(
                max_attempts=spec["max_attempts"],
                retry_ambiguous=spec["retry_ambiguous"],
                backoff=spec["backoff"],
                base_delay=0.5,
                max_delay=5.0,
            ),
        )
        provider.set_health(spec["healthy"], "scripted")
        providers.append(provider)
    orchestrator = Orchestrator(
        providers,
        fallback_on_ambiguous=scenario["fallback_on_ambiguous"],
        plugin_manager=isolated_plugin_manager(),
        hooks=hooks or [],
        clock=clock,
        rng=random.Random(scenario["seed"]),
    )
    return orchestrator, providers


def run(scenario: dict[str, Any], hooks: list[object] | None = None) -> tuple[Any, list[FakeProvider]]:
    orchestrator, providers = build(scenario, hooks)
    result = asyncio.run(orchestrator.asend(Message(recipient=RECIPIENT, text="hi"), trace=True))
    return result, providers


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenarios)
def test_orchestration_invariants(scenario: dict[str, Any]) -> None:
    """Attempt budgets, order, retry rules, ambiguity rules, skips and the trace all hold."""
    result, providers = run(scenario)
    specs = scenario["providers"]
    trace = result.trace
    assert trace is not None
    attempts = trace.attempts
    index_of = {provider.name: i for i, provider in enumerate(providers)}

    # The trace's attempts equal the calls made, provider by provider.
    for provider in providers:
        assert provider.calls == sum(1 for a in attempts if a.provider == provider.name)
    # Attempts on a provider never exceed its max_attempts, and are numbered 1..n.
    for provider, spec in zip(providers, specs, strict=True):
        numbers = [a.number for a in attempts if a.provider == provider.name]
        assert numbers == list(range(1, len(numbers) + 1))
        assert len(numbers) <= spec["max_attempts"]
    # Providers are tried in order, and none after a success.
    order = [index_of[a.provider] for a in attempts]
    assert order == sorted(order)
    successes = [i for i, a in enumerate(attempts) if a.ok]
    assert len(successes) <= 1
    if successes:
        assert successes[0] == len(attempts) - 1
        assert result.ok
        assert result.provider == attempts[-1].provider
    # Skipped providers (no address, unhealthy) are never called.
    for skipped in trace.skipped:
        assert providers[index_of[skipped.provider]].calls == 0
    for provider, spec in zip(providers, specs, strict=True):
        if spec["channel"] == "nochannel" or not spec["healthy"]:
            assert provider.calls == 0
    # Error-class rules between consecutive attempts.
    for before, after in itertools.pairwise(attempts):
        assert before.error is not None
        same_provider = before.provider == after.provider
        spec = specs[index_of[before.provider]]
        if before.error.error_class is ErrorClass.PERMANENT:
            assert not same_provider, "a permanent error was retried"
        if before.error.error_class is ErrorClass.AMBIGUOUS:
            if same_provider:
                assert spec["idempotent"] or spec["retry_ambiguous"], "ambiguous retried without permission"
            else:
                assert scenario["fallback_on_ambiguous"], "fell back after an ambiguous error"
    # Exactly one final status, consistent with the attempts.
    assert result.status in ("delivered", "failed", "unknown")
    if any(a.error is not None and a.error.error_class is ErrorClass.AMBIGUOUS for a in attempts) and not result.ok:
        assert result.status == "unknown"
        assert trace.possibly_delivered


class _RaisingHooks:
    @hookimpl
    def broadcastio_attempt(self, event: object) -> None:
        raise RuntimeError("attempt hook bug")

    @hookimpl
    def broadcastio_result(self, event: object) -> None:
        raise ValueError("result hook bug")

    @hookimpl
    def broadcastio_fallback(self, event: object) -> None:
        raise KeyError("fallback hook bug")


@settings(max_examples=150, deadline=None)
@given(scenarios)
def test_raising_hooks_never_change_the_outcome(scenario: dict[str, Any]) -> None:
    """The same scenario gives the same result whether or not hooks raise."""
    plain, _ = run(scenario)
    recorder = HookRecorder()
    observed, _ = run(scenario, hooks=[_RaisingHooks(), recorder])

    def shape(result: Any) -> Any:
        return (
            result.status,
            result.provider,
            [(a.provider, a.number, a.ok, a.error and a.error.code) for a in result.trace.attempts],
        )

    assert shape(plain) == shape(observed)
    assert len(recorder.of("result")) == 1
    assert len(recorder.of("attempt")) == len(observed.trace.attempts)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.sampled_from(["ok", "transient", "permanent", "ambiguous", "raises"]), max_size=30),
    st.integers(min_value=1, max_value=8),
    st.integers(min_value=0, max_value=40),
)
def test_every_message_gets_exactly_one_result(outcomes: list[str], concurrency: int, count: int) -> None:
    """A broadcast yields one result per message, whatever the providers do."""
    primary = FakeProvider("a", outcomes=tuple(OUTCOMES[name]() for name in outcomes), keep=None)
    backup = FakeProvider("b", keep=None)
    orchestrator = Orchestrator(
        [primary, backup],
        plugin_manager=isolated_plugin_manager(),
        clock=FakeClock(),
        retry=RetryPolicy(max_attempts=2),
    )
    messages = [Message(recipient="x", text=str(i)) for i in range(count)]

    async def collect() -> list[Any]:
        return [result async for result in orchestrator.abroadcast(messages, concurrency=concurrency)]

    results = asyncio.run(collect())
    keys = [result.idempotency_key for result in results]
    assert sorted(keys) == sorted(message.idempotency_key for message in messages)


@given(
    policy=st.builds(
        RetryPolicy,
        max_attempts=st.integers(min_value=1, max_value=10),
        backoff=st.sampled_from(["none", "fixed", "exponential"]),
        base_delay=st.floats(min_value=0, max_value=5, allow_nan=False),
        max_delay=st.floats(min_value=5, max_value=120, allow_nan=False),
        jitter=st.booleans(),
    ),
    retry=st.integers(min_value=0, max_value=10_000),
    retry_after=st.one_of(st.none(), st.floats(min_value=0, max_value=500, allow_nan=False)),
    seed=st.integers(),
)
def test_backoff_is_within_zero_and_the_cap(
    policy: RetryPolicy, retry: int, retry_after: float | None, seed: int
) -> None:
    """Every backoff delay lies in [0, max_delay], Retry-After included."""
    rng = random.Random(seed)
    delay = policy.backoff_delay(retry, rng)
    assert 0.0 <= delay <= policy.max_delay
    error = DeliveryError.transient("x", "x", retry_after=retry_after)
    waited = policy.delay_before_retry(max(retry, 1), error, rng)
    if waited is None:
        assert retry_after is not None
        assert retry_after > policy.max_delay
    else:
        assert 0.0 <= waited <= policy.max_delay
        if retry_after is not None:
            assert waited >= retry_after


class BreakerMachine(RuleBasedStateMachine):
    """The circuit breaker against a model: open never admits, half-open admits at most the probes."""

    def __init__(self) -> None:
        super().__init__()
        self.policy = BreakerPolicy(failure_threshold=3, cooldown=10.0, half_open_probes=2)
        self.breaker = CircuitBreaker(self.policy)
        self.now = 0.0
        self.opened_at: float | None = None
        self.permits = 0

    @rule(seconds=st.floats(min_value=0, max_value=15, allow_nan=False))
    def advance(self, seconds: float) -> None:
        self.now += seconds

    @rule()
    def acquire(self) -> None:
        state_before = self.breaker.state
        allowed, _ = self.breaker.acquire(self.now)
        if state_before == "open" and self.opened_at is not None and self.now - self.opened_at < self.policy.cooldown:
            assert not allowed, "an open breaker admitted a call during its cooldown"
        if allowed:
            self.permits += 1

    @precondition(lambda self: self.permits > 0)
    @rule(outcome=st.sampled_from(["success", "transient", "permanent", "ambiguous"]))
    def finish(self, outcome: str) -> None:
        self.permits -= 1
        error = {
            "success": None,
            "transient": DeliveryError.transient("x", "x"),
            "permanent": DeliveryError.permanent("x", "x"),
            "ambiguous": DeliveryError.ambiguous("x", "x"),
        }[outcome]
        if self.breaker.record(error, self.now) == "open":
            self.opened_at = self.now

    @invariant()
    def half_open_admits_at_most_the_probes(self) -> None:
        if self.breaker.state == "half_open":
            assert self.breaker._in_flight_probes <= self.policy.half_open_probes


TestBreakerMachine = BreakerMachine.TestCase
TestBreakerMachine.settings = settings(max_examples=200, stateful_step_count=40, deadline=None)


@settings(max_examples=50, deadline=None)
@given(
    outcomes=st.lists(st.sampled_from(["ok", "transient", "ambiguous", "permanent"]), min_size=1, max_size=60),
    threshold=st.integers(min_value=1, max_value=4),
    step=st.floats(min_value=0, max_value=10, allow_nan=False),
)
def test_open_breaker_never_calls_its_provider(outcomes: list[str], threshold: int, step: float) -> None:
    """No provider call happens while its breaker is open, however outcomes and time go."""
    clock = FakeClock()
    states_at_call: list[str] = []

    class Watched(FakeProvider):
        async def send(self, message: Message, address: str) -> Any:
            states_at_call.append(orchestrator.breaker_state(self.name))
            return await super().send(message, address)

    provider = Watched("a", outcomes=tuple(OUTCOMES[name]() for name in outcomes))
    orchestrator = Orchestrator(
        [provider, FakeProvider("b")],
        breaker=BreakerPolicy(failure_threshold=threshold, cooldown=5.0),
        health=HealthPolicy(enabled=False),
        fallback_on_ambiguous=True,
        plugin_manager=isolated_plugin_manager(),
        clock=clock,
    )

    async def go() -> None:
        for _ in outcomes:
            await orchestrator.asend(Message(recipient="x", text="hi"))
            clock.advance(step)

    asyncio.run(go())
    assert "open" not in states_at_call
