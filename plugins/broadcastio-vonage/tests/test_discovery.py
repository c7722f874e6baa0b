"""The plugin is found through its entry point and builds providers."""

from __future__ import annotations

from broadcastio import make_plugin_manager
from broadcastio_vonage import VonageSmsProvider


def test_vonage_type_is_discovered() -> None:
    """BROADCASTIO_PLUGINS=vonage loads the plugin and registers the type on the sms channel."""
    manager = make_plugin_manager(env={"BROADCASTIO_PLUGINS": "vonage"})
    types = manager.provider_types()
    assert "vonage" in types
    assert types["vonage"].channel == "sms"
    provider = manager.create_provider("vonage", name="vg", api_key="k", api_secret="s", from_number="Acme")
    assert isinstance(provider, VonageSmsProvider)
    assert provider.name == "vg"
    assert provider.channel == "sms"
