"""Construction checks."""

from __future__ import annotations

from typing import Any

import pytest
from broadcastio import ConfigurationError
from broadcastio_telegram import TelegramProvider

TOKEN = "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw"


@pytest.mark.parametrize(
    ("settings", "complaint"),
    [
        ({"token": ""}, "token"),
        ({"token": "AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw"}, "token"),
        ({"token": TOKEN + "/x"}, "token"),
        ({"token": TOKEN, "parse_mode": "rst"}, "parse_mode"),
        ({"token": TOKEN, "base_url": "api.telegram.org"}, "base_url"),
        ({"token": TOKEN, "timeout": -1}, "timeout"),
    ],
)
def test_bad_settings_raise_naming_the_setting(settings: dict[str, Any], complaint: str) -> None:
    """Each wrong setting raises ConfigurationError naming it."""
    with pytest.raises(ConfigurationError, match=complaint):
        TelegramProvider(**settings)


@pytest.mark.parametrize(("given", "kept"), [("html", "HTML"), ("MarkdownV2", "MarkdownV2"), ("markdown", "Markdown")])
def test_parse_mode_is_normalized(given: str, kept: str) -> None:
    """parse_mode is case-insensitive and kept as Telegram spells it."""
    assert TelegramProvider(token=TOKEN, parse_mode=given).parse_mode == kept


def test_defaults() -> None:
    """Named after its type, plain text, api.telegram.org, not idempotent."""
    provider = TelegramProvider(token=TOKEN)
    assert provider.name == "telegram"
    assert provider.channel == "telegram"
    assert provider.parse_mode is None
    assert provider.base_url == "https://api.telegram.org"
    assert provider.idempotent is False
