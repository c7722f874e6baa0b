"""The provider contract and plugin discovery for ``telegram``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from broadcastio.plugins import make_plugin_manager
from broadcastio.testing.contract import ProviderContract
from broadcastio.testing.servers import closed_port
from broadcastio_telegram import TelegramProvider


class TestTelegramContract(ProviderContract):
    """TelegramProvider against a local Bot API stand-in."""

    @pytest.fixture
    def provider_factory(self, make_provider: Callable[..., TelegramProvider]) -> Callable[[], TelegramProvider]:
        return make_provider

    @pytest.fixture
    def deliverable_address(self, bot: Any) -> str:
        return str(bot.CHAT)

    @pytest.fixture
    def unreachable_provider_factory(
        self, make_provider: Callable[..., TelegramProvider]
    ) -> Callable[[], TelegramProvider]:
        return lambda: make_provider(base_url=f"http://127.0.0.1:{closed_port()}", timeout=2.0)

    @pytest.fixture
    def secret_values(self, bot: Any) -> tuple[str, ...]:
        return (bot.TOKEN, bot.TOKEN.split(":")[1])


class TestDiscovery:
    def test_entry_point_registers_the_telegram_type(self, bot: Any) -> None:
        """The installed entry point registers ``telegram`` and builds a provider from settings."""
        manager = make_plugin_manager(env={"BROADCASTIO_PLUGINS": "telegram"})
        types = manager.provider_types()
        assert "telegram" in types
        assert types["telegram"].channel == "telegram"
        provider = manager.create_provider("telegram", name="alerts-bot", token=bot.TOKEN, parse_mode="html")
        assert isinstance(provider, TelegramProvider)
        assert provider.name == "alerts-bot"
        assert provider.channel == "telegram"
        assert provider.parse_mode == "HTML"
