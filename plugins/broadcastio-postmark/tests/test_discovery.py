"""The plugin is found through its entry point and builds providers."""

from __future__ import annotations

from broadcastio import make_plugin_manager
from broadcastio_postmark import PostmarkProvider


def test_postmark_type_is_discovered() -> None:
    """BROADCASTIO_PLUGINS=postmark loads the plugin and registers the type on the email channel."""
    manager = make_plugin_manager(env={"BROADCASTIO_PLUGINS": "postmark"})
    types = manager.provider_types()
    assert "postmark" in types
    assert types["postmark"].channel == "email"
    provider = manager.create_provider("postmark", name="pm", server_token="t", from_address="a@example.com")
    assert isinstance(provider, PostmarkProvider)
    assert provider.name == "pm"
    assert provider.channel == "email"
