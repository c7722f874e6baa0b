"""Shared limits through a Coordinator: orchestrators sharing a MemoryCoordinator act like processes."""

from __future__ import annotations

import asyncio

import pytest
from broadcastio import (
    BreakerPolicy,
    ConfigurationError,
    Coordinator,
    DeliveryError,
    DeliveryResult,
    ErrorClass,
    ErrorCode,
    Message,
    Orchestrator,
    PluginError,
    RateLimit,
    build_orchestrator,
    hookimpl,
)
from broadcastio.config import ConfigFileError, parse_config
from broadcastio.plugins import CoordinatorType, PluginManager
from broadcastio.testing import FakeClock, FakeProvider, MemoryCoordinator, isolated_plugin_manager

MESSAGE = Message(recipient="+15550100", text="hi")


def failing(count: int) -> tuple[DeliveryError, ...]:
    return tuple(DeliveryError.transient("busy", "down") for _ in range(count))


def orchestrator(
    provider: object, coordinator: Coordinator | None, clock: FakeClock, **options: object
) -> Orchestrator:
    return Orchestrator(
        [provider],
        coordinator=coordinator,
        clock=clock,
        plugin_manager=isolated_plugin_manager(),
        **options,  # type: ignore[arg-type]
    )


class Concurrent(FakeProvider):
    """Counts how many sends run at once across every orchestrator sharing it."""

    def __init__(self, name: str, peak: list[int]) -> None:
        super().__init__(name, "sms")
        self.peak = peak
        self.now = [0]

    async def send(self, message: Message, address: str) -> DeliveryResult:
        self.now[0] += 1
        self.peak[0] = max(self.peak[0], self.now[0])
        try:
            await asyncio.sleep(0.005)
        finally:
            self.now[0] -= 1
        return await super().send(message, address)


class TestRateLimit:
    async def test_one_bucket_for_every_orchestrator(self) -> None:
        """Two orchestrators at 10/s each share one 10/s bucket: 10 sends take 0.9 s of the shared clock."""
        clock = FakeClock()
        coordinator = MemoryCoordinator(clock=clock)
        limits = {"sms": RateLimit(per_second=10)}
        first = orchestrator(FakeProvider("sms", "sms"), coordinator, clock, rate_limits=limits)
        second = orchestrator(FakeProvider("sms", "sms"), coordinator, clock, rate_limits=limits)
        for _ in range(5):
            assert (await first.asend(MESSAGE)).ok
            assert (await second.asend(MESSAGE)).ok
        assert clock.monotonic() == pytest.approx(0.9, abs=1e-6)
        assert coordinator.calls.count("take_token") >= 10

    async def test_without_a_coordinator_each_orchestrator_has_its_own_bucket(self) -> None:
        """The same sends without a coordinator wait about half as long: the limit is per process."""
        clock = FakeClock()
        limits = {"sms": RateLimit(per_second=10)}
        first = orchestrator(FakeProvider("sms", "sms"), None, clock, rate_limits=limits)
        second = orchestrator(FakeProvider("sms", "sms"), None, clock, rate_limits=limits)
        for _ in range(5):
            await first.asend(MESSAGE)
            await second.asend(MESSAGE)
        assert clock.monotonic() == pytest.approx(0.4, abs=1e-6)


class TestInFlight:
    async def test_the_cap_holds_across_orchestrators(self) -> None:
        """max_in_flight = 2 on three orchestrators: never more than 2 sends at once, and 2 are reached."""
        peak = [0]
        provider = Concurrent("sms", peak)
        coordinator = MemoryCoordinator()
        built = [
            Orchestrator(
                [provider], coordinator=coordinator, max_in_flight={"sms": 2}, plugin_manager=isolated_plugin_manager()
            )
            for _ in range(3)
        ]

        async def drain(orch: Orchestrator) -> int:
            return sum([r.ok async for r in orch.abroadcast([MESSAGE] * 10, concurrency=4)])

        delivered = await asyncio.wait_for(asyncio.gather(*(drain(orch) for orch in built)), timeout=20)
        assert sum(delivered) == 30
        assert peak[0] == 2
        assert coordinator.in_flight("sms") == 0

    async def test_a_slot_is_given_back_after_a_failure(self) -> None:
        """A failed attempt releases its shared slot."""
        clock = FakeClock()
        coordinator = MemoryCoordinator(clock=clock)
        orch = orchestrator(
            FakeProvider("sms", "sms", outcomes=failing(1)), coordinator, clock, max_in_flight={"sms": 1}
        )
        assert not (await orch.asend(MESSAGE)).ok
        assert coordinator.in_flight("sms") == 0
        assert (await orch.asend(MESSAGE)).ok

    async def test_a_dead_holders_slot_returns_after_its_lease(self) -> None:
        """A slot taken and never released is free again once its lease runs out."""
        clock = FakeClock()
        coordinator = MemoryCoordinator(lease=5.0, clock=clock)
        assert (await coordinator.acquire_slot("sms", 1)).granted
        assert not (await coordinator.acquire_slot("sms", 1)).granted
        clock.advance(5.0)
        assert (await coordinator.acquire_slot("sms", 1)).granted


class TestSharedBreaker:
    async def test_a_breaker_opened_in_one_is_open_for_the_others(self) -> None:
        """B skips the provider A's breaker opened: circuit_open, no call, transient with the cooldown left."""
        clock = FakeClock()
        coordinator = MemoryCoordinator(clock=clock)
        policy = BreakerPolicy(failure_threshold=1, cooldown=10.0)
        a_provider, b_provider = FakeProvider("sms", "sms", outcomes=failing(1)), FakeProvider("sms", "sms")
        a = orchestrator(a_provider, coordinator, clock, breaker=policy)
        b = orchestrator(b_provider, coordinator, clock, breaker=policy)
        assert not (await a.asend(MESSAGE)).ok
        assert a.breaker_state("sms") == "open"
        clock.advance(2.0)
        result = await b.asend(MESSAGE, trace=True)
        assert b_provider.calls == 0
        assert result.error is not None
        assert result.error.code == ErrorCode.NO_PROVIDER_AVAILABLE
        assert result.error.error_class is ErrorClass.TRANSIENT
        assert result.error.retry_after == pytest.approx(8.0)
        assert result.trace is not None
        assert result.trace.skipped[0].reason == "circuit_open"
        assert b.breaker_state("sms") == "closed"  # B's own breaker counts only B's failures

    async def test_half_open_admits_one_probe_across_processes(self) -> None:
        """After the cooldown one probe is admitted across every process; its success closes it for all."""
        clock = FakeClock()
        coordinator = MemoryCoordinator(clock=clock)
        policy = BreakerPolicy(failure_threshold=1, cooldown=10.0, half_open_probes=1)
        await coordinator.open_provider("sms", 10.0)
        clock.advance(10.0)
        probe = await coordinator.check_breaker("sms", policy)
        assert probe.granted
        assert probe.token
        other = await coordinator.check_breaker("sms", policy)
        assert not other.granted
        assert 0 < other.wait <= 1.0
        await coordinator.probe_done("sms", probe.token, "ok", policy)
        after = await coordinator.check_breaker("sms", policy)
        assert after.granted
        assert not after.token

    async def test_a_failed_probe_opens_it_again_for_everyone(self) -> None:
        """A probe sent by an orchestrator whose own breaker is closed still reopens the shared breaker."""
        clock = FakeClock()
        coordinator = MemoryCoordinator(clock=clock)
        policy = BreakerPolicy(failure_threshold=5, cooldown=10.0)
        await coordinator.open_provider("sms", 10.0)
        clock.advance(10.0)
        provider = FakeProvider("sms", "sms", outcomes=failing(1))
        orch = orchestrator(provider, coordinator, clock, breaker=policy)
        assert not (await orch.asend(MESSAGE)).ok
        assert provider.calls == 1
        assert orch.breaker_state("sms") == "closed"
        verdict = await coordinator.check_breaker("sms", policy)
        assert not verdict.granted
        assert verdict.wait == pytest.approx(10.0)

    async def test_a_probe_ended_without_a_verdict_is_given_back(self) -> None:
        """A permanent failure says nothing about the provider: the probe is handed back, still half-open."""
        clock = FakeClock()
        coordinator = MemoryCoordinator(clock=clock)
        policy = BreakerPolicy(failure_threshold=1, cooldown=1.0)
        await coordinator.open_provider("sms", 1.0)
        clock.advance(1.0)
        orch = orchestrator(
            FakeProvider("sms", "sms", outcomes=(DeliveryError.permanent("bad", "no"),)),
            coordinator,
            clock,
            breaker=policy,
        )
        assert not (await orch.asend(MESSAGE)).ok
        again = await coordinator.check_breaker("sms", policy)
        assert again.granted
        assert again.token

    async def test_a_disabled_breaker_never_asks(self) -> None:
        """BreakerPolicy(enabled=False): the coordinator is not asked about breakers."""
        clock = FakeClock()
        coordinator = MemoryCoordinator(clock=clock)
        orch = orchestrator(FakeProvider("sms", "sms"), coordinator, clock, breaker=BreakerPolicy(enabled=False))
        assert (await orch.asend(MESSAGE)).ok
        assert "check_breaker" not in coordinator.calls


class TestUnreachable:
    async def test_nothing_is_sent_and_the_message_is_deferred(self) -> None:
        """An unreachable store: no attempt on any provider, a transient coordination_unavailable with retry_after."""
        clock = FakeClock()
        coordinator = MemoryCoordinator(clock=clock)
        coordinator.unreachable = True
        first, second = FakeProvider("sms", "sms"), FakeProvider("backup", "sms")
        orch = Orchestrator(
            [first, second],
            coordinator=coordinator,
            clock=clock,
            rate_limits={"sms": RateLimit(per_second=5)},
            plugin_manager=isolated_plugin_manager(),
        )
        result = await orch.asend(MESSAGE)
        assert (first.calls, second.calls) == (0, 0)
        assert result.status == "failed"
        assert result.error is not None
        assert result.error.code == ErrorCode.COORDINATION_UNAVAILABLE
        assert result.error.error_class is ErrorClass.TRANSIENT
        assert result.error.retry_after == 1.0
        assert result.error.provider == "sms"
        coordinator.unreachable = False
        assert (await orch.asend(MESSAGE)).ok

    async def test_a_lost_store_after_the_attempt_keeps_the_result(self) -> None:
        """Publishing a breaker opening fails: the attempt's own result is returned all the same."""
        clock = FakeClock()

        class Flaky(MemoryCoordinator):
            async def open_provider(self, provider: str, cooldown: float) -> None:
                self.unreachable = True
                await super().open_provider(provider, cooldown)

        flaky = Flaky(clock=clock)
        orch = orchestrator(
            FakeProvider("sms", "sms", outcomes=failing(1)), flaky, clock, breaker=BreakerPolicy(failure_threshold=1)
        )
        result = await orch.asend(MESSAGE)
        assert result.error is not None
        assert result.error.code == "busy"
        assert orch.breaker_state("sms") == "open"
        assert flaky.calls[-1] == "open_provider"


class TestWiring:
    def test_a_coordinator_must_be_one(self) -> None:
        """Orchestrator(coordinator=...) refuses anything that is not a Coordinator."""
        with pytest.raises(ConfigurationError, match="coordinator"):
            Orchestrator([FakeProvider()], coordinator=object(), plugin_manager=isolated_plugin_manager())  # type: ignore[arg-type]

    async def test_aclose_closes_the_coordinator(self) -> None:
        """The orchestrator's aclose closes its coordinator."""
        closed: list[bool] = []

        class Closing(MemoryCoordinator):
            async def aclose(self) -> None:
                closed.append(True)

        orch = Orchestrator([FakeProvider()], coordinator=Closing(), plugin_manager=isolated_plugin_manager())
        await orch.aclose()
        assert closed == [True]

    def test_build_orchestrator_passes_it_on(self) -> None:
        """build_orchestrator(coordinator=...) gives the orchestrator that coordinator."""
        coordinator = MemoryCoordinator()
        config = parse_config('[[providers]]\nname = "m"\ntype = "memory"\nrate_limit = { per_second = 5 }\n')
        orch = build_orchestrator(config, coordinator=coordinator, plugin_manager=isolated_plugin_manager())
        assert orch.coordinator is coordinator
        orch.close()


class MemoryCoordinatorPlugin:
    """Registers MemoryCoordinator as coordinator type ``memory`` (the tests' stand-in for broadcastio-redis)."""

    @hookimpl
    def broadcastio_coordinator_types(self) -> list[CoordinatorType]:
        return [CoordinatorType(name="memory", factory=MemoryCoordinator, description="in memory")]


def manager_with_memory_coordinator() -> PluginManager:
    manager = isolated_plugin_manager()
    manager.register(MemoryCoordinatorPlugin(), name="memory-coordinator")
    return manager


PROVIDER = '[[providers]]\nname = "m"\ntype = "memory"\n'


class TestConfigSection:
    def test_the_section_builds_the_coordinator(self) -> None:
        """[coordination] type + settings: build_orchestrator builds it through the registered type."""
        config = parse_config(f'[coordination]\ntype = "memory"\nsettings = {{ lease = 7.5 }}\n{PROVIDER}')
        orch = build_orchestrator(config, plugin_manager=manager_with_memory_coordinator())
        assert isinstance(orch.coordinator, MemoryCoordinator)
        assert orch.coordinator.lease == 7.5
        orch.close()

    def test_an_explicit_coordinator_wins(self) -> None:
        """coordinator= passed to build_orchestrator is used instead of the section."""
        explicit = MemoryCoordinator()
        config = parse_config(f'[coordination]\ntype = "memory"\n{PROVIDER}')
        orch = build_orchestrator(config, plugin_manager=manager_with_memory_coordinator(), coordinator=explicit)
        assert orch.coordinator is explicit
        orch.close()

    def test_an_unknown_type_names_the_line(self) -> None:
        """A type no plugin registered is a ConfigFileError at the type's line, listing the installed ones."""
        config = parse_config(f'{PROVIDER}[coordination]\ntype = "nope"\n', source="b.toml")
        with pytest.raises(ConfigFileError, match=r"b\.toml:5: coordination: unknown coordinator type 'nope'"):
            build_orchestrator(config, plugin_manager=manager_with_memory_coordinator())

    def test_secrets_from_the_environment_are_masked(self) -> None:
        """A setting from ${VAR} is masked in repr and in the error of a factory that refuses it."""
        text = f'[coordination]\ntype = "memory"\nsettings = {{ lease = 1, clock = "${{SECRET}}" }}\n{PROVIDER}'
        config = parse_config(text, env={"SECRET": "hunter2-hunter2"})
        assert config.coordination is not None
        assert "hunter2" not in repr(config.coordination)

        class Refusing(MemoryCoordinatorPlugin):
            @hookimpl
            def broadcastio_coordinator_types(self) -> list[CoordinatorType]:
                def refuse(**settings: object) -> Coordinator:
                    raise ConfigurationError(f"bad clock {settings['clock']}")

                return [CoordinatorType(name="memory", factory=refuse)]

        manager = isolated_plugin_manager()
        manager.register(Refusing(), name="refusing")
        with pytest.raises(ConfigFileError) as caught:
            build_orchestrator(config, plugin_manager=manager)
        assert "hunter2" not in str(caught.value)
        assert "***" in str(caught.value)

    def test_unknown_keys_are_refused(self) -> None:
        """[coordination] takes type and settings only."""
        with pytest.raises(ConfigFileError, match="unknown key 'url'"):
            parse_config(f'[coordination]\ntype = "memory"\nurl = "redis://x"\n{PROVIDER}')

    def test_a_duplicate_type_is_refused(self) -> None:
        """Two plugins registering one coordinator type name is a PluginError."""
        manager = manager_with_memory_coordinator()
        manager.register(MemoryCoordinatorPlugin(), name="again")
        with pytest.raises(PluginError, match="registered by both"):
            manager.coordinator_types()
