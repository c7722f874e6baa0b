"""The plugin is found through its entry point and builds providers."""

from __future__ import annotations

from broadcastio import make_plugin_manager
from broadcastio_discord import DiscordProvider


def test_entry_point_registers_the_discord_type() -> None:
    manager = make_plugin_manager(env={"BROADCASTIO_PLUGINS": "discord"})
    types = manager.provider_types()
    assert types["discord"].channel == "discord"
    provider = manager.create_provider(
        "discord", name="alerts", url="https://discord.com/api/webhooks/123/abcdefghijklmnop", username="bot"
    )
    assert isinstance(provider, DiscordProvider)
    assert provider.name == "alerts"
    assert provider.username == "bot"
