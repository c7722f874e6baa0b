"""broadcastio's provider contract, against the local Postmark stand-in."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from broadcastio.testing.contract import ProviderContract
from broadcastio.testing.servers import closed_port
from broadcastio_postmark import PostmarkProvider


class TestPostmarkContract(ProviderContract):
    @pytest.fixture
    def provider_factory(self, make_provider: Callable[..., PostmarkProvider]) -> Callable[[], PostmarkProvider]:
        return make_provider

    @pytest.fixture
    def deliverable_address(self, postmark: Any) -> str:
        return str(postmark.TO)

    @pytest.fixture
    def unreachable_provider_factory(
        self, make_provider: Callable[..., PostmarkProvider]
    ) -> Callable[[], PostmarkProvider]:
        return lambda: make_provider(base_url=f"http://127.0.0.1:{closed_port()}", timeout=2.0)

    @pytest.fixture
    def secret_values(self, postmark: Any) -> tuple[str, ...]:
        return (postmark.SERVER_TOKEN,)
