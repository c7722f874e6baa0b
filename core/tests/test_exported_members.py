"""The public API is exactly what __all__ says, sorted, and importable."""

from __future__ import annotations

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
