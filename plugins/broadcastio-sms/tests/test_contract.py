"""The provider contract and plugin discovery for ``sms``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from broadcastio.plugins import make_plugin_manager
from broadcastio.testing.contract import ProviderContract
from broadcastio.testing.servers import closed_port
from broadcastio_sms import TwilioSmsProvider


class TestTwilioSmsContract(ProviderContract):
    """TwilioSmsProvider against a local Twilio stand-in."""

    @pytest.fixture
    def provider_factory(self, make_provider: Callable[..., TwilioSmsProvider]) -> Callable[[], TwilioSmsProvider]:
        return make_provider

    @pytest.fixture
    def deliverable_address(self) -> str:
        return "+14155552671"

    @pytest.fixture
    def unreachable_provider_factory(
        self, make_provider: Callable[..., TwilioSmsProvider]
    ) -> Callable[[], TwilioSmsProvider]:
        return lambda: make_provider(base_url=f"http://127.0.0.1:{closed_port()}", timeout=2.0)

    @pytest.fixture
    def secret_values(self, twilio: Any) -> tuple[str, ...]:
        return (twilio.AUTH_TOKEN,)


class TestDiscovery:
    def test_entry_point_registers_the_sms_type(self, twilio: Any) -> None:
        """The installed entry point registers ``sms`` and builds a provider from settings."""
        manager = make_plugin_manager(env={"BROADCASTIO_PLUGINS": "sms"})
        types = manager.provider_types()
        assert "sms" in types
        assert types["sms"].channel == "sms"
        provider = manager.create_provider(
            "sms",
            name="twilio-eu",
            account_sid=twilio.ACCOUNT_SID,
            auth_token=twilio.AUTH_TOKEN,
            from_number=twilio.FROM_NUMBER,
        )
        assert isinstance(provider, TwilioSmsProvider)
        assert provider.name == "twilio-eu"
        assert provider.channel == "sms"
