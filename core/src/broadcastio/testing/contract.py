"""The provider contract suite: subclass it in a plugin's tests.

Provide three pytest fixtures in the subclass (or a conftest):

- ``provider_factory``: a callable returning a new provider wired to a
  working peer (a local server the tests started);
- ``deliverable_address``: an address that peer accepts;
- ``unreachable_provider_factory``: a callable returning a provider whose
  peer does not answer (a closed port on 127.0.0.1).

and, in the subclass itself, ``secret_values``: the strings (tokens,
passwords) the provider holds that must never appear in its ``repr``;
``()`` when it holds none. Leaving it out fails every test that needs it,
saying so: a forgotten secret is the one mistake this suite exists to catch.

Providers may be plain or ``async`` (as :class:`~broadcastio.ProviderLike`
allows): plain ``send``/``health``/``aclose`` run in a worker thread, as the
orchestrator runs them. ``health`` is optional; without it the health tests
are skipped. Each test runs its whole scenario in one event loop, provider
close included.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

import pytest

from broadcastio._errors import ErrorClass
from broadcastio._models import DeliveryResult, Message, ProviderHealth, decode_result, encode_result
from broadcastio._orchestrator import Orchestrator
from broadcastio._provider import ProviderLike, check_provider
from broadcastio.testing._switches import isolated_plugin_manager

__all__ = ["ProviderContract"]

T = TypeVar("T")
ProviderFactory = Callable[[], Any]


def _run(coroutine: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coroutine)


async def _call(provider: Any, method: str, *args: Any) -> Any:
    """``provider.method(*args)``, awaited when async, in a worker thread when plain."""
    function = getattr(provider, method)
    if inspect.iscoroutinefunction(function):
        return await function(*args)
    result = await asyncio.to_thread(function, *args)
    return await result if inspect.isawaitable(result) else result


async def _closed(provider: Any) -> None:
    if getattr(provider, "aclose", None) is not None:
        await _call(provider, "aclose")


async def _health_of(factory: ProviderFactory) -> ProviderHealth | None:
    """One health check of a fresh provider, closed afterwards; None without ``health()``."""
    provider = factory()
    try:
        if getattr(provider, "health", None) is None:
            return None
        health: ProviderHealth = await _call(provider, "health")
        return health
    finally:
        await _closed(provider)


def _checked_health(factory: ProviderFactory) -> ProviderHealth:
    health = _run(_health_of(factory))
    if health is None:
        pytest.skip("the provider has no health() (it is optional)")
    return health


async def _send(provider: Any, address: str, text: str) -> DeliveryResult:
    result: DeliveryResult = await _call(provider, "send", Message(recipient=address, text=text), address)
    return result


class ProviderContract:
    """What every broadcastio provider must do."""

    @pytest.fixture
    def secret_values(self) -> tuple[str, ...]:
        pytest.fail(
            f"{type(self).__name__} must define the 'secret_values' fixture: the tokens and passwords its "
            "provider holds, which must never appear in repr, logs or results (return () if it holds none)",
            pytrace=False,
        )

    def test_meets_the_provider_protocol(self, provider_factory: ProviderFactory) -> None:
        """The provider has a name, a channel and a send(message, address) method, plain or async."""
        provider = provider_factory()
        check_provider(provider)
        assert isinstance(provider, ProviderLike)
        _run(_closed(provider))

    def test_send_delivers_once(self, provider_factory: ProviderFactory, deliverable_address: str) -> None:
        """One send to a working peer returns a delivered result."""

        async def scenario() -> DeliveryResult:
            provider = provider_factory()
            try:
                return await _send(provider, deliverable_address, "contract")
            finally:
                await _closed(provider)

        result = _run(scenario())
        assert isinstance(result, DeliveryResult)
        assert result.status == "delivered", result.error
        assert result.error is None
        assert result.provider_message_id is None or isinstance(result.provider_message_id, str)
        assert decode_result(encode_result(result)) == result

    def test_unreachable_peer_is_a_returned_failure(
        self, unreachable_provider_factory: ProviderFactory, deliverable_address: str
    ) -> None:
        """A peer that refuses connections gives a failed result, not an exception,
        and nothing was sent, so it is transient."""

        async def scenario() -> DeliveryResult:
            provider = unreachable_provider_factory()
            try:
                return await _send(provider, deliverable_address, "contract")
            finally:
                await _closed(provider)

        result = _run(scenario())
        assert result.status == "failed"
        assert result.error is not None
        assert result.error.error_class is ErrorClass.TRANSIENT

    def test_health_of_working_peer(self, provider_factory: ProviderFactory) -> None:
        """health() of a provider with a working peer is healthy."""
        health = _checked_health(provider_factory)
        assert isinstance(health, ProviderHealth)
        assert health.healthy, health.detail

    def test_unreachable_peer_is_unhealthy(self, unreachable_provider_factory: ProviderFactory) -> None:
        """health() is honest: an unreachable service is unhealthy."""
        assert not _checked_health(unreachable_provider_factory).healthy

    def test_repr_hides_secrets(self, provider_factory: ProviderFactory, secret_values: tuple[str, ...]) -> None:
        """No secret the provider holds appears in its repr."""
        provider = provider_factory()
        text = repr(provider)
        for secret in secret_values:
            assert secret not in text
        _run(_closed(provider))

    def test_aclose_twice_is_harmless(self, provider_factory: ProviderFactory) -> None:
        """Closing a provider twice does not raise."""

        async def scenario() -> None:
            provider = provider_factory()
            await _closed(provider)
            await _closed(provider)

        _run(scenario())

    def test_delivers_through_the_orchestrator(
        self, provider_factory: ProviderFactory, deliverable_address: str
    ) -> None:
        """The orchestrator delivers through the provider and names it in the result."""

        async def scenario() -> DeliveryResult:
            provider = provider_factory()
            async with Orchestrator([provider], plugin_manager=isolated_plugin_manager()) as orchestrator:
                return await orchestrator.asend(
                    Message(recipient=deliverable_address, text="via orchestrator"), trace=True
                )

        result = _run(scenario())
        assert result.ok, result.error
        assert result.trace is not None
        assert len(result.trace.attempts) == 1
