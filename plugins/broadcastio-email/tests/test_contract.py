"""The provider contract suite, against a real aiosmtpd server that requires AUTH."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from broadcastio.testing.contract import ProviderContract
from broadcastio.testing.servers import closed_port
from broadcastio_email import EmailProvider

from .conftest import FROM, PASSWORD, TO, USERNAME, ServerFactory


class TestEmailContract(ProviderContract):
    @pytest.fixture
    def provider_factory(self, smtp_server_factory: ServerFactory) -> Callable[[], EmailProvider]:
        server = smtp_server_factory(auth=True)
        return lambda: EmailProvider(
            host="127.0.0.1",
            port=server.port,
            tls="none",
            username=USERNAME,
            password=PASSWORD,
            from_address=FROM,
            local_hostname="client.test",
        )

    @pytest.fixture
    def deliverable_address(self) -> str:
        return TO

    @pytest.fixture
    def unreachable_provider_factory(self) -> Callable[[], EmailProvider]:
        port = closed_port()
        return lambda: EmailProvider(
            host="127.0.0.1", port=port, tls="none", from_address=FROM, local_hostname="client.test", health_timeout=2
        )

    @pytest.fixture
    def secret_values(self) -> tuple[str, ...]:
        return (PASSWORD,)
