"""broadcastio's provider contract, against the local SendGrid stand-in."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from broadcastio.testing.contract import ProviderContract
from broadcastio.testing.servers import closed_port
from broadcastio_sendgrid import SendGridProvider


class TestSendGridContract(ProviderContract):
    @pytest.fixture
    def provider_factory(self, make_provider: Callable[..., SendGridProvider]) -> Callable[[], SendGridProvider]:
        return make_provider

    @pytest.fixture
    def deliverable_address(self, sendgrid: Any) -> str:
        return str(sendgrid.TO)

    @pytest.fixture
    def unreachable_provider_factory(
        self, make_provider: Callable[..., SendGridProvider]
    ) -> Callable[[], SendGridProvider]:
        return lambda: make_provider(base_url=f"http://127.0.0.1:{closed_port()}", timeout=2.0)

    @pytest.fixture
    def secret_values(self, sendgrid: Any) -> tuple[str, ...]:
        return (sendgrid.API_KEY,)
