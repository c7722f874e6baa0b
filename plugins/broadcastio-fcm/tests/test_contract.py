"""broadcastio's provider contract, against local Google token and FCM stand-ins."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from broadcastio.testing.contract import ProviderContract
from broadcastio.testing.servers import closed_port
from broadcastio_fcm import FcmProvider


class TestFcmContract(ProviderContract):
    @pytest.fixture
    def provider_factory(self, make_provider: Callable[..., FcmProvider]) -> Callable[[], FcmProvider]:
        return make_provider

    @pytest.fixture
    def deliverable_address(self, google: Any) -> str:
        return str(google.DEVICE)

    @pytest.fixture
    def unreachable_provider_factory(
        self, make_provider: Callable[..., FcmProvider], key_info: dict[str, str]
    ) -> Callable[[], FcmProvider]:
        dead = f"http://127.0.0.1:{closed_port()}"
        info = {**key_info, "token_uri": f"{dead}/token"}
        return lambda: make_provider(service_account_info=info, base_url=dead, timeout=2.0)

    @pytest.fixture
    def secret_values(self, key_info: dict[str, str]) -> tuple[str, ...]:
        body = key_info["private_key"].splitlines()[1]
        return (key_info["private_key"], body, key_info["private_key_id"])
