"""The plugin is found through its entry point and builds providers."""

from __future__ import annotations

from broadcastio import make_plugin_manager
from broadcastio_fcm import FcmProvider


def test_fcm_type_is_discovered(key_info: dict[str, str]) -> None:
    """BROADCASTIO_PLUGINS=fcm loads the plugin and registers the type on the push channel."""
    manager = make_plugin_manager(env={"BROADCASTIO_PLUGINS": "fcm"})
    types = manager.provider_types()
    assert "fcm" in types
    assert types["fcm"].channel == "push"
    provider = manager.create_provider("fcm", name="phones", service_account_info=key_info)
    assert isinstance(provider, FcmProvider)
    assert provider.name == "phones"
    assert provider.channel == "push"
    assert provider.project_id == key_info["project_id"]
