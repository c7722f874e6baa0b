"""The provider contract for ``ntfy``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from broadcastio.testing.contract import ProviderContract
from broadcastio.testing.servers import closed_port
from broadcastio_ntfy import NtfyProvider


class TestNtfyContract(ProviderContract):
    @pytest.fixture
    def provider_factory(self, ntfy: Any) -> Callable[[], NtfyProvider]:
        return lambda: NtfyProvider(base_url=ntfy.url, token=ntfy.TOKEN, timeout=5.0)

    @pytest.fixture
    def deliverable_address(self, ntfy: Any) -> str:
        return str(ntfy.PROTECTED)

    @pytest.fixture
    def unreachable_provider_factory(self, ntfy: Any) -> Callable[[], NtfyProvider]:
        url = f"http://127.0.0.1:{closed_port()}"
        return lambda: NtfyProvider(base_url=url, token=ntfy.TOKEN, timeout=2.0)

    @pytest.fixture
    def secret_values(self, ntfy: Any) -> tuple[str, ...]:
        return (ntfy.TOKEN,)


class TestNtfyBasicAuthContract(TestNtfyContract):
    @pytest.fixture
    def provider_factory(self, ntfy: Any) -> Callable[[], NtfyProvider]:
        return lambda: NtfyProvider(base_url=ntfy.url, username=ntfy.USER, password=ntfy.PASSWORD, timeout=5.0)

    @pytest.fixture
    def secret_values(self, ntfy: Any) -> tuple[str, ...]:
        return (ntfy.PASSWORD,)
