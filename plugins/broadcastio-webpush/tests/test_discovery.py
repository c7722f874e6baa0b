"""The plugin is found through its entry point and builds providers."""

from __future__ import annotations

from broadcastio import make_plugin_manager
from broadcastio_webpush import WebPushProvider


def test_webpush_type_is_discovered(vapid: tuple[str, str]) -> None:
    """BROADCASTIO_PLUGINS=webpush loads the plugin and registers the type."""
    manager = make_plugin_manager(env={"BROADCASTIO_PLUGINS": "webpush"})
    types = manager.provider_types()
    assert "webpush" in types
    assert types["webpush"].channel == "webpush"
    provider = manager.create_provider(
        "webpush", name="browsers", vapid_private_key=vapid[0], vapid_subject="mailto:ops@example.com"
    )
    assert isinstance(provider, WebPushProvider)
    assert provider.name == "browsers"
    assert provider.application_server_key == vapid[1]
