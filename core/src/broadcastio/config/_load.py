"""Loading ``broadcastio.toml`` into a :class:`Config` and building its orchestrator."""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import msgspec
from msgspec import Struct

from broadcastio._breaker import BreakerPolicy
from broadcastio._clock import Clock
from broadcastio._coordination import Coordinator
from broadcastio._errors import ConfigurationError
from broadcastio._health import HealthPolicy
from broadcastio._orchestrator import Orchestrator
from broadcastio._ratelimit import RateLimit
from broadcastio._retry import RetryPolicy
from broadcastio._routing import check_max_in_flight
from broadcastio.config._schema import Document, ProviderSection, set_fields
from broadcastio.config._toml import (
    EnvError,
    KeyPath,
    NestingError,
    expand_env,
    format_path,
    index_lines,
    line_of,
    load_toml,
)
from broadcastio.plugins import PluginManager, make_plugin_manager

__all__ = [
    "DEFAULT_CONFIG_FILE",
    "CoordinationConfig",
    "Config",
    "ConfigFileError",
    "ProviderConfig",
    "build_orchestrator",
    "build_providers",
    "load_config",
    "parse_config",
]

DEFAULT_CONFIG_FILE = "broadcastio.toml"
_RESERVED_SETTINGS = ("name", "retry_policy")
_MSGSPEC_PATH = re.compile(r"^(?P<reason>.*?)(?: - at `\$(?P<path>[^`]*)`)?$", re.DOTALL)
_MSGSPEC_PART = re.compile(r"\.([^.\[]+)|\[(\d+)\]|\[\.\.\.\]")
_UNKNOWN_FIELD = re.compile(r"unknown field `([^`]+)`")
_TOML_POSITION = re.compile(r"\s*\(at line (\d+), column \d+\)\s*$")
_ENV_REFERENCE = re.compile(r"(?<!\$)\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
_MIN_SCRUBBED = 4  # shorter values would garble messages more than they hide


class ConfigFileError(ConfigurationError):
    """A configuration file is wrong; says where (file, line, key path) and what."""

    def __init__(self, file: str, reason: str, *, line: int | None = None, key: str | None = None) -> None:
        self.file = file
        self.line = line
        self.key = key
        self.reason = reason
        where = file if line is None else f"{file}:{line}"
        super().__init__(f"{where}: {key}: {reason}" if key else f"{where}: {reason}")


def _scrub(message: str, secrets: Iterable[str]) -> str:
    """``message`` with every value that came from the environment replaced by ``***``."""
    for secret in sorted(secrets, key=len, reverse=True):
        message = message.replace(secret, "***")
    return message


def _secret_values(raw: Any, paths: Iterable[KeyPath], env: Mapping[str, str]) -> frozenset[str]:
    values = set()
    for path in paths:
        value = raw
        for part in path:
            value = value[part]
        for name in _ENV_REFERENCE.findall(value):
            if len(env.get(name, "")) >= _MIN_SCRUBBED:
                values.add(env[name])
    return frozenset(values)


def _mask(value: Any, secrets: frozenset[str], prefix: str) -> Any:
    if prefix in secrets:
        return "***"
    if isinstance(value, dict):
        return {key: _mask(item, secrets, f"{prefix}.{key}" if prefix else key) for key, item in value.items()}
    if isinstance(value, list):
        return [_mask(item, secrets, f"{prefix}.{index}") for index, item in enumerate(value)]
    return value


def _secret_strings(value: Any, secrets: frozenset[str], prefix: str = "") -> list[str]:
    """The strings of ``value`` whose dotted paths are in ``secrets``."""
    if prefix in secrets and isinstance(value, str):
        return [value] if len(value) >= _MIN_SCRUBBED else []
    if isinstance(value, dict):
        items: Iterable[tuple[Any, Any]] = value.items()
    elif isinstance(value, list):
        items = enumerate(value)
    else:
        return []
    found: list[str] = []
    for key, item in items:
        found += _secret_strings(item, secrets, f"{prefix}.{key}" if prefix else str(key))
    return found


class ProviderConfig(Struct, frozen=True, kw_only=True):
    """One configured provider: what to build and with which policies.

    ``retry`` is None when the provider has no retry table (the default
    policy then applies). ``secret_settings`` names the settings (dotted
    keys) whose values came from the environment; ``repr`` masks them.
    """

    name: str
    type: str
    enabled: bool = True
    retry: RetryPolicy | None = None
    rate_limit: RateLimit | None = None
    max_in_flight: int | None = None
    settings: dict[str, Any] = msgspec.field(default_factory=dict)
    secret_settings: frozenset[str] = frozenset()
    lines: dict[str, int] = msgspec.field(default_factory=dict)

    def masked_settings(self) -> dict[str, Any]:
        """The settings with values from the environment replaced by ``***``."""
        masked: dict[str, Any] = _mask(self.settings, self.secret_settings, "")
        return masked

    def __repr__(self) -> str:
        shown = self.masked_settings()
        return (
            f"ProviderConfig(name={self.name!r}, type={self.type!r}, enabled={self.enabled!r}, "
            f"retry={self.retry!r}, rate_limit={self.rate_limit!r}, settings={shown!r})"
        )


class OutboxSettings:
    """``[outbox]``: the outbox's ``url`` (SQLite path or PostgreSQL DSN); its repr hides a password."""

    __slots__ = ("url",)

    def __init__(self, url: str) -> None:
        self.url = url

    def __repr__(self) -> str:
        from broadcastio.outbox._postgres import describe, is_dsn

        shown = describe(self.url) if is_dsn(self.url) else self.url
        return f"OutboxSettings(url={shown!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, OutboxSettings) and other.url == self.url

    def __hash__(self) -> int:
        return hash(self.url)


class CoordinationConfig(Struct, frozen=True, kw_only=True):
    """The ``[coordination]`` section: which coordinator shares limits between processes.

    ``secret_settings`` names the settings whose values came from the
    environment (a Redis URL with its password); ``repr`` masks them.
    """

    type: str
    settings: dict[str, Any] = msgspec.field(default_factory=dict)
    secret_settings: frozenset[str] = frozenset()
    line: int | None = None

    def masked_settings(self) -> dict[str, Any]:
        """The settings with values from the environment replaced by ``***``."""
        masked: dict[str, Any] = _mask(self.settings, self.secret_settings, "")
        return masked

    def __repr__(self) -> str:
        return f"CoordinationConfig(type={self.type!r}, settings={self.masked_settings()!r})"


class Config(Struct, frozen=True, kw_only=True):
    """A loaded configuration file; build an orchestrator with :func:`build_orchestrator`.

    ``outbox`` is the ``[outbox]`` table (``outbox.url``), None when the file has none.
    """

    source: str
    providers: tuple[ProviderConfig, ...]
    fallback_on_ambiguous: bool = False
    retry: RetryPolicy | None = None
    breaker: BreakerPolicy | None = None
    health: HealthPolicy | None = None
    outbox: OutboxSettings | None = None
    coordination: CoordinationConfig | None = None

    def provider(self, name: str) -> ProviderConfig:
        """The provider called ``name``."""
        for provider in self.providers:
            if provider.name == name:
                return provider
        raise ConfigurationError(f"{self.source}: no provider named {name!r}")


class _Locator:
    """Turns key paths into ConfigFileErrors that name the line."""

    def __init__(self, source: str, text: str) -> None:
        self.source = source
        self.index = index_lines(text)
        self.secret_values: frozenset[str] = frozenset()

    def line(self, path: KeyPath) -> int | None:
        return line_of(self.index, path)

    def error(self, path: KeyPath, reason: str) -> ConfigFileError:
        reason = _scrub(reason, self.secret_values)
        return ConfigFileError(self.source, reason, line=self.line(path), key=format_path(path) or None)


def _msgspec_error(locator: _Locator, exc: msgspec.ValidationError) -> ConfigFileError:
    match = _MSGSPEC_PATH.match(str(exc))
    assert match is not None
    reason, raw_path = match.group("reason"), match.group("path") or ""
    path: list[str | int] = []
    for part in _MSGSPEC_PART.finditer(raw_path):
        if part.group(1) is not None:
            path.append(part.group(1))
        elif part.group(2) is not None:
            path.append(int(part.group(2)))
    unknown = _UNKNOWN_FIELD.search(reason)
    if unknown:
        path.append(unknown.group(1))
        reason = f"unknown key {unknown.group(1)!r}"
    return locator.error(tuple(path), reason)


def _policy(locator: _Locator, path: KeyPath, cls: type[Any], fields: Mapping[str, Any]) -> Any:
    try:
        return cls(**fields)
    except ConfigurationError as exc:
        raise locator.error(path, str(exc)) from None


def _provider(
    locator: _Locator, index: int, section: ProviderSection, retry_defaults: Mapping[str, Any], secrets: set[KeyPath]
) -> ProviderConfig:
    path: KeyPath = ("providers", index)
    for key in _RESERVED_SETTINGS:
        if key in section.settings:
            raise locator.error((*path, "settings", key), f"{key!r} is set by broadcastio, not in settings")
    retry = None
    if section.retry is not None:
        retry = _policy(locator, (*path, "retry"), RetryPolicy, {**retry_defaults, **set_fields(section.retry)})
    rate_limit = None
    if section.rate_limit is not None:
        rate_limit = _policy(locator, (*path, "rate_limit"), RateLimit, msgspec.structs.asdict(section.rate_limit))
    try:
        max_in_flight = check_max_in_flight(section.name, section.max_in_flight)
    except ConfigurationError as exc:
        raise locator.error((*path, "max_in_flight"), str(exc)) from None
    prefix = len(path) + 1
    secret_settings = frozenset(
        ".".join(str(part) for part in secret[prefix:])
        for secret in secrets
        if secret[:prefix] == (*path, "settings") and len(secret) > prefix
    )
    lines = {
        format_path(key[len(path) :]): line
        for key, line in locator.index.items()
        if key[: len(path)] == path and len(key) > len(path)
    }
    lines[""] = locator.line(path) or 0
    return ProviderConfig(
        name=section.name,
        type=section.type,
        enabled=section.enabled,
        retry=retry,
        rate_limit=rate_limit,
        max_in_flight=max_in_flight,
        settings=section.settings,
        secret_settings=secret_settings,
        lines=lines,
    )


def parse_config(text: str, *, source: str = "<string>", env: Mapping[str, str] | None = None) -> Config:
    """Parse and validate configuration text; ``source`` names it in errors."""
    try:
        raw = load_toml(text)  # depth-capped: deep input is a ConfigFileError, not a RecursionError
    except (tomllib.TOMLDecodeError, NestingError) as exc:
        position = _TOML_POSITION.search(str(exc))
        reason = _TOML_POSITION.sub("", str(exc))
        raise ConfigFileError(
            source, f"invalid TOML: {reason}", line=int(position.group(1)) if position else None
        ) from None
    locator = _Locator(source, text)
    try:
        environ = os.environ if env is None else env
        expanded, secrets = expand_env(raw, environ)
    except EnvError as exc:
        raise locator.error(exc.path, exc.reason) from None
    locator.secret_values = _secret_values(raw, secrets, environ)
    try:
        document = msgspec.convert(expanded, Document)
    except msgspec.ValidationError as exc:
        raise _msgspec_error(locator, exc) from None
    if not document.providers:
        raise ConfigFileError(source, "no providers configured: add a [[providers]] table with a name and a type")
    seen: dict[str, int] = {}
    for index, section in enumerate(document.providers):
        if section.name in seen:
            raise locator.error(
                ("providers", index, "name"),
                f"provider name {section.name!r} is already used by providers[{seen[section.name]}]",
            )
        seen[section.name] = index
    retry_defaults = set_fields(document.retry) if document.retry is not None else {}
    coordination = None
    if document.coordination is not None:
        prefix: KeyPath = ("coordination", "settings")
        coordination = CoordinationConfig(
            type=document.coordination.type,
            settings=document.coordination.settings,
            secret_settings=frozenset(
                ".".join(str(part) for part in secret[2:]) for secret in secrets if secret[:2] == prefix
            ),
            line=locator.line(("coordination", "type")),
        )
    return Config(
        source=source,
        providers=tuple(
            _provider(locator, index, section, retry_defaults, secrets)
            for index, section in enumerate(document.providers)
        ),
        fallback_on_ambiguous=document.orchestrator.fallback_on_ambiguous,
        retry=None if document.retry is None else _policy(locator, ("retry",), RetryPolicy, retry_defaults),
        breaker=None
        if document.breaker is None
        else _policy(locator, ("breaker",), BreakerPolicy, set_fields(document.breaker)),
        health=None
        if document.health is None
        else _policy(locator, ("health",), HealthPolicy, set_fields(document.health)),
        outbox=None if document.outbox is None else OutboxSettings(document.outbox.url),
        coordination=coordination,
    )


def load_config(path: str | os.PathLike[str] = DEFAULT_CONFIG_FILE, *, env: Mapping[str, str] | None = None) -> Config:
    """Read and validate a configuration file.

    :param env: where ``${VAR}`` values come from (default: ``os.environ``).
    :raises ConfigFileError: the file is missing, unreadable or wrong.
    """
    source = os.fspath(path)
    try:
        text = Path(source).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigFileError(source, "configuration file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigFileError(source, f"cannot read configuration file: {exc}") from None
    return parse_config(text, source=source, env=env)


def _provider_error(config: Config, provider: ProviderConfig, exc: Exception) -> ConfigFileError:
    message = _scrub(str(exc), _secret_strings(provider.settings, provider.secret_settings))
    key = f"providers[{config.providers.index(provider)}]"
    line = provider.lines.get("type")
    bad_keyword = re.search(r"keyword argument '([^']+)'", message)
    if bad_keyword:
        line = provider.lines.get(f"settings.{bad_keyword.group(1)}", provider.lines.get("settings", line))
        key = f"{key}.settings.{bad_keyword.group(1)}"
    return ConfigFileError(config.source, f"{message} (provider {provider.name!r})", line=line or None, key=key)


def build_providers(config: Config, plugin_manager: PluginManager) -> list[Any]:
    """Build every enabled provider through the plugin manager's registered types."""
    providers = []
    for provider in config.providers:
        if not provider.enabled:
            continue
        extra: dict[str, Any] = {} if provider.retry is None else {"retry_policy": provider.retry}
        try:
            built = plugin_manager.create_provider(provider.type, name=provider.name, **extra, **provider.settings)
        except (ConfigurationError, TypeError, ValueError) as exc:
            raise _provider_error(config, provider, exc) from None
        providers.append(built)
    if not providers:
        raise ConfigFileError(config.source, "every provider is disabled (enabled = false)")
    return providers


def _coordinator(config: Config, section: CoordinationConfig, manager: PluginManager) -> Coordinator:
    try:
        return manager.create_coordinator(section.type, **section.settings)
    except (ConfigurationError, TypeError, ValueError) as exc:
        message = _scrub(str(exc), _secret_strings(section.settings, section.secret_settings))
        raise ConfigFileError(config.source, message, line=section.line, key="coordination") from None


def build_orchestrator(
    source: str | os.PathLike[str] | Config,
    *,
    plugin_manager: PluginManager | None = None,
    hooks: Iterable[object] = (),
    clock: Clock | None = None,
    env: Mapping[str, str] | None = None,
    coordinator: Coordinator | None = None,
) -> Orchestrator:
    """An Orchestrator built from a configuration file (or a loaded :class:`Config`).

    Providers are built with ``plugin_manager.create_provider(type, name=...,
    retry_policy=..., **settings)``, in file order; rate limits, policies and
    hooks go to the Orchestrator. ``coordinator`` (a :class:`~broadcastio.Coordinator`)
    makes the rate limits, ``max_in_flight`` caps and breakers shared between processes;
    without one, the file's ``[coordination]`` section (if any) builds it through the
    plugin manager's registered coordinator types.
    """
    config = source if isinstance(source, Config) else load_config(source, env=env)
    manager = plugin_manager if plugin_manager is not None else make_plugin_manager()
    providers = build_providers(config, manager)
    rate_limits = {p.name: p.rate_limit for p in config.providers if p.enabled and p.rate_limit is not None}
    caps = {p.name: p.max_in_flight for p in config.providers if p.enabled and p.max_in_flight is not None}
    if coordinator is None and config.coordination is not None:
        coordinator = _coordinator(config, config.coordination, manager)
    return Orchestrator(
        providers,
        retry=config.retry,
        breaker=config.breaker,
        health=config.health,
        rate_limits=rate_limits,
        max_in_flight=caps,
        fallback_on_ambiguous=config.fallback_on_ambiguous,
        hooks=hooks,
        plugin_manager=manager,
        clock=clock,
        coordinator=coordinator,
    )
