"""broadcastio's provider contract, through Apprise's json:// service to a local receiver."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from broadcastio.testing.contract import ProviderContract
from broadcastio.testing.servers import closed_port
from broadcastio_apprise import AppriseProvider

SECRET_PATH = "hook-secret-7d1f"


class TestAppriseContract(ProviderContract):
    @pytest.fixture
    def provider_factory(self, json_receiver: Any) -> Callable[[], AppriseProvider]:
        return lambda: AppriseProvider(urls=f"json://{json_receiver.host}/{SECRET_PATH}", timeout=5.0)

    @pytest.fixture
    def deliverable_address(self) -> str:
        return "ops"

    @pytest.fixture
    def unreachable_provider_factory(self) -> Callable[[], AppriseProvider]:
        port = closed_port()
        return lambda: AppriseProvider(urls=f"json://127.0.0.1:{port}/{SECRET_PATH}", timeout=2.0)

    @pytest.fixture
    def secret_values(self) -> tuple[str, ...]:
        return (SECRET_PATH,)
