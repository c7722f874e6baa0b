"""broadcastio's provider contract, against the local Mailgun stand-in."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from broadcastio.testing.contract import ProviderContract
from broadcastio.testing.servers import closed_port
from broadcastio_mailgun import MailgunProvider


class TestMailgunContract(ProviderContract):
    @pytest.fixture
    def provider_factory(self, make_provider: Callable[..., MailgunProvider]) -> Callable[[], MailgunProvider]:
        return make_provider

    @pytest.fixture
    def deliverable_address(self, mailgun: Any) -> str:
        return str(mailgun.TO)

    @pytest.fixture
    def unreachable_provider_factory(
        self, make_provider: Callable[..., MailgunProvider]
    ) -> Callable[[], MailgunProvider]:
        return lambda: make_provider(base_url=f"http://127.0.0.1:{closed_port()}", timeout=2.0)

    @pytest.fixture
    def secret_values(self, mailgun: Any) -> tuple[str, ...]:
        return (mailgun.API_KEY,)
