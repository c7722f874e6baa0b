"""The public API is exactly what __all__ says, sorted, and importable."""

from __future__ import annotations

import importlib
import importlib.metadata
import sys
from pathlib import Path

import broadcastio


def test_all_is_sorted_and_complete() -> None:
    """__all__ is sorted, and every name in it exists."""
    names = [name for name in broadcastio.__all__ if name != "__version__"]
    assert names == sorted(names, key=lambda n: (not n.isupper(), n))
    for name in broadcastio.__all__:
        assert hasattr(broadcastio, name), name


def test_public_members_are_exported() -> None:
    """Every public attribute of the package is listed in __all__."""
    public = {
        name
        for name, value in vars(broadcastio).items()
        if not name.startswith("_") and getattr(value, "__module__", "").startswith("broadcastio")
    }
    assert public <= set(broadcastio.__all__)


def test_seed_names_are_kept() -> None:
    """The seed's public names still import from broadcastio."""
    for name in (
        "Orchestrator",
        "RetryPolicy",
        "DeliveryResult",
        "DeliveryError",
        "DeliveryTrace",
        "DeliveryAttempt",
        "Message",
        "Attachment",
        "ProviderHealth",
        "ErrorCode",
        "BroadcastioError",
        "ConfigurationError",
        "InvalidMessageError",
    ):
        assert name in broadcastio.__all__


MOVED = {
    "broadcastio.events": (
        "AttemptEvent",
        "BreakerChangeEvent",
        "FallbackEvent",
        "HealthChangeEvent",
        "ResultEvent",
        "SendAbortedEvent",
        "SendStartedEvent",
        "SkipEvent",
    ),
    "broadcastio.plugins": ("PluginFailure", "PluginInfo", "PluginManager", "make_plugin_manager"),
    "broadcastio.logs": ("LoggingHooks", "configure_logging", "mask_address", "redact_key"),
}


def test_each_concept_has_its_own_public_module() -> None:
    """Events, the plugin manager and logging live in their modules, not at the top level."""
    for module_name, names in MOVED.items():
        module = importlib.import_module(module_name)
        for name in names:
            assert name in module.__all__, (module_name, name)
            assert name not in broadcastio.__all__, name
            # Former top-level names still resolve, to the same object.
            assert getattr(broadcastio, name) is getattr(module, name)


def test_event_records_live_beside_the_hook_specs() -> None:
    """broadcastio.hookspecs exports the event records its hooks receive."""
    from broadcastio import events, hookspecs

    for name in MOVED["broadcastio.events"]:
        assert getattr(hookspecs, name) is getattr(events, name)


def test_the_top_level_is_what_users_write() -> None:
    """Models, errors, policies, Orchestrator, Provider, hookimpl, Outbox and config loading."""
    for name in (
        "Message",
        "Recipient",
        "DeliveryResult",
        "BroadcastioError",
        "RetryPolicy",
        "BreakerPolicy",
        "HealthPolicy",
        "RateLimit",
        "Orchestrator",
        "Provider",
        "ProviderType",
        "hookimpl",
        "Outbox",
        "load_config",
        "build_orchestrator",
    ):
        assert name in broadcastio.__all__, name


def test_no_public_module_is_named_after_a_stdlib_module() -> None:
    """``import broadcastio.<name>`` never shadows a standard library module's name."""
    package = Path(broadcastio.__file__).parent
    public = {
        path.stem if path.is_file() else path.name
        for path in package.iterdir()
        if (path.suffix == ".py" or (path / "__init__.py").exists()) and not path.name.startswith("_")
    }
    assert {"config", "events", "hookspecs", "logs", "plugins", "testing"} <= public, public
    # broadcastio.http keeps its name: issue 13 names it as the HTTP plumbing's public home.
    clashes = public & set(sys.stdlib_module_names) - {"http"}
    assert not clashes, clashes


def test_config_is_a_subpackage() -> None:
    """broadcastio.config is a package with private modules behind one public face."""
    from broadcastio import config

    assert Path(config.__file__).name == "__init__.py"
    assert config.load_config is broadcastio.load_config
    assert config.ConfigFileError is broadcastio.ConfigFileError


def test_version_comes_from_the_installed_metadata() -> None:
    """__version__ is the distribution's version, not a second hard-coded copy."""
    assert broadcastio.__version__ == importlib.metadata.version("broadcastio")
    assert tuple(int(part) for part in broadcastio.__version__.split(".")[:2]) >= (0, 4)
