"""broadcastio's provider contract, against the local push service."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from broadcastio.testing.contract import ProviderContract
from broadcastio.testing.servers import closed_port
from broadcastio_webpush import WebPushProvider


class TestWebPushContract(ProviderContract):
    @pytest.fixture
    def provider_factory(self, make_provider: Callable[..., WebPushProvider]) -> Callable[[], WebPushProvider]:
        return make_provider

    @pytest.fixture
    def deliverable_address(self, push_service: Any) -> str:
        return str(push_service.subscribe().subscription())

    @pytest.fixture
    def unreachable_provider_factory(
        self, make_provider: Callable[..., WebPushProvider]
    ) -> Callable[[], WebPushProvider]:
        # Egress through a proxy that is down: nothing reaches the push service.
        dead = f"http://127.0.0.1:{closed_port()}"
        return lambda: make_provider(proxy=dead, health_url=f"{dead}/", timeout=2.0)

    @pytest.fixture
    def secret_values(self, vapid: tuple[str, str]) -> tuple[str, ...]:
        return (vapid[0], vapid[0].splitlines()[1])
