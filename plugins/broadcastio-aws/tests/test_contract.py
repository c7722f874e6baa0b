"""broadcastio's provider contract for ``ses`` and ``sns``, against signature-checking local fakes."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from broadcastio.testing.contract import ProviderContract
from broadcastio.testing.servers import closed_port
from broadcastio_aws import SesProvider, SnsProvider


class TestSesContract(ProviderContract):
    @pytest.fixture
    def provider_factory(self, make_ses: Callable[..., SesProvider]) -> Callable[[], SesProvider]:
        return make_ses

    @pytest.fixture
    def deliverable_address(self, ses: Any) -> str:
        return str(ses.TO)

    @pytest.fixture
    def unreachable_provider_factory(self, make_ses: Callable[..., SesProvider]) -> Callable[[], SesProvider]:
        return lambda: make_ses(endpoint_url=f"http://127.0.0.1:{closed_port()}", timeout=2.0)

    @pytest.fixture
    def secret_values(self, aws_keys: Any) -> tuple[str, ...]:
        return (aws_keys.SECRET_KEY,)


class TestSesWithSessionTokenContract(TestSesContract):
    """Temporary credentials: the session token is signed, sent, and hidden."""

    @pytest.fixture
    def provider_factory(self, make_ses: Callable[..., SesProvider], aws_keys: Any) -> Callable[[], SesProvider]:
        return lambda: make_ses(
            access_key_id=aws_keys.TEMP_ACCESS_KEY,
            secret_access_key=aws_keys.TEMP_SECRET_KEY,
            session_token=aws_keys.SESSION_TOKEN,
        )

    @pytest.fixture
    def secret_values(self, aws_keys: Any) -> tuple[str, ...]:
        return (aws_keys.TEMP_SECRET_KEY, aws_keys.SESSION_TOKEN)


class TestSnsContract(ProviderContract):
    @pytest.fixture
    def provider_factory(self, make_sns: Callable[..., SnsProvider]) -> Callable[[], SnsProvider]:
        return make_sns

    @pytest.fixture
    def deliverable_address(self, sns: Any) -> str:
        return str(sns.PHONE)

    @pytest.fixture
    def unreachable_provider_factory(self, make_sns: Callable[..., SnsProvider]) -> Callable[[], SnsProvider]:
        return lambda: make_sns(endpoint_url=f"http://127.0.0.1:{closed_port()}", timeout=2.0)

    @pytest.fixture
    def secret_values(self, aws_keys: Any) -> tuple[str, ...]:
        return (aws_keys.SECRET_KEY,)
