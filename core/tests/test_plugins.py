"""Plugin machinery: entry points, broken plugins, allow/deny lists, registry, listing."""

from __future__ import annotations

import importlib.metadata
import sys
import types

import pytest
from broadcastio import ConfigurationError, MemoryProvider, Message, Orchestrator, PluginError, ProviderType, hookimpl
from broadcastio.plugins import make_plugin_manager
from broadcastio.testing import HookRecorder, isolated_plugin_manager


def _module(name: str, **attributes: object) -> types.ModuleType:
    module = types.ModuleType(name)
    for key, value in attributes.items():
        setattr(module, key, value)
    return module


@hookimpl
def _provides_echo() -> list[ProviderType]:
    return [ProviderType(name="echo", factory=lambda name="echo", **kw: MemoryProvider(name, "echo", **kw))]


@pytest.fixture
def fake_entry_points(monkeypatch: pytest.MonkeyPatch) -> dict[str, types.ModuleType]:
    """Installs fake modules and entry points in the `broadcastio` group."""
    modules = {
        "fake_echo": _module("fake_echo", broadcastio_provider_types=_provides_echo),
        "fake_audit": _module("fake_audit", broadcastio_result=hookimpl(lambda event: None)),
    }
    points = [
        importlib.metadata.EntryPoint(name="echo", value="fake_echo", group="broadcastio"),
        importlib.metadata.EntryPoint(name="audit", value="fake_audit", group="broadcastio"),
        importlib.metadata.EntryPoint(name="broken", value="fake_missing_module", group="broadcastio"),
    ]
    for name, module in modules.items():
        monkeypatch.setitem(sys.modules, name, module)

    def entry_points(*, group: str) -> list[importlib.metadata.EntryPoint]:
        return [point for point in points if point.group == group]

    monkeypatch.setattr(importlib.metadata, "entry_points", entry_points)
    return modules


class TestLoading:
    def test_entry_points_are_loaded_and_broken_ones_reported(self, fake_entry_points: object) -> None:
        """Installed plugins load; one that fails to import is kept in failures and skipped."""
        manager = make_plugin_manager(env={})
        assert manager.has_plugin("echo")
        assert manager.has_plugin("audit")
        assert [failure.name for failure in manager.failures] == ["broken"]
        assert "ModuleNotFoundError" in manager.failures[0].error
        assert "echo" in manager.provider_types()

    def test_allow_list(self, fake_entry_points: object) -> None:
        """BROADCASTIO_PLUGINS loads only the named plugins."""
        manager = make_plugin_manager(env={"BROADCASTIO_PLUGINS": "audit"})
        assert manager.has_plugin("audit")
        assert not manager.has_plugin("echo")
        assert manager.failures == []

    def test_deny_list(self, fake_entry_points: object) -> None:
        """BROADCASTIO_DISABLE_PLUGINS skips the named plugins."""
        manager = make_plugin_manager(env={"BROADCASTIO_DISABLE_PLUGINS": "broken, echo"})
        assert manager.has_plugin("audit")
        assert not manager.has_plugin("echo")
        assert manager.failures == []

    def test_isolated_manager_ignores_installed_plugins(self, fake_entry_points: object) -> None:
        """Tests get only the built-in providers."""
        manager = isolated_plugin_manager()
        assert not manager.has_plugin("echo")
        assert set(manager.provider_types()) == {"memory", "file"}


class TestRegistry:
    def test_create_provider_by_type(self) -> None:
        """A registered type builds a provider with a name and settings."""
        provider = isolated_plugin_manager().create_provider("memory", name="primary", channel="sms")
        assert (provider.name, provider.channel) == ("primary", "sms")

    def test_unknown_type_names_the_installed_ones(self) -> None:
        """An unknown type is a configuration error listing what is installed."""
        with pytest.raises(ConfigurationError, match="unknown provider type 'sms'.*file, memory"):
            isolated_plugin_manager().create_provider("sms")

    def test_bad_settings_name_the_type(self) -> None:
        """Settings the factory does not take are a configuration error."""
        with pytest.raises(ConfigurationError, match="provider type 'memory'"):
            isolated_plugin_manager().create_provider("memory", colour="blue")

    def test_duplicate_type_names_are_refused(self) -> None:
        """Two plugins registering the same type name is an error naming both."""
        manager = isolated_plugin_manager()

        class Impostor:
            @hookimpl
            def broadcastio_provider_types(self) -> list[ProviderType]:
                return [ProviderType(name="memory", factory=MemoryProvider)]

        manager.register(Impostor(), name="impostor")
        with pytest.raises(PluginError, match="'memory' is registered by both 'broadcastio.builtin' and 'impostor'"):
            manager.provider_types()

    def test_misspelt_hook_is_refused(self) -> None:
        """A broadcastio_ hook that does not exist is caught at registration."""

        class Typo:
            @hookimpl
            def broadcastio_resutl(self, event: object) -> None: ...

        with pytest.raises(PluginError, match="broadcastio_resutl"):
            isolated_plugin_manager().register(Typo())

    def test_wrong_record_type(self) -> None:
        """A registration hook must yield ProviderType records."""
        manager = isolated_plugin_manager()

        class Sloppy:
            @hookimpl
            def broadcastio_provider_types(self) -> list[object]:
                return ["email"]

        manager.register(Sloppy(), name="sloppy")
        with pytest.raises(PluginError, match="not a ProviderType"):
            manager.provider_types()


class TestListing:
    def test_list_plugins_with_hooks_and_types(self, fake_entry_points: object) -> None:
        """The listing names each plugin, its hooks and its provider types."""
        infos = {info.name: info for info in make_plugin_manager(env={}).list_plugins()}
        assert infos["broadcastio.builtin"].provider_types == ("file", "memory")
        assert infos["echo"].hooks == ("broadcastio_provider_types",)
        assert infos["echo"].provider_types == ("echo",)
        assert infos["audit"].hooks == ("broadcastio_result",)


async def test_hook_object_registered_in_code() -> None:
    """A hook object passed to the orchestrator observes sends without packaging."""
    recorder = HookRecorder()
    orchestrator = Orchestrator([MemoryProvider()], hooks=[recorder], plugin_manager=isolated_plugin_manager())
    await orchestrator.asend(Message(recipient="x", text="hi"))
    assert len(recorder.of("result")) == 1


async def test_trace_switch_logs_hook_calls(monkeypatch: pytest.MonkeyPatch) -> None:
    """BROADCASTIO_TRACE_PLUGINS logs every hook call."""
    from structlog.testing import capture_logs

    monkeypatch.setenv("BROADCASTIO_TRACE_PLUGINS", "1")
    orchestrator = Orchestrator([MemoryProvider()], hooks=[HookRecorder()], plugin_manager=isolated_plugin_manager())
    with capture_logs() as logs:
        await orchestrator.asend(Message(recipient="x", text="hi"))
    assert any(entry["event"] == "broadcastio.hook_call" and entry["hook"] == "broadcastio_result" for entry in logs)
