"""The provider contract and plugin discovery for ``discord``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from broadcastio.testing.contract import ProviderContract
from broadcastio.testing.servers import closed_port
from broadcastio_discord import DiscordProvider


class TestDiscordContract(ProviderContract):
    @pytest.fixture
    def provider_factory(self, discord: Any) -> Callable[[], DiscordProvider]:
        return lambda: DiscordProvider(url=discord.hook_url, timeout=5.0)

    @pytest.fixture
    def deliverable_address(self) -> str:
        return "alerts"

    @pytest.fixture
    def unreachable_provider_factory(self, discord: Any) -> Callable[[], DiscordProvider]:
        url = f"http://127.0.0.1:{closed_port()}/api/webhooks/{discord.HOOK_ID}/{discord.TOKEN}"
        return lambda: DiscordProvider(url=url, timeout=2.0)

    @pytest.fixture
    def secret_values(self, discord: Any) -> tuple[str, ...]:
        return (discord.TOKEN, discord.hook_url)
