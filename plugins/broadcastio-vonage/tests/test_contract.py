"""broadcastio's provider contract, against the local Vonage stand-in."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from broadcastio.testing.contract import ProviderContract
from broadcastio.testing.servers import closed_port
from broadcastio_vonage import VonageSmsProvider


class TestVonageContract(ProviderContract):
    @pytest.fixture
    def provider_factory(self, make_provider: Callable[..., VonageSmsProvider]) -> Callable[[], VonageSmsProvider]:
        return make_provider

    @pytest.fixture
    def deliverable_address(self, vonage: Any) -> str:
        return str(vonage.TO)

    @pytest.fixture
    def unreachable_provider_factory(
        self, make_provider: Callable[..., VonageSmsProvider]
    ) -> Callable[[], VonageSmsProvider]:
        def make() -> VonageSmsProvider:
            url = f"http://127.0.0.1:{closed_port()}"
            return make_provider(base_url=url, account_url=url, timeout=2.0)

        return make

    @pytest.fixture
    def secret_values(self, vonage: Any) -> tuple[str, ...]:
        return (vonage.API_SECRET,)
