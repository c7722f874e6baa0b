"""broadcastio's provider contract, against the local Resend stand-in."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from broadcastio.testing.contract import ProviderContract
from broadcastio.testing.servers import closed_port
from broadcastio_resend import ResendProvider


class TestResendContract(ProviderContract):
    @pytest.fixture
    def provider_factory(self, make_provider: Callable[..., ResendProvider]) -> Callable[[], ResendProvider]:
        return make_provider

    @pytest.fixture
    def deliverable_address(self, resend: Any) -> str:
        return str(resend.TO)

    @pytest.fixture
    def unreachable_provider_factory(
        self, make_provider: Callable[..., ResendProvider]
    ) -> Callable[[], ResendProvider]:
        return lambda: make_provider(base_url=f"http://127.0.0.1:{closed_port()}", timeout=2.0)

    @pytest.fixture
    def secret_values(self, resend: Any) -> tuple[str, ...]:
        return (resend.API_KEY,)
