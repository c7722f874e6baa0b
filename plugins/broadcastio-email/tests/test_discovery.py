"""The plugin is found through its entry point and builds providers by type name."""

from __future__ import annotations

import broadcastio_email
from broadcastio.plugins import make_plugin_manager
from broadcastio_email import EmailProvider


class TestDiscovery:
    def test_entry_point_registers_the_email_type(self) -> None:
        """BROADCASTIO_PLUGINS=email loads the plugin; its type is listed and builds a provider."""
        manager = make_plugin_manager(env={"BROADCASTIO_PLUGINS": "email"})
        assert manager.failures == []
        types = manager.provider_types()
        assert "email" in types
        assert types["email"].channel == "email"
        assert types["email"].factory is EmailProvider

        provider = manager.create_provider(
            "email", name="mail-primary", host="smtp.example.com", from_address="alerts@example.com"
        )
        assert isinstance(provider, EmailProvider)
        assert (provider.name, provider.channel) == ("mail-primary", "email")

    def test_unknown_setting_is_a_configuration_error(self) -> None:
        """A misspelt setting is reported by the plugin manager, not a bare TypeError."""
        import pytest
        from broadcastio import ConfigurationError

        manager = make_plugin_manager(env={"BROADCASTIO_PLUGINS": "email"})
        with pytest.raises(ConfigurationError, match="email"):
            manager.create_provider("email", host="h", from_address="a@example.com", hostname="typo")

    def test_public_exports(self) -> None:
        """The package exports exactly its curated names."""
        assert sorted(broadcastio_email.__all__) == [
            "EmailProvider",
            "IDEMPOTENCY_HEADER",
            "broadcastio_provider_types",
        ]
