"""The plugin is found through its entry point and builds providers."""

from __future__ import annotations

from broadcastio import make_plugin_manager
from broadcastio_teams import TeamsProvider


def test_entry_point_registers_the_teams_type() -> None:
    manager = make_plugin_manager(env={"BROADCASTIO_PLUGINS": "teams"})
    types = manager.provider_types()
    assert types["teams"].channel == "teams"
    provider = manager.create_provider(
        "teams",
        name="ops",
        url="https://prod.example.logic.azure.com/workflows/abc/triggers/manual/paths/invoke?sig=x",
        full_width=True,
    )
    assert isinstance(provider, TeamsProvider)
    assert provider.name == "ops"
    assert provider.full_width is True
