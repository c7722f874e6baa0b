"""A provider's registration derives from its class; the explicit ProviderType list still works."""

from __future__ import annotations

import types

import pytest
from broadcastio import ConfigurationError, DeliveryResult, MemoryProvider, Message, Provider, ProviderType, hookimpl
from broadcastio.plugins import make_plugin_manager, provider_types


class PagerProvider(Provider):
    """Pages an on-call phone through the ``pager`` gateway.

    Longer text the listing must not show.
    """

    name = "pager"
    channel = "pager"

    def __init__(self, name: str = "pager", *, gateway: str = "http://127.0.0.1:1") -> None:
        self.name = name
        self.gateway = gateway

    async def send(self, message: Message, address: str) -> DeliveryResult:
        return DeliveryResult.success("page-1")


class FromInitDefaults(Provider):
    """Declares name and channel only as __init__ defaults."""

    def __init__(self, name: str = "beeper", *, channel: str = "beep") -> None:
        self.name = name
        self.channel = channel


class Nameless(Provider):
    """No name anywhere."""

    def __init__(self) -> None:
        self.name = "x"


class TestProviderTypeOf:
    def test_name_channel_and_description_from_the_class(self) -> None:
        """Class attributes give name and channel; the docstring's first line the description."""
        record = ProviderType.of(PagerProvider)
        assert (record.name, record.channel, record.factory) == ("pager", "pager", PagerProvider)
        assert record.description == "Pages an on-call phone through the pager gateway"

    def test_init_defaults_when_no_class_attribute(self) -> None:
        """Without class attributes, the defaults of __init__'s name and channel parameters count."""
        record = ProviderType.of(FromInitDefaults)
        assert (record.name, record.channel) == ("beeper", "beep")

    def test_a_class_without_a_name_is_refused(self) -> None:
        """A class naming no type raises a ConfigurationError that says how to fix it."""
        with pytest.raises(ConfigurationError, match="Nameless declares no name"):
            ProviderType.of(Nameless)

    def test_not_a_class_is_refused(self) -> None:
        """An instance is not a provider class."""
        with pytest.raises(ConfigurationError, match="needs a provider class"):
            ProviderType.of(MemoryProvider("m"))  # type: ignore[arg-type]


class TestOneLineRegistration:
    def test_a_module_with_one_line_registers_its_type(self) -> None:
        """``broadcastio_provider_types = provider_types(Cls)`` is a complete plugin hook."""
        plugin = types.ModuleType("broadcastio_pager")
        plugin.broadcastio_provider_types = provider_types(PagerProvider)  # type: ignore[attr-defined]
        manager = make_plugin_manager(entrypoints=False)
        manager.register(plugin, name="pager")
        provider = manager.create_provider("pager", name="oncall", gateway="http://127.0.0.1:2")
        assert isinstance(provider, PagerProvider)
        assert (provider.name, provider.gateway) == ("oncall", "http://127.0.0.1:2")
        (info,) = [info for info in manager.list_plugins() if info.name == "pager"]
        assert info.provider_types == ("pager",)

    def test_the_explicit_list_form_keeps_working_beside_it(self) -> None:
        """A plugin returning ProviderType records from its own hook registers as before."""

        class Explicit:
            @hookimpl
            def broadcastio_provider_types(self) -> list[ProviderType]:
                return [ProviderType(name="beeper", factory=FromInitDefaults, channel="beep", description="explicit")]

        plugin = types.ModuleType("broadcastio_pager")
        plugin.broadcastio_provider_types = provider_types(PagerProvider)  # type: ignore[attr-defined]
        manager = make_plugin_manager(entrypoints=False)
        manager.register(plugin, name="pager")
        manager.register(Explicit(), name="explicit")
        found = manager.provider_types()
        assert {"pager", "beeper", "memory", "file"} <= set(found)
        assert found["beeper"].description == "explicit"

    def test_a_bad_class_fails_when_the_plugin_module_is_imported(self) -> None:
        """provider_types() checks the classes at once, so a broken plugin fails to load (and is reported)."""
        with pytest.raises(ConfigurationError, match="declares no name"):
            provider_types(Nameless)
