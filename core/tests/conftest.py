"""Shared fixtures for core tests: fake clock, isolated plugins, a quick orchestrator,
and the outbox targets (a SQLite file, a fresh database of one session-wide PostgreSQL server)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from broadcastio import BreakerPolicy, HealthPolicy, Orchestrator, RetryPolicy
from broadcastio.testing import FakeClock, isolated_plugin_manager
from broadcastio.testing.services import PostgresServer, postgres_server

OUTBOX_TARGETS = ["sqlite", "postgres"]


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PostgresServer]:
    """One real PostgreSQL server for the whole session (fails loudly when the package is missing)."""
    with postgres_server() as server:
        yield server


@pytest.fixture(params=OUTBOX_TARGETS)
def outbox_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Where a test's outbox lives: a SQLite file, or a fresh PostgreSQL database (its DSN).

    Every test taking this fixture runs once per database.
    """
    if request.param == "sqlite":
        return str(tmp_path / "outbox.db")
    server: PostgresServer = request.getfixturevalue("pg_server")
    return server.database()


@pytest.fixture
def pg_url(pg_server: PostgresServer) -> str:
    """A fresh database of the session's PostgreSQL server, for PostgreSQL-only tests."""
    return pg_server.database()


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
