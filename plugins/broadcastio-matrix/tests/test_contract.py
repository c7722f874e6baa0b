"""The provider contract for ``matrix``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from broadcastio.testing.contract import ProviderContract
from broadcastio.testing.servers import closed_port
from broadcastio_matrix import MatrixProvider


class TestMatrixContract(ProviderContract):
    @pytest.fixture
    def provider_factory(self, homeserver: Any) -> Callable[[], MatrixProvider]:
        return lambda: MatrixProvider(homeserver=homeserver.url, access_token=homeserver.TOKEN, timeout=5.0)

    @pytest.fixture
    def deliverable_address(self, homeserver: Any) -> str:
        return str(homeserver.ROOM)

    @pytest.fixture
    def unreachable_provider_factory(self, homeserver: Any) -> Callable[[], MatrixProvider]:
        url = f"http://127.0.0.1:{closed_port()}"
        return lambda: MatrixProvider(homeserver=url, access_token=homeserver.TOKEN, timeout=2.0)

    @pytest.fixture
    def secret_values(self, homeserver: Any) -> tuple[str, ...]:
        return (homeserver.TOKEN,)
