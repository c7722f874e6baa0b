"""What a campaign needs from one delivery: a bad message fails alone, an outage
is never final, throttling slows a provider down, and per-provider caps hold."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest
from broadcastio import (
    BreakerPolicy,
    ConfigurationError,
    DeliveryError,
    DeliveryResult,
    ErrorClass,
    ErrorCode,
    HealthPolicy,
    InvalidMessageError,
    Message,
    Orchestrator,
    Provider,
    ProviderHealth,
    Recipient,
    RetryPolicy,
)
from broadcastio.testing import FakeClock, FakeProvider

Build = Callable[..., Orchestrator]
ALICE = Recipient(phone="+15550100", email="alice@example.com")


def throttled(retry_after: float | None = None) -> DeliveryError:
    return DeliveryError.transient(ErrorCode.RATE_LIMITED, "slow down", retry_after=retry_after)


class Refusing(Provider):
    """A provider whose address check raises, as the email provider's does for ``bob.@x``."""

    name = "strict"
    channel = "email"

    def __init__(self) -> None:
        self.calls = 0

    def preflight(self, message: Message, address: str) -> DeliveryError | None:
        if "@@" in address:
            return DeliveryError.permanent(ErrorCode.INVALID_RECIPIENT, "address has two @")
        return None

    async def send(self, message: Message, address: str) -> DeliveryResult:
        self.calls += 1
        if "@@" in address:
            raise InvalidMessageError("email header To: address has two @")
        return DeliveryResult.success("ok")


class TestMessageFailsAlone:
    async def test_invalid_message_is_a_permanent_result(self, make_orchestrator: Build) -> None:
        """An InvalidMessageError raised while sending is a permanent invalid_recipient result, not an exception."""
        result = await make_orchestrator([Refusing()]).asend(Message(recipient="broken@@example.test", text="hi"))
        assert result.status == "failed"
        assert result.error is not None
        assert (result.error.code, result.error.error_class) == (ErrorCode.INVALID_RECIPIENT, ErrorClass.PERMANENT)
        assert result.error.provider == "strict"

    async def test_fallback_still_runs_after_a_refused_address(self, make_orchestrator: Build) -> None:
        """The next provider on the route gets the message the first one refused."""
        sms = FakeProvider("sms", "sms")
        recipient = Recipient(phone="+15550100", email="broken@@example.test")
        result = await make_orchestrator([Refusing(), sms]).asend(Message(recipient=recipient, text="hi"))
        assert result.ok
        assert result.provider == "sms"

    async def test_a_broadcast_survives_a_bad_row(self, make_orchestrator: Build) -> None:
        """Row 250 of 500 has a bad address: 499 are delivered and the broadcast runs to the end."""
        provider = Refusing()
        messages = [
            Message(recipient="broken@@example.test" if n == 249 else f"user{n}@example.test", text="hi")
            for n in range(500)
        ]
        results = [r async for r in make_orchestrator([provider]).abroadcast(messages, concurrency=8)]
        assert len(results) == 500
        assert sum(r.ok for r in results) == 499
        assert provider.calls == 500

    async def test_refused_message_does_not_open_the_breaker(self, make_orchestrator: Build) -> None:
        """Refusals are about the message, not the provider: the breaker stays closed."""
        orchestrator = make_orchestrator([Refusing()], breaker=BreakerPolicy(failure_threshold=1))
        for _ in range(3):
            await orchestrator.asend(Message(recipient="x@@y.test", text="hi"))
        assert orchestrator.breaker_state("strict") == "closed"

    def test_preflight_names_the_refusing_provider(self, make_orchestrator: Build) -> None:
        """preflight runs each provider's check without sending anything."""
        strict, sms = Refusing(), FakeProvider("sms", "sms")
        orchestrator = make_orchestrator([strict, sms])
        bad = Message(recipient=Recipient(phone="+15550100", email="x@@y.test"), text="hi")
        refusals = orchestrator.preflight(bad)
        assert [(e.provider, e.code) for e in refusals] == [("strict", ErrorCode.INVALID_RECIPIENT)]
        assert orchestrator.preflight(Message(recipient=ALICE, text="hi")) == ()
        assert strict.calls == 0
        assert sms.calls == 0


class TestTransientIsNeverFinal:
    async def test_open_breaker_gives_a_transient_result_with_a_retry_time(
        self, make_orchestrator: Build, clock: FakeClock
    ) -> None:
        """A message skipped only because the breaker is open can be tried again once it half-opens."""
        down = FakeProvider("hook", "email", outcomes=(DeliveryError.transient("http.503", "unavailable"),))
        orchestrator = make_orchestrator([down], breaker=BreakerPolicy(failure_threshold=1, cooldown=30.0))
        first = await orchestrator.asend(Message(recipient=ALICE, text="hi"))
        assert first.error is not None
        assert first.error.error_class is ErrorClass.TRANSIENT
        clock.advance(10.0)
        skipped = await orchestrator.asend(Message(recipient=ALICE, text="hi"))
        assert skipped.error is not None
        assert skipped.error.code == ErrorCode.NO_PROVIDER_AVAILABLE
        assert skipped.error.error_class is ErrorClass.TRANSIENT
        assert skipped.error.retry_after == pytest.approx(20.0)

    async def test_unhealthy_provider_gives_a_transient_result(self, make_orchestrator: Build) -> None:
        """A failed health check passes with time: the result says when it will be checked again."""
        sick = FakeProvider("hook", "email")
        sick.script_health(ProviderHealth(healthy=False, detail="down"))
        orchestrator = make_orchestrator([sick], health=HealthPolicy(ttl=15.0))
        result = await orchestrator.asend(Message(recipient=ALICE, text="hi"))
        assert result.error is not None
        assert result.error.error_class is ErrorClass.TRANSIENT
        assert result.error.retry_after == pytest.approx(15.0)

    async def test_no_address_anywhere_stays_permanent(self, make_orchestrator: Build) -> None:
        """A recipient no provider can reach will never be deliverable: permanent."""
        result = await make_orchestrator([FakeProvider("tg", "telegram")]).asend(Message(recipient=ALICE, text="hi"))
        assert result.error is not None
        assert result.error.error_class is ErrorClass.PERMANENT


class TestThrottling:
    async def test_throttling_does_not_open_the_breaker(self, make_orchestrator: Build) -> None:
        """A storm of 429s leaves the breaker closed."""
        provider = FakeProvider("api", "email", outcomes=tuple(throttled(0.5) for _ in range(20)))
        orchestrator = make_orchestrator([provider], breaker=BreakerPolicy(failure_threshold=2))
        for _ in range(10):
            result = await orchestrator.asend(Message(recipient=ALICE, text="hi"))
            assert result.error is not None
            assert result.error.code == ErrorCode.RATE_LIMITED
        assert orchestrator.breaker_state("api") == "closed"

    async def test_a_providers_own_throttling_code_counts_too(self, make_orchestrator: Build) -> None:
        """A code listed in the provider's throttling_codes pauses instead of tripping the breaker."""
        provider = FakeProvider(
            "api", "email", outcomes=tuple(DeliveryError.transient("acme.429", "slow down") for _ in range(6))
        )
        provider.throttling_codes = frozenset({"acme.429"})  # type: ignore[misc]
        orchestrator = make_orchestrator([provider], breaker=BreakerPolicy(failure_threshold=2))
        for _ in range(5):
            await orchestrator.asend(Message(recipient=ALICE, text="hi"))
        assert orchestrator.breaker_state("api") == "closed"

    def test_bad_throttling_codes_are_refused(self, make_orchestrator: Build) -> None:
        provider = FakeProvider("api", "email")
        provider.throttling_codes = "acme.429"  # type: ignore[assignment,misc]
        with pytest.raises(ConfigurationError, match="throttling_codes"):
            make_orchestrator([provider])

    async def test_throttling_pauses_the_next_attempt_for_retry_after(
        self, make_orchestrator: Build, clock: FakeClock
    ) -> None:
        """After a 429 with Retry-After 2 s, the provider's next attempt waits those 2 s first."""
        provider = FakeProvider("api", "email", outcomes=(throttled(2.0),))
        orchestrator = make_orchestrator([provider])
        await orchestrator.asend(Message(recipient=ALICE, text="hi"))
        before = clock.time
        result = await orchestrator.asend(Message(recipient=ALICE, text="hi"))
        assert result.ok
        assert clock.time - before == pytest.approx(2.0)

    async def test_a_long_pause_defers_instead_of_waiting(self, make_orchestrator: Build, clock: FakeClock) -> None:
        """A pause longer than the retry policy's max_delay skips the provider with a transient result."""
        provider = FakeProvider("api", "email", outcomes=(throttled(120.0),))
        orchestrator = make_orchestrator([provider], retry=RetryPolicy(max_delay=30.0))
        await orchestrator.asend(Message(recipient=ALICE, text="hi"))
        before = clock.time
        result = await orchestrator.asend(Message(recipient=ALICE, text="hi"), trace=True)
        assert clock.time == before
        assert provider.calls == 1
        assert result.error is not None
        assert result.error.error_class is ErrorClass.TRANSIENT
        assert result.error.retry_after == pytest.approx(120.0)
        assert result.trace is not None
        assert result.trace.skipped[0].reason == "throttled"


class Gauge(Provider):
    """Counts how many sends are inside the provider at once."""

    name = "gauge"
    channel = "email"

    def __init__(self, max_in_flight: int | None = None) -> None:
        self.max_in_flight = max_in_flight
        self.now = 0
        self.peak = 0

    async def send(self, message: Message, address: str) -> DeliveryResult:
        self.now += 1
        self.peak = max(self.peak, self.now)
        await asyncio.sleep(0.001)
        self.now -= 1
        return DeliveryResult.success("ok")


class TestMaxInFlight:
    async def test_cap_holds_across_a_broadcast(self, make_orchestrator: Build) -> None:
        """At concurrency 64, a provider capped at 5 never sees more than 5 sends at once."""
        gauge = Gauge()
        orchestrator = make_orchestrator([gauge], max_in_flight={"gauge": 5})
        messages = [Message(recipient=f"u{n}@example.test", text="hi") for n in range(200)]
        results = [r async for r in orchestrator.abroadcast(messages, concurrency=64)]
        assert all(r.ok for r in results)
        assert gauge.peak == 5

    async def test_cap_is_shared_by_broadcasts_and_sends(self, make_orchestrator: Build) -> None:
        """Two broadcasts and single sends at once share the one cap of the provider."""
        gauge = Gauge(max_in_flight=3)
        orchestrator = make_orchestrator([gauge])

        async def run_broadcast() -> int:
            batch = [Message(recipient=f"u{n}@example.test", text="hi") for n in range(60)]
            return sum([r.ok async for r in orchestrator.abroadcast(batch, concurrency=16)])

        singles = [orchestrator.asend(Message(recipient="s@example.test", text="hi")) for _ in range(10)]
        counts = await asyncio.gather(run_broadcast(), run_broadcast(), *singles)
        assert counts[:2] == [60, 60]
        assert gauge.peak == 3

    @pytest.mark.parametrize("bad", [0, -1, 2.5, True, "4"])
    def test_bad_cap_is_a_configuration_error(self, make_orchestrator: Build, bad: object) -> None:
        """A cap that is not a positive integer is refused at construction, naming the provider."""
        with pytest.raises(ConfigurationError, match="gauge.*max_in_flight"):
            make_orchestrator([Gauge()], max_in_flight={"gauge": bad})

    def test_cap_for_an_unknown_provider_is_refused(self, make_orchestrator: Build) -> None:
        with pytest.raises(ConfigurationError, match="unknown providers: nope"):
            make_orchestrator([Gauge()], max_in_flight={"nope": 2})
