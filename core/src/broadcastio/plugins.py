"""Plugin manager: entry-point loading, provider type registry, plugin listing.

Built-in providers are registered as a default plugin, so core goes through
the same path as third-party plugins.
"""

from __future__ import annotations

import importlib.metadata
import os
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import pluggy
from msgspec import Struct

from broadcastio import hookspecs
from broadcastio._coordination import Coordinator, CoordinatorType
from broadcastio._errors import ConfigurationError, PluginError
from broadcastio._log import get_logger
from broadcastio._provider import ProviderType, check_provider

__all__ = [
    "ENTRY_POINT_GROUP",
    "CoordinatorType",
    "PluginFailure",
    "PluginInfo",
    "PluginManager",
    "ProviderType",
    "make_plugin_manager",
    "provider_types",
    "single_line",
]

ENTRY_POINT_GROUP = "broadcastio"
ALLOW_ENV = "BROADCASTIO_PLUGINS"
DENY_ENV = "BROADCASTIO_DISABLE_PLUGINS"

_log = get_logger("broadcastio.plugins")


def single_line(provider: str, setting: str, value: object, *, forbidden: str = "") -> str:
    """``value`` when it is a non-empty one-line string (without any of ``forbidden``).

    For credentials and header values a plugin puts on the wire: a newline
    there would split a header. Raises :class:`~broadcastio.ConfigurationError`
    naming the provider and the setting, never the value (it may be a secret).
    """
    if not isinstance(value, str) or not value.strip() or any(char in value for char in "\r\n" + forbidden):
        raise ConfigurationError(f"provider {provider!r}: {setting} must be a non-empty single-line string")
    return value


class PluginInfo(Struct, frozen=True, kw_only=True):
    """One registered plugin, for listings (``broadcastio providers``)."""

    name: str
    version: str | None
    hooks: tuple[str, ...]
    provider_types: tuple[str, ...] = ()


class PluginFailure(Struct, frozen=True, kw_only=True):
    """An entry point that could not be loaded, kept instead of crashing."""

    name: str
    error: str


def _names_from_env(value: str | None) -> frozenset[str] | None:
    if value is None:
        return None
    return frozenset(part.strip() for part in value.split(",") if part.strip())


class PluginManager(pluggy.PluginManager):
    """pluggy's manager with broadcastio's loading rules and provider registry."""

    def __init__(self) -> None:
        super().__init__(hookspecs.PROJECT_NAME)
        self.add_hookspecs(hookspecs)
        self.failures: list[PluginFailure] = []
        self._versions: dict[str, str | None] = {}

    def register(self, plugin: object, name: str | None = None) -> str | None:
        """Register a hook object; misspelt ``broadcastio_`` hooks are refused."""
        try:
            registered = super().register(plugin, name)
            self.check_pending()
        except pluggy.PluginValidationError as exc:
            self.unregister(plugin)
            raise PluginError(f"plugin {name or plugin!r} is invalid: {exc}") from exc
        except ValueError as exc:
            raise PluginError(str(exc)) from exc
        return registered

    def load_entrypoints(self, env: Mapping[str, str] | None = None) -> None:
        """Load plugins from the ``broadcastio`` entry-point group.

        ``BROADCASTIO_PLUGINS`` (comma-separated) loads only the named ones;
        ``BROADCASTIO_DISABLE_PLUGINS`` skips the named ones. A plugin that
        fails to import is logged, kept in :attr:`failures`, and skipped.
        """
        environ = os.environ if env is None else env
        allow = _names_from_env(environ.get(ALLOW_ENV))
        deny = _names_from_env(environ.get(DENY_ENV)) or frozenset()
        for entry_point in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
            name = entry_point.name
            if (allow is not None and name not in allow) or name in deny or self.has_plugin(name):
                continue
            try:
                plugin = entry_point.load()
                self.register(plugin, name=name)
            except Exception as exc:  # a broken plugin must not break the others
                message = f"{type(exc).__name__}: {exc}"
                self.failures.append(PluginFailure(name=name, error=message))
                _log.warning("broadcastio.plugin_failed", plugin=name, error=message)
                continue
            dist = entry_point.dist
            self._versions[name] = dist.version if dist is not None else None

    def provider_types(self) -> dict[str, ProviderType]:
        """Every registered provider type by name; duplicates are refused."""
        found: dict[str, tuple[ProviderType, str]] = {}
        for impl in self.hook.broadcastio_provider_types.get_hookimpls():
            owner = self.get_name(impl.plugin) or repr(impl.plugin)
            records: Iterable[object] = impl.function() or ()  # type: ignore[assignment]
            for record in records:
                if not isinstance(record, ProviderType):
                    raise PluginError(f"plugin {owner!r} registered {record!r}, not a ProviderType")
                if record.name in found:
                    raise PluginError(
                        f"provider type {record.name!r} is registered by both {found[record.name][1]!r} and {owner!r}"
                    )
                found[record.name] = (record, owner)
        return {name: record for name, (record, _) in found.items()}

    def create_provider(self, type_name: str, *, name: str | None = None, **settings: Any) -> Any:
        """Build a provider of a registered type, named ``name`` (default: the type)."""
        types = self.provider_types()
        if type_name not in types:
            known = ", ".join(sorted(types)) or "none"
            raise ConfigurationError(
                f"unknown provider type {type_name!r}; installed types: {known} "
                f"(is its plugin installed? From the broadcastio checkout: "
                f"pip install ./core ./plugins/broadcastio-{type_name.split('-')[0]})"
            )
        try:
            provider = types[type_name].factory(name=name or type_name, **settings)
        except TypeError as exc:
            raise ConfigurationError(f"provider type {type_name!r}: {exc}") from exc
        check_provider(provider)
        return provider

    def coordinator_types(self) -> dict[str, CoordinatorType]:
        """Every registered coordinator type by name; duplicates are refused."""
        found: dict[str, tuple[CoordinatorType, str]] = {}
        for impl in self.hook.broadcastio_coordinator_types.get_hookimpls():
            owner = self.get_name(impl.plugin) or repr(impl.plugin)
            records: Iterable[object] = impl.function() or ()  # type: ignore[assignment]
            for record in records:
                if not isinstance(record, CoordinatorType):
                    raise PluginError(f"plugin {owner!r} registered {record!r}, not a CoordinatorType")
                if record.name in found:
                    raise PluginError(
                        f"coordinator type {record.name!r} is registered by both "
                        f"{found[record.name][1]!r} and {owner!r}"
                    )
                found[record.name] = (record, owner)
        return {name: record for name, (record, _) in found.items()}

    def create_coordinator(self, type_name: str, **settings: Any) -> Coordinator:
        """Build a coordinator of a registered type from its settings."""
        types = self.coordinator_types()
        if type_name not in types:
            known = ", ".join(sorted(types)) or "none"
            raise ConfigurationError(
                f"unknown coordinator type {type_name!r}; installed types: {known} "
                "(is its plugin installed? From the broadcastio checkout: "
                f"pip install ./plugins/broadcastio-{type_name})"
            )
        try:
            coordinator = types[type_name].factory(**settings)
        except TypeError as exc:
            raise ConfigurationError(f"coordinator type {type_name!r}: {exc}") from exc
        if not isinstance(coordinator, Coordinator):
            raise PluginError(f"coordinator type {type_name!r} built {type(coordinator).__name__}, not a Coordinator")
        return coordinator

    def list_plugins(self) -> list[PluginInfo]:
        """Registered plugins with version, implemented hooks and provider types."""
        infos = []
        for name, plugin in sorted(self.list_name_plugin(), key=lambda pair: pair[0]):
            hooks = tuple(sorted(caller.name for caller in self.get_hookcallers(plugin) or ()))
            types: tuple[str, ...] = ()
            for impl in self.hook.broadcastio_provider_types.get_hookimpls():
                if impl.plugin is plugin:
                    records: Iterable[ProviderType] = impl.function() or ()  # type: ignore[assignment]
                    types = tuple(sorted(record.name for record in records))
            infos.append(PluginInfo(name=name, version=self._versions.get(name), hooks=hooks, provider_types=types))
        return infos


def make_plugin_manager(*, entrypoints: bool = True, env: Mapping[str, str] | None = None) -> PluginManager:
    """A plugin manager with the built-in providers, and installed plugins
    unless ``entrypoints`` is False (what tests want)."""
    from broadcastio.providers import builtin_plugin

    manager = PluginManager()
    manager.register(builtin_plugin, name="broadcastio.builtin")
    if entrypoints:
        manager.load_entrypoints(env)
    return manager


def provider_types(*classes: type[Any]) -> Callable[[], list[ProviderType]]:
    """A ready ``broadcastio_provider_types`` hook registering provider classes.

    Each class describes itself (see :meth:`ProviderType.of`), so a plugin's
    registration is one line in its top-level module::

        broadcastio_provider_types = provider_types(AcmeProvider)

    Returning explicit :class:`ProviderType` records from a hook of your own
    keeps working.
    """
    records = [ProviderType.of(cls) for cls in classes]

    @hookspecs.hookimpl
    def broadcastio_provider_types() -> list[ProviderType]:
        return list(records)

    return broadcastio_provider_types
