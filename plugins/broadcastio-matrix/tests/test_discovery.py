"""The plugin is found through its entry point and builds providers."""

from __future__ import annotations

from broadcastio import make_plugin_manager
from broadcastio_matrix import MatrixProvider


def test_entry_point_registers_the_matrix_type() -> None:
    manager = make_plugin_manager(env={"BROADCASTIO_PLUGINS": "matrix"})
    types = manager.provider_types()
    assert types["matrix"].channel == "matrix"
    provider = manager.create_provider(
        "matrix", name="ops", homeserver="https://matrix.example.org", access_token="syt_abc", msgtype="m.notice"
    )
    assert isinstance(provider, MatrixProvider)
    assert provider.name == "ops"
    assert provider.msgtype == "m.notice"
    assert provider.idempotent is True
