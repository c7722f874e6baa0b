"""The plugin is found through its entry point and builds providers."""

from __future__ import annotations

from broadcastio import make_plugin_manager
from broadcastio_sendgrid import SendGridProvider


def test_sendgrid_type_is_discovered() -> None:
    """BROADCASTIO_PLUGINS=sendgrid loads the plugin and registers the type on the email channel."""
    manager = make_plugin_manager(env={"BROADCASTIO_PLUGINS": "sendgrid"})
    types = manager.provider_types()
    assert "sendgrid" in types
    assert types["sendgrid"].channel == "email"
    provider = manager.create_provider("sendgrid", name="sg", api_key="SG.x", from_address="a@example.com")
    assert isinstance(provider, SendGridProvider)
    assert provider.name == "sg"
    assert provider.channel == "email"
