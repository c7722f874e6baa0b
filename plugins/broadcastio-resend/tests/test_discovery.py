"""The plugin is found through its entry point and builds providers."""

from __future__ import annotations

from broadcastio import make_plugin_manager
from broadcastio_resend import ResendProvider


def test_resend_type_is_discovered() -> None:
    """BROADCASTIO_PLUGINS=resend loads the plugin and registers the type on the email channel."""
    manager = make_plugin_manager(env={"BROADCASTIO_PLUGINS": "resend"})
    types = manager.provider_types()
    assert "resend" in types
    assert types["resend"].channel == "email"
    provider = manager.create_provider("resend", name="rs", api_key="re_x", from_address="a@example.com")
    assert isinstance(provider, ResendProvider)
    assert provider.name == "rs"
    assert provider.idempotent is True
