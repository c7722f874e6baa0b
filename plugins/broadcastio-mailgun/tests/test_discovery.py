"""The plugin is found through its entry point and builds providers."""

from __future__ import annotations

from broadcastio import make_plugin_manager
from broadcastio_mailgun import REGIONS, MailgunProvider


def test_mailgun_type_is_discovered() -> None:
    """BROADCASTIO_PLUGINS=mailgun loads the plugin; region picks the API root."""
    manager = make_plugin_manager(env={"BROADCASTIO_PLUGINS": "mailgun"})
    types = manager.provider_types()
    assert "mailgun" in types
    assert types["mailgun"].channel == "email"
    provider = manager.create_provider(
        "mailgun", name="mg", api_key="key-x", domain="mg.example.com", from_address="a@mg.example.com", region="eu"
    )
    assert isinstance(provider, MailgunProvider)
    assert provider.name == "mg"
    assert provider.base_url == REGIONS["eu"] == "https://api.eu.mailgun.net"
