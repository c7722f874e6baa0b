"""The provider contract for ``slack`` and ``slack-webhook``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from broadcastio.testing.contract import ProviderContract
from broadcastio.testing.servers import closed_port
from broadcastio_slack import SlackProvider, SlackWebhookProvider


class TestSlackContract(ProviderContract):
    @pytest.fixture
    def provider_factory(self, slack: Any) -> Callable[[], SlackProvider]:
        return lambda: SlackProvider(token=slack.TOKEN, base_url=slack.api_url, timeout=5.0)

    @pytest.fixture
    def deliverable_address(self, slack: Any) -> str:
        return str(slack.CHANNEL)

    @pytest.fixture
    def unreachable_provider_factory(self, slack: Any) -> Callable[[], SlackProvider]:
        url = f"http://127.0.0.1:{closed_port()}/api"
        return lambda: SlackProvider(token=slack.TOKEN, base_url=url, timeout=2.0)

    @pytest.fixture
    def secret_values(self, slack: Any) -> tuple[str, ...]:
        return (slack.TOKEN,)


class TestSlackWebhookContract(ProviderContract):
    @pytest.fixture
    def provider_factory(self, slack: Any) -> Callable[[], SlackWebhookProvider]:
        return lambda: SlackWebhookProvider(url=slack.hook_url, timeout=5.0)

    @pytest.fixture
    def deliverable_address(self) -> str:
        return "ops-channel"

    @pytest.fixture
    def unreachable_provider_factory(self, slack: Any) -> Callable[[], SlackWebhookProvider]:
        url = f"http://127.0.0.1:{closed_port()}{slack.HOOK_PATH}"
        return lambda: SlackWebhookProvider(url=url, timeout=2.0)

    @pytest.fixture
    def secret_values(self, slack: Any) -> tuple[str, ...]:
        return (slack.hook_url, slack.HOOK_PATH, slack.HOOK_PATH.rsplit("/", 1)[1])
