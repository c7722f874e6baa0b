"""The plugin registers both provider types through its entry point."""

from __future__ import annotations

import pytest
from broadcastio import ConfigurationError
from broadcastio.plugins import PluginManager, make_plugin_manager
from broadcastio_whatsapp import WhatsAppCloudProvider, WhatsAppProvider


@pytest.fixture
def manager() -> PluginManager:
    return make_plugin_manager(env={"BROADCASTIO_PLUGINS": "whatsapp"})


class TestDiscovery:
    def test_both_types_are_registered(self, manager: PluginManager) -> None:
        """The ``whatsapp`` entry point registers ``whatsapp`` and ``whatsapp-cloud`` on channel whatsapp."""
        types = manager.provider_types()
        assert types["whatsapp"].factory is WhatsAppProvider
        assert types["whatsapp-cloud"].factory is WhatsAppCloudProvider
        assert {types["whatsapp"].channel, types["whatsapp-cloud"].channel} == {"whatsapp"}
        assert not manager.failures

    def test_create_node_client(self, manager: PluginManager) -> None:
        """create_provider builds a ``whatsapp`` provider from settings, named as asked."""
        provider = manager.create_provider("whatsapp", name="wa-main", base_url="http://127.0.0.1:3999", token="t")
        assert isinstance(provider, WhatsAppProvider)
        assert (provider.name, provider.channel, provider.idempotent) == ("wa-main", "whatsapp", True)
        assert provider.base_url == "http://127.0.0.1:3999"

    def test_create_node_client_with_defaults(self, manager: PluginManager) -> None:
        """Without settings the client points at the service's default address."""
        provider = manager.create_provider("whatsapp")
        assert provider.name == "whatsapp"
        assert provider.base_url == "http://127.0.0.1:3000"

    def test_create_cloud_provider(self, manager: PluginManager) -> None:
        """create_provider builds a ``whatsapp-cloud`` provider; its token stays out of repr."""
        provider = manager.create_provider("whatsapp-cloud", phone_number_id="1234567890", access_token="EAAG-secret")
        assert isinstance(provider, WhatsAppCloudProvider)
        assert provider.name == "whatsapp-cloud"
        assert provider.idempotent is False
        assert "EAAG-secret" not in repr(provider)

    def test_missing_cloud_settings_raise(self, manager: PluginManager) -> None:
        """A missing required setting is a ConfigurationError naming the provider type."""
        with pytest.raises(ConfigurationError, match="whatsapp-cloud"):
            manager.create_provider("whatsapp-cloud", access_token="x")

    def test_listed_with_version(self, manager: PluginManager) -> None:
        """The plugin listing shows the plugin, its version and both types."""
        [info] = [info for info in manager.list_plugins() if info.name == "whatsapp"]
        assert info.version == "0.1.0"
        assert info.provider_types == ("whatsapp", "whatsapp-cloud")
