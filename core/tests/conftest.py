"""Shared fixtures for core tests: fake clock, isolated plugins, a quick orchestrator."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from broadcastio import BreakerPolicy, HealthPolicy, Orchestrator, RetryPolicy
from broadcastio.testing import FakeClock, isolated_plugin_manager


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def make_orchestrator(clock: FakeClock) -> Callable[..., Orchestrator]:
    """Build an orchestrator on the fake clock with no installed plugins."""

    def build(providers: list[Any], **options: Any) -> Orchestrator:
        options.setdefault("plugin_manager", isolated_plugin_manager())
        options.setdefault("clock", clock)
        return Orchestrator(providers, **options)

    return build


__all__ = ["BreakerPolicy", "HealthPolicy", "RetryPolicy"]


@pytest.fixture
def outbox_url(tmp_path: Any) -> str:
    """Where the campaign-operations tests keep their outbox: the one place to point them at
    another store (a PostgreSQL DSN) once the outbox takes one."""
    return str(tmp_path / "campaign-ops.db")
