"""broadcastio's provider contract, against the local Pushover stand-in."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from broadcastio.testing.contract import ProviderContract
from broadcastio.testing.servers import closed_port
from broadcastio_pushover import PushoverProvider


class TestPushoverContract(ProviderContract):
    @pytest.fixture
    def provider_factory(self, make_provider: Callable[..., PushoverProvider]) -> Callable[[], PushoverProvider]:
        return make_provider

    @pytest.fixture
    def deliverable_address(self, pushover: Any) -> str:
        return str(pushover.USER)

    @pytest.fixture
    def unreachable_provider_factory(
        self, make_provider: Callable[..., PushoverProvider]
    ) -> Callable[[], PushoverProvider]:
        return lambda: make_provider(base_url=f"http://127.0.0.1:{closed_port()}", timeout=2.0)

    @pytest.fixture
    def secret_values(self, pushover: Any) -> tuple[str, ...]:
        return (pushover.TOKEN,)
