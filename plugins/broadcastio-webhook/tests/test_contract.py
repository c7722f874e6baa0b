"""broadcastio's provider contract, against a real local receiver."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from broadcastio.testing.contract import ProviderContract
from broadcastio.testing.servers import closed_port
from broadcastio_webhook import WebhookProvider

SECRET = "contract-secret-value"
TOKEN = "Bearer contract-token"


class TestWebhookContract(ProviderContract):
    @pytest.fixture
    def provider_factory(self, receiver) -> Callable[[], WebhookProvider]:
        return lambda: WebhookProvider(url=receiver.url, secret=SECRET, headers={"Authorization": TOKEN})

    @pytest.fixture
    def deliverable_address(self) -> str:
        return "ops-team"

    @pytest.fixture
    def unreachable_provider_factory(self) -> Callable[[], WebhookProvider]:
        port = closed_port()
        return lambda: WebhookProvider(url=f"http://127.0.0.1:{port}/hook", timeout=2.0)

    @pytest.fixture
    def secret_values(self) -> tuple[str, ...]:
        return (SECRET, TOKEN)
