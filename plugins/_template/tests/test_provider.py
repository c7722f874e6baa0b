"""The Example provider against a local stand-in of its API."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from broadcastio import ConfigurationError, ErrorClass, Message
from broadcastio.plugins import make_plugin_manager
from broadcastio.testing.contract import ProviderContract
from broadcastio.testing.servers import closed_port
from broadcastio_example import ExampleProvider

TOKEN = "test-token"
pytestmark = pytest.mark.filterwarnings("ignore::pytest.PytestDeprecationWarning")


class TestContract(ProviderContract):
    @pytest.fixture
    def provider_factory(self, api_url: str) -> Callable[[], ExampleProvider]:
        return lambda: ExampleProvider(base_url=api_url, token=TOKEN)

    @pytest.fixture
    def deliverable_address(self) -> str:
        return "user-42"

    @pytest.fixture
    def unreachable_provider_factory(self) -> Callable[[], ExampleProvider]:
        return lambda: ExampleProvider(base_url=f"http://127.0.0.1:{closed_port()}", token=TOKEN)

    @pytest.fixture
    def secret_values(self) -> tuple[str, ...]:
        return (TOKEN,)


@pytest.mark.asyncio
async def test_delivers_the_text(api: Any, api_url: str) -> None:
    """The API receives the address and the text."""
    provider = ExampleProvider(base_url=api_url, token=TOKEN)
    result = await provider.send(Message(recipient="user-42", text="hello"), "user-42")
    await provider.aclose()
    assert result.provider_message_id == "msg-1"
    assert api.received == [{"to": "user-42", "text": "hello"}]


@pytest.mark.asyncio
async def test_rate_limit_is_transient_with_retry_after(api: Any, api_url: str) -> None:
    """429 is transient and carries the API's Retry-After."""
    api.reply(429, {"error": "slow down"}, retry_after="7")
    provider = ExampleProvider(base_url=api_url, token=TOKEN)
    result = await provider.send(Message(recipient="user-42", text="hello"), "user-42")
    await provider.aclose()
    assert result.error is not None
    assert result.error.error_class is ErrorClass.TRANSIENT
    assert result.error.retry_after == 7.0


@pytest.mark.asyncio
async def test_unknown_recipient_is_permanent(api: Any, api_url: str) -> None:
    """A 404 for the recipient is permanent."""
    api.reply(404, {"error": "unknown recipient"})
    provider = ExampleProvider(base_url=api_url, token=TOKEN)
    result = await provider.send(Message(recipient="nobody", text="hello"), "nobody")
    await provider.aclose()
    assert result.error is not None
    assert result.error.error_class is ErrorClass.PERMANENT


@pytest.mark.asyncio
async def test_wrong_token_is_a_configuration_error(api_url: str) -> None:
    """A refused token raises: only a configuration change can fix it."""
    provider = ExampleProvider(base_url=api_url, token="wrong")
    with pytest.raises(ConfigurationError, match="refused the token"):
        await provider.send(Message(recipient="user-42", text="hello"), "user-42")
    await provider.aclose()


def test_discovered_through_its_entry_point() -> None:
    """Installed, the plugin's provider type is found by name."""
    manager = make_plugin_manager(env={"BROADCASTIO_PLUGINS": "example"})
    assert "example" in manager.provider_types()
    provider = manager.create_provider("example", base_url="http://127.0.0.1:1", token=TOKEN)
    assert isinstance(provider, ExampleProvider)
