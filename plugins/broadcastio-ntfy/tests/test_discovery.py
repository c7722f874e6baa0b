"""The plugin is found through its entry point and builds providers."""

from __future__ import annotations

from broadcastio import make_plugin_manager
from broadcastio_ntfy import NtfyProvider


def test_entry_point_registers_the_ntfy_type() -> None:
    manager = make_plugin_manager(env={"BROADCASTIO_PLUGINS": "ntfy"})
    types = manager.provider_types()
    assert types["ntfy"].channel == "ntfy"
    provider = manager.create_provider("ntfy", name="phones", base_url="https://ntfy.example.org", markdown=True)
    assert isinstance(provider, NtfyProvider)
    assert provider.name == "phones"
    assert provider.markdown is True
