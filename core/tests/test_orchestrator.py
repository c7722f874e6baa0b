"""Orchestrator: routing, retries, fallback, ambiguity, health, breaker, hooks, facades."""

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
    NoHealthyProviderError,
    Orchestrator,
    ProviderHealth,
    RateLimit,
    Recipient,
    RetryPolicy,
    UsageError,
    hookimpl,
)
from broadcastio.providers import DeliveredWithError
from broadcastio.testing import FakeClock, FakeProvider, HookRecorder, SyncFakeProvider, isolated_plugin_manager

Build = Callable[..., Orchestrator]
ALICE = Recipient(phone="+15550100", email="alice@example.com")


def transient(code: str = "busy", retry_after: float | None = None) -> DeliveryError:
    return DeliveryError.transient(code, "try later", retry_after=retry_after)


def permanent(code: str = "bad") -> DeliveryError:
    return DeliveryError.permanent(code, "refused")


def ambiguous() -> DeliveryError:
    return DeliveryError.ambiguous(ErrorCode.TIMEOUT, "timed out after sending")


class TestRouting:
    async def test_first_provider_delivers(self, make_orchestrator: Build) -> None:
        """The first provider that accepts is the one named in the result; none after it is called."""
        first, second = FakeProvider("a", "sms"), FakeProvider("b", "email")
        result = await make_orchestrator([first, second]).asend(Message(recipient=ALICE, text="hi"))
        assert result.ok
        assert (result.provider, result.channel, result.provider_message_id) == ("a", "sms", "a-1")
        assert second.calls == 0

    async def test_falls_back_in_order_across_channels(self, make_orchestrator: Build) -> None:
        """A permanent failure moves on to the next provider, on another channel."""
        sms = FakeProvider("sms", "sms", outcomes=(permanent(),))
        email = FakeProvider("email", "email")
        result = await make_orchestrator([sms, email]).asend(Message(recipient=ALICE, text="hi"), trace=True)
        assert result.ok
        assert result.provider == "email"
        assert email.sent[0].address == "alice@example.com"
        assert result.trace is not None
        assert [a.provider for a in result.trace.attempts] == ["sms", "email"]

    async def test_provider_without_address_is_skipped(self, make_orchestrator: Build) -> None:
        """A provider whose channel has no address is skipped, and the trace says why."""
        telegram, email = FakeProvider("tg", "telegram"), FakeProvider("email", "email")
        result = await make_orchestrator([telegram, email]).asend(Message(recipient=ALICE, text="hi"), trace=True)
        assert result.provider == "email"
        assert telegram.calls == 0
        assert result.trace is not None
        assert result.trace.skipped[0].provider == "tg"
        assert result.trace.skipped[0].reason == "no_address"

    async def test_no_provider_available(self, make_orchestrator: Build) -> None:
        """When every provider is skipped the result says so, naming them."""
        result = await make_orchestrator([FakeProvider("tg", "telegram")]).asend(Message(recipient=ALICE, text="hi"))
        assert result.status == "failed"
        assert result.error is not None
        assert result.error.code == ErrorCode.NO_PROVIDER_AVAILABLE
        assert "tg skipped (no_address" in result.error.message

    async def test_via_orders_and_restricts(self, make_orchestrator: Build) -> None:
        """via= picks providers by name, in the order given."""
        a, b = FakeProvider("a", "sms"), FakeProvider("b", "email")
        result = await make_orchestrator([a, b]).asend(Message(recipient=ALICE, text="hi"), via=["b", "a"])
        assert result.provider == "b"
        assert a.calls == 0

    async def test_via_unknown_provider_raises(self, make_orchestrator: Build) -> None:
        """Naming an unknown provider is a configuration error."""
        with pytest.raises(ConfigurationError, match="no provider named 'nope'"):
            await make_orchestrator([FakeProvider()]).asend(Message(recipient="x", text="hi"), via=["nope"])

    async def test_trace_is_off_by_default(self, make_orchestrator: Build) -> None:
        """No trace unless asked for."""
        result = await make_orchestrator([FakeProvider()]).asend(Message(recipient="x", text="hi"))
        assert result.trace is None
        assert result.idempotency_key is not None


class TestRetries:
    async def test_no_retry_by_default(self, make_orchestrator: Build) -> None:
        """Retries are off unless configured: one attempt, then fallback."""
        flaky, backup = FakeProvider("a", outcomes=(transient(),)), FakeProvider("b")
        result = await make_orchestrator([flaky, backup]).asend(Message(recipient="x", text="hi"))
        assert flaky.calls == 1
        assert result.provider == "b"

    async def test_transient_is_retried_with_backoff(self, make_orchestrator: Build, clock: FakeClock) -> None:
        """A transient error is retried on the same provider after the backoff."""
        flaky = FakeProvider("a", outcomes=(transient(), transient()))
        policy = RetryPolicy(max_attempts=3, backoff="fixed", base_delay=2.0, max_delay=5.0, jitter=False)
        result = await make_orchestrator([flaky], retry=policy).asend(Message(recipient="x", text="hi"), trace=True)
        assert result.ok
        assert flaky.calls == 3
        assert clock.sleeps == [2.0, 2.0]
        assert result.trace is not None
        assert [a.delay_before_ms for a in result.trace.attempts] == [0.0, 2000.0, 2000.0]

    async def test_retry_after_is_honoured(self, make_orchestrator: Build, clock: FakeClock) -> None:
        """A provider's Retry-After lengthens the wait."""
        flaky = FakeProvider("a", outcomes=(transient(retry_after=4.0),))
        policy = RetryPolicy(max_attempts=2, backoff="none", max_delay=10.0)
        await make_orchestrator([flaky], retry=policy).asend(Message(recipient="x", text="hi"))
        assert clock.sleeps == [4.0]

    async def test_retry_after_beyond_the_cap_moves_on(self, make_orchestrator: Build, clock: FakeClock) -> None:
        """A Retry-After longer than max_delay ends retrying there instead of waiting past the cap."""
        flaky, backup = FakeProvider("a", outcomes=(transient(retry_after=60.0),)), FakeProvider("b")
        policy = RetryPolicy(max_attempts=3, max_delay=5.0)
        result = await make_orchestrator([flaky, backup], retry=policy).asend(Message(recipient="x", text="hi"))
        assert flaky.calls == 1
        assert clock.sleeps == []
        assert result.provider == "b"

    async def test_permanent_is_never_retried(self, make_orchestrator: Build) -> None:
        """A permanent error is not retried, whatever the budget."""
        bad = FakeProvider("a", outcomes=(permanent(),))
        result = await make_orchestrator([bad], retry=RetryPolicy(max_attempts=5)).asend(
            Message(recipient="x", text="h")
        )
        assert bad.calls == 1
        assert result.status == "failed"
        assert result.error is not None
        assert result.error.provider == "a"

    async def test_provider_policy_overrides_default(self, make_orchestrator: Build) -> None:
        """A provider's own retry policy wins over the orchestrator's."""
        flaky = FakeProvider("a", outcomes=(transient(), transient()), retry_policy=RetryPolicy(max_attempts=3))
        await make_orchestrator([flaky], retry=RetryPolicy(max_attempts=1)).asend(Message(recipient="x", text="hi"))
        assert flaky.calls == 3

    async def test_retry_on_codes(self, make_orchestrator: Build) -> None:
        """retry_on may name codes: only those are retried."""
        flaky = FakeProvider("a", outcomes=(transient("other"),))
        policy = RetryPolicy(max_attempts=3, retry_on=("rate_limited",))
        result = await make_orchestrator([flaky], retry=policy).asend(Message(recipient="x", text="hi"))
        assert flaky.calls == 1
        assert not result.ok

    def test_permanent_cannot_be_listed(self) -> None:
        """Asking to retry every permanent error is refused."""
        with pytest.raises(ConfigurationError, match="permanent"):
            RetryPolicy(retry_on=("permanent",))


class TestAmbiguity:
    async def test_ambiguous_stops_everything_by_default(self, make_orchestrator: Build) -> None:
        """After an ambiguous failure nothing is retried or fallen back to; the result is unknown."""
        unsure, backup = FakeProvider("a", outcomes=(DeliveredWithError(ambiguous()),)), FakeProvider("b")
        orchestrator = make_orchestrator([unsure, backup], retry=RetryPolicy(max_attempts=3))
        result = await orchestrator.asend(Message(recipient="x", text="hi"), trace=True)
        assert result.status == "unknown"
        assert (unsure.calls, backup.calls) == (1, 0)
        assert result.trace is not None
        assert result.trace.possibly_delivered

    async def test_idempotent_provider_retries_ambiguous(self, make_orchestrator: Build) -> None:
        """A provider declaring idempotent sends is retried after an ambiguous failure, and delivers once."""
        safe = FakeProvider("a", outcomes=(DeliveredWithError(ambiguous()),), idempotent=True)
        result = await make_orchestrator([safe], retry=RetryPolicy(max_attempts=2)).asend(
            Message(recipient="x", text="hi")
        )
        assert result.ok
        assert safe.calls == 2
        assert safe.delivered_count == 1

    async def test_user_opt_in_retries_ambiguous(self, make_orchestrator: Build) -> None:
        """retry_ambiguous=True retries even a non-idempotent provider."""
        unsure = FakeProvider("a", outcomes=(ambiguous(),))
        policy = RetryPolicy(max_attempts=2, retry_ambiguous=True)
        result = await make_orchestrator([unsure], retry=policy).asend(Message(recipient="x", text="hi"))
        assert result.ok
        assert unsure.calls == 2

    async def test_fallback_on_ambiguous_opt_in(self, make_orchestrator: Build) -> None:
        """fallback_on_ambiguous=True moves on to the next provider."""
        unsure, backup = FakeProvider("a", outcomes=(ambiguous(),)), FakeProvider("b")
        orchestrator = make_orchestrator([unsure, backup], fallback_on_ambiguous=True)
        result = await orchestrator.asend(Message(recipient="x", text="hi"))
        assert result.provider == "b"


class TestExceptions:
    async def test_provider_exception_becomes_a_classified_error(self, make_orchestrator: Build) -> None:
        """An exception escaping send() is a permanent provider_exception, and fallback goes on."""
        broken, backup = FakeProvider("a", outcomes=(RuntimeError("bug"),)), FakeProvider("b")
        result = await make_orchestrator([broken, backup]).asend(Message(recipient="x", text="hi"), trace=True)
        assert result.provider == "b"
        assert result.trace is not None
        error = result.trace.attempts[0].error
        assert error is not None
        assert error.code == ErrorCode.PROVIDER_EXCEPTION
        assert "RuntimeError: bug" in error.message

    @pytest.mark.parametrize(
        ("exc", "error_class"),
        [
            (ConnectionRefusedError("refused"), ErrorClass.TRANSIENT),
            (TimeoutError(), ErrorClass.AMBIGUOUS),
            (ConnectionResetError("reset"), ErrorClass.AMBIGUOUS),
            (ValueError("oops"), ErrorClass.PERMANENT),
        ],
    )
    async def test_exception_classes(self, make_orchestrator: Build, exc: Exception, error_class: ErrorClass) -> None:
        """Network exceptions are classified by whether anything may have been sent."""
        result = await make_orchestrator([FakeProvider("a", outcomes=(exc,))]).asend(Message(recipient="x", text="h"))
        assert result.error is not None
        assert result.error.error_class is error_class

    async def test_configuration_error_from_provider_raises(self, make_orchestrator: Build) -> None:
        """A ConfigurationError raised by a provider stops orchestration."""
        broken, backup = FakeProvider("a", outcomes=(ConfigurationError("bad credentials"),)), FakeProvider("b")
        with pytest.raises(ConfigurationError, match="bad credentials"):
            await make_orchestrator([broken, backup]).asend(Message(recipient="x", text="hi"))
        assert backup.calls == 0

    async def test_non_result_return_is_a_provider_error(self, make_orchestrator: Build) -> None:
        """A provider returning something else than a DeliveryResult is reported, not trusted."""

        class Sloppy:
            name, channel = "sloppy", "fake"

            async def send(self, message: Message, address: str) -> object:
                return True

        result = await make_orchestrator([Sloppy()]).asend(Message(recipient="x", text="hi"))
        assert result.error is not None
        assert "returned bool" in result.error.message

    def test_invalid_configuration_raises(self) -> None:
        """Duplicate names, empty lists and bad providers raise at construction."""
        pm = isolated_plugin_manager()
        with pytest.raises(ConfigurationError, match="at least one provider"):
            Orchestrator([], plugin_manager=pm)
        with pytest.raises(ConfigurationError, match="named 'a'"):
            Orchestrator([FakeProvider("a"), FakeProvider("a")], plugin_manager=pm)
        with pytest.raises(ConfigurationError, match="channel"):
            Orchestrator([type("P", (), {"name": "p", "send": lambda self, m, a: None})()], plugin_manager=pm)
        with pytest.raises(ConfigurationError, match="unknown providers: zz"):
            Orchestrator([FakeProvider("a")], rate_limits={"zz": RateLimit(per_second=1)}, plugin_manager=pm)

    async def test_send_takes_messages_only(self, make_orchestrator: Build) -> None:
        """Passing something else than a Message is invalid input."""
        with pytest.raises(InvalidMessageError, match="takes a Message, got dict"):
            await make_orchestrator([FakeProvider()]).asend({"text": "hi"})  # type: ignore[arg-type]


class TestHealth:
    async def test_unhealthy_provider_is_skipped_and_cached(self, make_orchestrator: Build, clock: FakeClock) -> None:
        """An unhealthy provider is not called; its health is checked once per TTL."""
        sick, backup = FakeProvider("a"), FakeProvider("b")
        sick.set_health(False, "down for maintenance")
        orchestrator = make_orchestrator([sick, backup], health=HealthPolicy(ttl=10))
        for _ in range(3):
            result = await orchestrator.asend(Message(recipient="x", text="hi"), trace=True)
            assert result.provider == "b"
        assert sick.calls == 0
        assert sick.health_calls == 1
        assert result.trace is not None
        assert result.trace.skipped[0].detail == "down for maintenance"
        clock.advance(11)
        await orchestrator.asend(Message(recipient="x", text="hi"))
        assert sick.health_calls == 2

    async def test_strict_mode_raises_when_none_is_healthy(self, make_orchestrator: Build) -> None:
        """Strict health mode raises instead of returning a failure."""
        sick = FakeProvider("a")
        sick.set_health(False, "gone")
        with pytest.raises(NoHealthyProviderError, match="a: gone"):
            await make_orchestrator([sick], health=HealthPolicy(strict=True)).asend(Message(recipient="x", text="hi"))

    async def test_failing_health_check_means_unhealthy(self, make_orchestrator: Build) -> None:
        """A health check that raises counts as unhealthy, not as a crash."""
        sick, backup = FakeProvider("a"), FakeProvider("b")
        sick.script_health(OSError("no route"))
        result = await make_orchestrator([sick, backup]).asend(Message(recipient="x", text="hi"), trace=True)
        assert result.provider == "b"
        assert result.trace is not None
        assert "OSError: no route" in result.trace.skipped[0].detail

    async def test_health_checks_can_be_disabled(self, make_orchestrator: Build) -> None:
        """With health checks off, health() is never called."""
        provider = FakeProvider("a")
        await make_orchestrator([provider], health=HealthPolicy(enabled=False)).asend(Message(recipient="x", text="hi"))
        assert provider.health_calls == 0

    async def test_concurrent_sends_share_one_check(self, make_orchestrator: Build) -> None:
        """Many messages at once cause one health check, not one each."""
        provider = FakeProvider("a")
        orchestrator = make_orchestrator([provider])
        await asyncio.gather(*(orchestrator.asend(Message(recipient="x", text="hi")) for _ in range(20)))
        assert provider.health_calls == 1

    async def test_health_report(self, make_orchestrator: Build) -> None:
        """ahealth() reports every provider by name."""
        a, b = FakeProvider("a"), FakeProvider("b")
        b.set_health(False, "nope")
        report = await make_orchestrator([a, b]).ahealth()
        assert report["a"].healthy
        assert not report["b"].healthy


class TestBreaker:
    async def test_open_breaker_costs_no_call(self, make_orchestrator: Build, clock: FakeClock) -> None:
        """After the threshold the provider is skipped until the cooldown, then probed."""
        dead, backup = FakeProvider("a", outcomes=tuple(transient() for _ in range(3))), FakeProvider("b")
        recorder = HookRecorder()
        orchestrator = make_orchestrator(
            [dead, backup], breaker=BreakerPolicy(failure_threshold=3, cooldown=30), hooks=[recorder]
        )
        for _ in range(10):
            assert (await orchestrator.asend(Message(recipient="x", text="hi"))).provider == "b"
        assert dead.calls == 3
        assert orchestrator.breaker_state("a") == "open"
        assert [e.state for e in recorder.of("breaker_changed")] == ["open"]
        clock.advance(31)
        result = await orchestrator.asend(Message(recipient="x", text="hi"))
        assert result.provider == "a"
        assert orchestrator.breaker_state("a") == "closed"
        assert [e.state for e in recorder.of("breaker_changed")] == ["open", "half_open", "closed"]

    async def test_permanent_errors_do_not_open_it(self, make_orchestrator: Build) -> None:
        """A bad recipient says nothing about the provider's health."""
        provider = FakeProvider("a", outcomes=tuple(permanent() for _ in range(10)))
        orchestrator = make_orchestrator([provider], breaker=BreakerPolicy(failure_threshold=2))
        for _ in range(10):
            await orchestrator.asend(Message(recipient="x", text="hi"))
        assert orchestrator.breaker_state("a") == "closed"


class TestHooks:
    async def test_events_in_order(self, make_orchestrator: Build) -> None:
        """Hooks see start, attempts, fallback and result of one send, tied by send_id."""
        recorder = HookRecorder()
        a, b = FakeProvider("a", outcomes=(permanent(),)), FakeProvider("b")
        await make_orchestrator([a, b], hooks=[recorder]).asend(Message(recipient="x", text="hi"))
        names = [name.removeprefix("broadcastio_") for name, _ in recorder.calls]
        assert names == ["send_started", "health_changed", "attempt", "health_changed", "fallback", "attempt", "result"]
        assert len({event.send_id for name, event in recorder.calls if hasattr(event, "send_id")}) == 1

    async def test_raising_hook_changes_nothing(self, make_orchestrator: Build) -> None:
        """A hook that raises is logged and swallowed; other hooks still run."""

        class Broken:
            @hookimpl
            def broadcastio_result(self, event: object) -> None:
                raise RuntimeError("hook bug")

        recorder = HookRecorder()
        result = await make_orchestrator([FakeProvider()], hooks=[Broken(), recorder]).asend(
            Message(recipient="x", text="hi")
        )
        assert result.ok
        assert len(recorder.of("result")) == 1

    async def test_a_raising_delivery_reports_aborted_instead_of_a_result(self, make_orchestrator: Build) -> None:
        """When delivery raises, observers get send_aborted (no result), so they can close what they opened."""
        recorder = HookRecorder()
        broken = FakeProvider("a", outcomes=(ConfigurationError("bad credentials"),))
        orchestrator = make_orchestrator([broken], hooks=[recorder])
        with pytest.raises(ConfigurationError):
            await orchestrator.asend(Message(recipient="x", text="hi"))
        sick = FakeProvider("b")
        sick.set_health(False, "down")
        with pytest.raises(NoHealthyProviderError):
            await make_orchestrator([sick], hooks=[recorder], health=HealthPolicy(strict=True)).asend(
                Message(recipient="x", text="hi")
            )
        aborted = recorder.of("send_aborted")
        assert [event.error_type for event in aborted] == ["ConfigurationError", "NoHealthyProviderError"]
        assert "bad credentials" in aborted[0].error
        assert recorder.of("result") == []
        started = {event.send_id for event in recorder.of("send_started")}
        assert {event.send_id for event in aborted} == started

    async def test_seed_callables(self, make_orchestrator: Build) -> None:
        """on_attempt, on_success and on_failure are called through the hook mechanism."""
        seen: list[tuple[str, object]] = []
        orchestrator = make_orchestrator(
            [FakeProvider("a", outcomes=(permanent(),))],
            on_attempt=lambda e: seen.append(("attempt", e.attempt.ok)),
            on_success=lambda e: seen.append(("success", e.result.provider)),
            on_failure=lambda e: seen.append(("failure", e.result.status)),
        )
        await orchestrator.asend(Message(recipient="x", text="1"))
        await orchestrator.asend(Message(recipient="x", text="2"))
        assert seen == [("attempt", False), ("failure", "failed"), ("attempt", True), ("success", "a")]


class TestFacades:
    def test_sync_send_in_a_plain_script(self) -> None:
        """orch.send(message, trace=True) works without an event loop."""
        provider = FakeProvider("a")
        with Orchestrator([provider], plugin_manager=isolated_plugin_manager()) as orchestrator:
            result = orchestrator.send(Message(recipient="x", text="hi"), trace=True)
            again = orchestrator.send(Message(recipient="x", text="again"))
        assert result.ok
        assert result.trace is not None
        assert again.ok
        assert provider.closed == 1

    def test_sync_send_keeps_the_callers_context(self) -> None:
        """Context variables set by the caller (a span, a request id) reach the provider."""
        import contextvars

        request_id: contextvars.ContextVar[str | None] = contextvars.ContextVar("request_id", default=None)
        seen: list[str | None] = []

        class Recording(FakeProvider):
            async def send(self, message: Message, address: str) -> DeliveryResult:
                seen.append(request_id.get())
                return await super().send(message, address)

        token = request_id.set("req-7")
        try:
            with Orchestrator([Recording()], plugin_manager=isolated_plugin_manager()) as orchestrator:
                orchestrator.send(Message(recipient="x", text="hi"))
        finally:
            request_id.reset(token)
        assert seen == ["req-7"]

    def test_sync_broadcast(self) -> None:
        """The sync broadcast yields every result."""
        with Orchestrator([FakeProvider("a", keep=None)], plugin_manager=isolated_plugin_manager()) as orchestrator:
            results = list(orchestrator.broadcast(Message(recipient="x", text=str(i)) for i in range(50)))
        assert len(results) == 50
        assert all(r.ok for r in results)

    async def test_sync_facade_refuses_a_running_loop(self, make_orchestrator: Build) -> None:
        """Calling send() inside async code says to use asend()."""
        with pytest.raises(UsageError, match="await orchestrator.asend"):
            make_orchestrator([FakeProvider()]).send(Message(recipient="x", text="hi"))

    async def test_sync_provider_methods(self, make_orchestrator: Build) -> None:
        """A provider written with plain methods works (run in a thread)."""
        provider = SyncFakeProvider()
        provider.healthy = True
        result = await make_orchestrator([provider]).asend(Message(recipient="x", text="hi"))
        assert result.ok
        assert len(provider.sent) == 1

    async def test_closed_orchestrator_refuses(self, make_orchestrator: Build) -> None:
        """After aclose() sending is a usage error."""
        orchestrator = make_orchestrator([FakeProvider()])
        await orchestrator.aclose()
        with pytest.raises(UsageError, match="closed"):
            await orchestrator.asend(Message(recipient="x", text="hi"))


class TestRateLimits:
    async def test_rate_limit_spaces_attempts(self, make_orchestrator: Build, clock: FakeClock) -> None:
        """A provider rate limit waits instead of failing."""
        provider = FakeProvider("a")
        orchestrator = make_orchestrator([provider], rate_limits={"a": RateLimit(per_second=2, burst=1)})
        for _ in range(5):
            assert (await orchestrator.asend(Message(recipient="x", text="hi"))).ok
        assert clock.time == pytest.approx(2.0)


def test_result_type_is_exported() -> None:
    """DeliveryResult is the type send returns."""
    assert DeliveryResult.success("x").ok
    assert ProviderHealth(healthy=True).healthy
