"""The plugin is found through its entry point and builds providers."""

from __future__ import annotations

from broadcastio import make_plugin_manager
from broadcastio_apprise import AppriseProvider


def test_apprise_type_is_discovered() -> None:
    """BROADCASTIO_PLUGINS=apprise loads the plugin and registers the type."""
    manager = make_plugin_manager(env={"BROADCASTIO_PLUGINS": "apprise"})
    types = manager.provider_types()
    assert "apprise" in types
    assert types["apprise"].channel == "apprise"
    provider = manager.create_provider("apprise", name="everywhere", urls=["json://127.0.0.1:9/x"])
    assert isinstance(provider, AppriseProvider)
    assert provider.name == "everywhere"
    assert provider.channel == "apprise"
