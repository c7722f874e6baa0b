"""The provider contract for ``teams``, on a Workflows webhook and a legacy incoming webhook."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from broadcastio.testing.contract import ProviderContract
from broadcastio.testing.servers import closed_port
from broadcastio_teams import TeamsProvider


class TestTeamsWorkflowContract(ProviderContract):
    @pytest.fixture
    def provider_factory(self, teams: Any) -> Callable[[], TeamsProvider]:
        return lambda: TeamsProvider(url=teams.workflow_url, timeout=5.0)

    @pytest.fixture
    def deliverable_address(self) -> str:
        return "ops-channel"

    @pytest.fixture
    def unreachable_provider_factory(self, teams: Any) -> Callable[[], TeamsProvider]:
        url = teams.workflow_url.replace(teams.url, f"http://127.0.0.1:{closed_port()}")
        return lambda: TeamsProvider(url=url, timeout=2.0)

    @pytest.fixture
    def secret_values(self, teams: Any) -> tuple[str, ...]:
        return (teams.SIG, teams.workflow_url)


class TestTeamsLegacyContract(TestTeamsWorkflowContract):
    @pytest.fixture
    def provider_factory(self, teams: Any) -> Callable[[], TeamsProvider]:
        return lambda: TeamsProvider(url=teams.legacy_url, timeout=5.0)

    @pytest.fixture
    def secret_values(self, teams: Any) -> tuple[str, ...]:
        return (teams.LEGACY_PATH, teams.legacy_url)
