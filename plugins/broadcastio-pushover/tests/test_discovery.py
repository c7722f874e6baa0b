"""The plugin is found through its entry point and builds providers."""

from __future__ import annotations

from typing import Any

from broadcastio import make_plugin_manager
from broadcastio_pushover import PushoverProvider


def test_pushover_type_is_discovered(pushover: Any) -> None:
    """BROADCASTIO_PLUGINS=pushover loads the plugin and registers the type."""
    manager = make_plugin_manager(env={"BROADCASTIO_PLUGINS": "pushover"})
    types = manager.provider_types()
    assert "pushover" in types
    assert types["pushover"].channel == "pushover"
    provider = manager.create_provider("pushover", name="phones", token=pushover.TOKEN)
    assert isinstance(provider, PushoverProvider)
    assert provider.name == "phones"
    assert provider.channel == "pushover"
