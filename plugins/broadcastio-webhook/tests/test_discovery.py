"""The plugin is found through its entry point and builds providers."""

from __future__ import annotations

from broadcastio.plugins import make_plugin_manager
from broadcastio_webhook import WebhookProvider


def test_webhook_type_is_discovered() -> None:
    """BROADCASTIO_PLUGINS=webhook loads the plugin and registers the type."""
    manager = make_plugin_manager(env={"BROADCASTIO_PLUGINS": "webhook"})
    types = manager.provider_types()
    assert "webhook" in types
    assert types["webhook"].channel == "webhook"
    provider = manager.create_provider("webhook", name="alerts", url="http://127.0.0.1:9/hook")
    assert isinstance(provider, WebhookProvider)
    assert provider.name == "alerts"
    assert provider.channel == "webhook"
